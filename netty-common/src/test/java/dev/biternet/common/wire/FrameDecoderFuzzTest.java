package dev.biternet.common.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ResourceLeakDetector;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The decoder against {@value #DEFAULT_INPUTS} generated inputs per run: valid streams, valid
 * streams with bytes flipped, cut short or spliced with junk, and pure junk, each fed in random
 * chunks to a client or server decoder. Every input must give valid frames, or valid frames
 * then one {@code BAD_FRAME} and nothing after it; no other exception may escape; every
 * buffer fed in and every piece run handed out must end with a reference count of 0.
 *
 * <p>Netty's PARANOID leak detector makes this ~60x slower, so this test lowers it to DISABLED
 * for its own run and counts references itself (which also catches a buffer held by the
 * decoder, not only one lost to the garbage collector). A longer run:
 * {@code ./mvnw -B -pl netty-common -am verify -Dtest=FrameDecoderFuzzTest
 * -Dsurefire.failIfNoSpecifiedTests=false -Dbiternet.fuzz.inputs=10000000 -Dbiternet.fuzz.seed=42}.
 */
class FrameDecoderFuzzTest {
    static final int DEFAULT_INPUTS = 100_000;
    private static final int INPUTS = Integer.getInteger("biternet.fuzz.inputs", DEFAULT_INPUTS);
    private static final long SEED = Long.getLong("biternet.fuzz.seed", 20261124L);
    private ResourceLeakDetector.Level before;

    @BeforeEach
    void lighterLeakDetection() {
        before = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }

    @AfterEach
    void restoreLeakDetection() {
        ResourceLeakDetector.setLevel(before);
    }

    /** What one input did. */
    private static final class Outcome {
        final List<Object> events = new ArrayList<>();
        ProtocolException failure;
    }

    @Test
    void everyInputGivesValidFramesOrOneBadFrameAndLeaksNothing() {
        SplittableRandom seeds = new SplittableRandom(SEED);
        int valid = 0;
        int rejected = 0;
        for (int n = 0; n < INPUTS; n++) {
            long seed = seeds.nextLong();
            SplittableRandom rnd = new SplittableRandom(seed);
            boolean client = rnd.nextBoolean();
            List<Object> expected = new ArrayList<>();
            byte[] input = input(rnd, client, expected);
            boolean intact = expected != null && !expected.isEmpty() && rnd.nextInt(3) != 0;
            if (!intact) {
                input = mutate(rnd, input);
            }
            try {
                Outcome o = decode(input, cuts(rnd, input.length), client);
                List<Object> frames = checkFrames(o.events, client);
                if (intact) {
                    assertThat(o.failure).as("a valid stream raised").isNull();
                    assertThat(frames).isEqualTo(expected);
                }
                if (o.failure != null) {
                    rejected++;
                } else {
                    valid++;
                }
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("input " + n + " (seed " + seed + ", " + input.length + " bytes): " + e, e);
            }
        }
        assertThat(valid + rejected).isEqualTo(INPUTS);
        // Both outcomes must be common, or the generator has drifted into testing only one path.
        assertThat(rejected).as("inputs rejected").isGreaterThan(INPUTS / 10);
        assertThat(valid).as("inputs decoded without error").isGreaterThan(INPUTS / 10);
    }

    /** Feeds {@code input} in chunks ending at {@code cuts}, then closes; checks the rules and the reference counts. */
    private static Outcome decode(byte[] input, int[] cuts, boolean client) {
        TrackingAllocator alloc = new TrackingAllocator();
        EmbeddedChannel ch = new EmbeddedChannel(client ? FrameDecoder.forClient() : FrameDecoder.forServer());
        ch.config().setAllocator(alloc);
        Outcome o = new Outcome();
        List<ByteBuf> fed = alloc.buffers;
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : input.length;
            ByteBuf buf = alloc.heapBuffer(to - from).writeBytes(input, from, to - from);
            step(o, () -> ch.writeInbound(buf), ch);
            from = to;
        }
        step(o, ch::finish, ch);
        for (ByteBuf buf : fed) {
            assertThat(buf.refCnt()).as("reference count after close of a buffer fed in or allocated by the decoder").isZero();
        }
        return o;
    }

    private static void step(Outcome o, Runnable action, EmbeddedChannel ch) {
        int before = o.events.size();
        Throwable thrown = null;
        try {
            action.run();
        } catch (Throwable t) {
            thrown = t;
        }
        for (Object msg; (msg = ch.readInbound()) != null; ) {
            if (msg instanceof PieceData data) {
                byte[] copy = new byte[data.content().readableBytes()];
                data.content().getBytes(data.content().readerIndex(), copy);
                o.events.add(new Run(copy, data.isLast()));
                data.release();
            } else {
                o.events.add(msg);
            }
        }
        if (o.failure != null) {
            assertThat(thrown).as("exception after the decoder failed").isNull();
            assertThat(o.events).as("frames after the decoder failed").hasSize(before);
        } else if (thrown != null) {
            if (!(thrown instanceof ProtocolException p)) {
                throw new AssertionError("escaped " + thrown, thrown);
            }
            assertThat(p.code()).isEqualTo(Error.Code.BAD_FRAME);
            assertThat(p.getMessage()).isNotBlank().doesNotContain("\n");
            o.failure = p;
        }
    }

    private record Run(byte[] bytes, boolean last) {}

    /** Remembers every buffer it hands out (the inputs, and the decoder's cumulation buffers). */
    private static final class TrackingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> buffers = new ArrayList<>();

        TrackingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
            buffers.add(b);
            return b;
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            return newHeapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }

    /** A piece as the receiver sees it: its header and its body joined from the runs. */
    private record Piece(PieceHeader header, ByteString body) {}

    /** Checks frame order and bodies (runs only after a header, up to its length) and joins them. */
    private static List<Object> checkFrames(List<Object> events, boolean client) {
        List<Object> frames = new ArrayList<>();
        PieceHeader open = null;
        ByteArrayOutputStream body = null;
        for (Object e : events) {
            if (e instanceof Run run) {
                assertThat(open).as("piece bytes without a header").isNotNull();
                body.writeBytes(run.bytes());
                assertThat((long) body.size()).as("piece bytes beyond the header's length")
                        .isLessThanOrEqualTo(Integer.toUnsignedLong(open.getLength()));
                if (run.last()) {
                    assertThat((long) body.size()).isEqualTo(Integer.toUnsignedLong(open.getLength()));
                    frames.add(new Piece(open, ByteString.copyFrom(body.toByteArray())));
                    open = null;
                }
            } else {
                assertThat(open).as("a frame inside a piece body").isNull();
                if (e instanceof PieceHeader h) {
                    assertThat(client).as("a piece frame on the server").isTrue();
                    assertThat(Integer.toUnsignedLong(h.getLength())).isBetween(1L, (long) Frames.MAX_PIECE_SIZE);
                    open = h;
                    body = new ByteArrayOutputStream();
                } else {
                    assertThat(e).isInstanceOf(Envelope.class);
                    assertThat(((Envelope) e).getBodyCase()).isNotEqualTo(Envelope.BodyCase.BODY_NOT_SET);
                    frames.add(e);
                }
            }
        }
        return frames;
    }

    // ---------------------------------------------------------------- generation

    /** One to six valid frames; their decoded form goes to {@code expected}. */
    private static byte[] input(SplittableRandom rnd, boolean client, List<Object> expected) {
        if (rnd.nextInt(8) == 0) {
            return bytes(rnd, rnd.nextInt(0, 64));
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int frames = rnd.nextInt(1, 7);
        for (int i = 0; i < frames; i++) {
            if (client && rnd.nextInt(3) == 0) {
                byte[] body = bytes(rnd, rnd.nextInt(1, rnd.nextBoolean() ? 16 : 3000));
                PieceHeader h = PieceHeader.newBuilder().setIndex(rnd.nextInt()).setOffset(rnd.nextLong())
                        .setLength(body.length).build();
                out.writeBytes(DecoderHarness.piece(h, body));
                expected.add(new Piece(h, ByteString.copyFrom(body)));
            } else {
                Envelope e = envelope(rnd);
                out.writeBytes(DecoderHarness.control(e));
                expected.add(e);
            }
        }
        return out.toByteArray();
    }

    private static Envelope envelope(SplittableRandom rnd) {
        Envelope.Builder b = Envelope.newBuilder();
        ByteString blob = ByteString.copyFrom(bytes(rnd, rnd.nextInt(0, 80)));
        switch (rnd.nextInt(8)) {
            case 0 -> b.setHello(Hello.newBuilder().setProtocolVersion(rnd.nextInt()).setAgent("a" + rnd.nextInt()).setToken(blob));
            case 1 -> b.setOpenSession(OpenSession.newBuilder().setPath("dir/" + rnd.nextLong()));
            case 2 -> b.setSessionOpened(SessionOpened.newBuilder().setSessionId(blob).setFileSize(rnd.nextLong())
                    .setPieceSize(rnd.nextInt()).setPieceCount(rnd.nextInt()).setAttachSecret(blob)
                    .setHashes(PieceHashes.newBuilder().setDigests(blob)));
            case 3 -> b.setAttach(Attach.newBuilder().setSessionId(blob).setSecret(blob).setWindow(rnd.nextInt())
                    .setCapBytes(rnd.nextLong()).setLinkName("l"));
            case 4 -> b.setCredit(Credit.newBuilder().setWindow(rnd.nextInt()));
            case 5 -> b.setAck(Ack.newBuilder().setIndex(rnd.nextInt()).setOk(rnd.nextBoolean()));
            case 6 -> b.setPieceHashes(PieceHashes.newBuilder().setFirstIndex(rnd.nextInt()).setDigests(blob).setRootHash(blob));
            default -> b.setError(Error.newBuilder().setCodeValue(rnd.nextInt(0, 13)).setMessage("m" + rnd.nextInt()));
        }
        return b.build();
    }

    /** Flips bytes, cuts the stream short, splices in junk or a hostile header, or several of these. */
    private static byte[] mutate(SplittableRandom rnd, byte[] in) {
        byte[] b = in;
        int rounds = rnd.nextInt(1, 4);
        for (int r = 0; r < rounds; r++) {
            switch (rnd.nextInt(5)) {
                case 0 -> {
                    if (b.length > 0) {
                        b = b.clone();
                        b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
                    }
                }
                case 1 -> b = java.util.Arrays.copyOf(b, rnd.nextInt(0, b.length + 1));
                case 2 -> b = splice(b, rnd.nextInt(0, b.length + 1), bytes(rnd, rnd.nextInt(1, 12)));
                case 3 -> {
                    long length = switch (rnd.nextInt(4)) {
                        case 0 -> 0;
                        case 1 -> Frames.MAX_FRAME_LENGTH + 1L;
                        case 2 -> 0xFFFF_FFFFL;
                        default -> rnd.nextLong(1, 64);
                    };
                    b = splice(b, rnd.nextInt(0, b.length + 1), DecoderHarness.raw(length, rnd.nextInt(0, 4)));
                }
                default -> {
                    if (b.length > 0) {
                        b = b.clone();
                        b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
                    }
                }
            }
        }
        return b;
    }

    private static byte[] splice(byte[] b, int at, byte[] insert) {
        return DecoderHarness.concat(java.util.Arrays.copyOfRange(b, 0, at), insert, java.util.Arrays.copyOfRange(b, at, b.length));
    }

    private static int[] cuts(SplittableRandom rnd, int length) {
        int[] cuts = new int[rnd.nextInt(0, 5)];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = rnd.nextInt(0, length + 1);
        }
        java.util.Arrays.sort(cuts);
        return cuts;
    }

    private static byte[] bytes(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
