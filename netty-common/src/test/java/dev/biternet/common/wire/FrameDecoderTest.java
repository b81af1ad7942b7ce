package dev.biternet.common.wire;

import static dev.biternet.common.wire.DecoderHarness.assemble;
import static dev.biternet.common.wire.DecoderHarness.concat;
import static dev.biternet.common.wire.DecoderHarness.control;
import static dev.biternet.common.wire.DecoderHarness.piece;
import static dev.biternet.common.wire.DecoderHarness.raw;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.booleans;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;
import static org.quicktheories.generators.SourceDSL.longs;
import static org.quicktheories.generators.SourceDSL.strings;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.DecoderHarness.Body;
import dev.biternet.common.wire.DecoderHarness.Run;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Attached;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Welcome;
import io.netty.handler.codec.DecoderException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.quicktheories.api.Pair;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class FrameDecoderTest {
    private static final Envelope HELLO = Envelope.newBuilder()
            .setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("biternet-test/1"))
            .build();

    // ---------------------------------------------------------------- valid input, fixed cases

    @Test
    void controlFrameRoundTrips() {
        byte[] wire = control(HELLO);
        byte[] message = HELLO.toByteArray();
        assertThat(wire).hasSize(Frames.HEADER_BYTES + message.length);

        for (Supplier<FrameDecoder> side : List.<Supplier<FrameDecoder>>of(FrameDecoder::forClient, FrameDecoder::forServer)) {
            try (DecoderHarness h = new DecoderHarness(side.get())) {
                assertThat(h.feed(wire)).isNull();
                assertThat(h.events()).containsExactly(HELLO);
            }
        }
    }

    @Test
    void pieceFrameYieldsHeaderThenItsBody() {
        byte[] body = bytes(10_000, 1);
        PieceHeader header = PieceHeader.newBuilder().setIndex(3).setOffset(3L << 20).setLength(body.length).build();
        byte[] wire = concat(piece(header, body), control(HELLO));

        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            assertThat(h.feed(wire)).isNull();
            assertThat(h.events()).containsExactly(header, new Run(ByteString.copyFrom(body), true), HELLO);
        }
    }

    @Test
    void nothingOfAReadIsPassedOnOnceAHandlerClosedTheChannel() {
        byte[] body = bytes(5_000, 2);
        PieceHeader header = PieceHeader.newBuilder().setIndex(1).setOffset(0).setLength(body.length).build();
        List<Object> seen = new ArrayList<>();
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel(FrameDecoder.forClient(),
                new io.netty.channel.ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                        seen.add(msg instanceof PieceHeader ? msg : msg.getClass().getSimpleName());
                        io.netty.util.ReferenceCountUtil.release(msg);
                        if (msg instanceof PieceHeader) {
                            ctx.close(); // refused: what follows in this read is not the handler's
                        }
                    }
                });
        ch.writeInbound(io.netty.buffer.Unpooled.wrappedBuffer(concat(piece(header, body), control(HELLO))));
        assertThat(seen).containsExactly(header);
        assertThat(ch.isOpen()).isFalse();
        ch.finishAndReleaseAll();
    }

    @Test
    void bodySplitOverReadsComesOutAsRunsWithOnlyTheFinalOneLast() {
        byte[] body = bytes(3_000, 2);
        PieceHeader header = PieceHeader.newBuilder().setIndex(0).setLength(body.length).build();
        byte[] wire = piece(header, body);
        int bodyStart = wire.length - body.length;

        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            h.feedAll(wire, new int[] {bodyStart, bodyStart + 1, bodyStart + 1000});
            assertThat(h.events()).containsExactly(
                    header,
                    new Run(ByteString.copyFrom(body, 0, 1), false),
                    new Run(ByteString.copyFrom(body, 1, 999), false),
                    new Run(ByteString.copyFrom(body, 1000, 2000), true));
        }
    }

    @Test
    void inputFedOneByteAtATimeDecodesTheSame() {
        byte[] body = bytes(40, 3);
        PieceHeader header = PieceHeader.newBuilder().setIndex(7).setOffset(280).setLength(body.length).build();
        Envelope credit = Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(4)).build();
        byte[] wire = concat(control(HELLO), piece(header, body), control(credit));

        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            for (int i = 0; i < wire.length; i++) {
                assertThat(h.feed(wire, i, i + 1)).isNull();
            }
            assertThat(assemble(h.events(), true)).containsExactly(HELLO, header, new Body(ByteString.copyFrom(body)), credit);
        }
    }

    @Test
    void pieceOfExactlyTheLimitIsAccepted() {
        byte[] body = bytes(1024, 4);
        PieceHeader header = PieceHeader.newBuilder().setLength(1024).build();
        try (DecoderHarness h = new DecoderHarness(new FrameDecoder(true, 1024))) {
            assertThat(h.feed(piece(header, body))).isNull();
            assertThat(assemble(h.events(), true)).containsExactly(header, new Body(ByteString.copyFrom(body)));
        }
    }

    @Test
    void controlFrameOfExactlyMaxFrameLengthIsAccepted() {
        Envelope largest = envelopeOfSerializedSize(Frames.MAX_FRAME_LENGTH - 1);
        byte[] wire = control(largest);
        assertThat(wire).hasSize(4 + Frames.MAX_FRAME_LENGTH);

        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forServer())) {
            h.feedAll(wire, new int[] {3, 5, 1 << 19});
            assertThat(h.events()).containsExactly(largest);
        }
    }

    @Test
    void floodOfTinyFramesDecodesEveryOne() {
        int count = 100_000;
        byte[] one = control(HELLO);
        byte[] wire = new byte[one.length * count];
        for (int i = 0; i < count; i++) {
            System.arraycopy(one, 0, wire, i * one.length, one.length);
        }
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forServer())) {
            assertThat(h.feed(wire)).isNull();
            assertThat(h.events()).hasSize(count).allMatch(HELLO::equals);
        }
    }

    // A file's pieces are never empty, so a zero-length piece header is a broken frame.
    @Test
    void zeroLengthPieceIsRejected() {
        PieceHeader empty = PieceHeader.newBuilder().setIndex(9).setOffset(100).setLength(0).build();
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            Throwable thrown = h.feed(concat(control(HELLO), piece(empty, new byte[0]), control(HELLO)));
            assertThat(thrown).isInstanceOf(ProtocolException.class).hasMessage("empty piece 9");
            assertThat(h.events()).containsExactly(HELLO);
        }
    }

    // ---------------------------------------------------------------- valid input, properties

    @Test
    void anyValidStreamCutAnywhereDecodesToTheSameFramesOnTheClient() {
        qt().withExamples(150)
                .forAll(lists().of(anyFrame(true)).ofSizeBetween(0, 12), cutPoints())
                .checkAssert(FrameDecoderTest::decodesIdentically);
    }

    @Test
    void anyControlStreamCutAnywhereDecodesToTheSameFramesOnTheServer() {
        qt().withExamples(200)
                .forAll(lists().of(anyFrame(false)).ofSizeBetween(0, 30), cutPoints())
                .checkAssert(FrameDecoderTest::decodesIdentically);
    }

    private static void decodesIdentically(List<WireFrame> frames, List<Integer> cutSeeds) {
        boolean client = frames.stream().anyMatch(f -> f.header() != null);
        byte[] wire = concat(frames.stream().map(WireFrame::bytes).toArray(byte[][]::new));
        List<Object> expected = new ArrayList<>();
        frames.forEach(f -> f.expect(expected));

        try (DecoderHarness h = new DecoderHarness(client ? FrameDecoder.forClient() : FrameDecoder.forServer())) {
            h.feedAll(wire, cuts(cutSeeds, wire.length));
            assertThat(assemble(h.events(), true)).isEqualTo(expected);
        }
    }

    // ---------------------------------------------------------------- hostile input, fixed cases

    static Stream<Arguments> brokenFrames() {
        byte[] hugePiece = PieceHeader.newBuilder().setLength(-1).build().toByteArray();
        byte[] tooLongPiece = PieceHeader.newBuilder().setLength(Frames.MAX_PIECE_SIZE + 1).build().toByteArray();
        byte[] validPiece = PieceHeader.newBuilder().setIndex(1).setLength(16).build().toByteArray();
        byte[] slightlyLongPiece = PieceHeader.newBuilder().setLength(1025).build().toByteArray();
        Supplier<FrameDecoder> client = FrameDecoder::forClient;
        Supplier<FrameDecoder> server = FrameDecoder::forServer;
        return Stream.of(
                Arguments.of("length 0", server, raw(0, Frames.TYPE_CONTROL),
                        "frame length 0 outside 1..1048576"),
                Arguments.of("length 0 (client)", client, raw(0, Frames.TYPE_PIECE),
                        "frame length 0 outside 1..1048576"),
                Arguments.of("length just over the limit", server, raw(Frames.MAX_FRAME_LENGTH + 1, Frames.TYPE_CONTROL),
                        "frame length 1048577 outside 1..1048576"),
                Arguments.of("length 0xFFFFFFFF", client, raw(0xFFFF_FFFFL, Frames.TYPE_CONTROL),
                        "frame length 4294967295 outside 1..1048576"),
                Arguments.of("length 0x80000000", server, raw(0x8000_0000L, Frames.TYPE_CONTROL),
                        "frame length 2147483648 outside 1..1048576"),
                Arguments.of("type 0", server, raw(3, 0, (byte) 0x0a, (byte) 0),
                        "unknown frame type 0"),
                Arguments.of("type 3", client, raw(3, 3, (byte) 0x0a, (byte) 0),
                        "unknown frame type 3"),
                Arguments.of("type 0x81", client, raw(1, 0x81),
                        "unknown frame type"),
                Arguments.of("empty envelope", server, raw(1, Frames.TYPE_CONTROL),
                        "control frame without a known message"),
                Arguments.of("envelope with only an unknown field", server, raw(3, Frames.TYPE_CONTROL, (byte) 0x70, (byte) 1),
                        "control frame without a known message"),
                Arguments.of("truncated envelope", server, raw(4, Frames.TYPE_CONTROL, (byte) 0x0a, (byte) 0x7f, (byte) 1),
                        "malformed message: "),
                Arguments.of("invalid wire type", client, raw(3, Frames.TYPE_CONTROL, (byte) 0x0f, (byte) 1),
                        "malformed message: "),
                Arguments.of("zero tag", server, raw(3, Frames.TYPE_CONTROL, (byte) 0, (byte) 0),
                        "malformed message: "),
                Arguments.of("truncated piece header", client, raw(2, Frames.TYPE_PIECE, (byte) 0x08),
                        "malformed message: "),
                Arguments.of("piece frame sent to the server", server, raw(1 + validPiece.length, Frames.TYPE_PIECE, validPiece),
                        "piece frames are not accepted here"),
                Arguments.of("piece just over MAX_PIECE_SIZE", client, raw(1 + tooLongPiece.length, Frames.TYPE_PIECE, tooLongPiece),
                        "piece of " + (Frames.MAX_PIECE_SIZE + 1) + " bytes exceeds " + Frames.MAX_PIECE_SIZE),
                Arguments.of("piece of 0xFFFFFFFF bytes", client, raw(1 + hugePiece.length, Frames.TYPE_PIECE, hugePiece),
                        "piece of 4294967295 bytes exceeds " + Frames.MAX_PIECE_SIZE),
                Arguments.of("piece over a custom limit", (Supplier<FrameDecoder>) () -> new FrameDecoder(true, 1024),
                        raw(1 + slightlyLongPiece.length, Frames.TYPE_PIECE, slightlyLongPiece),
                        "piece of 1025 bytes exceeds 1024"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("brokenFrames")
    void brokenFrameRaisesProtocolExceptionAndLaterInputIsDiscarded(
            String name, Supplier<FrameDecoder> side, byte[] broken, String message) {
        try (DecoderHarness h = new DecoderHarness(side.get())) {
            Throwable thrown = h.feed(concat(control(HELLO), broken, control(HELLO)));

            assertThat(thrown).isInstanceOf(ProtocolException.class)
                    .isInstanceOf(DecoderException.class)
                    .hasMessageStartingWith(message);
            assertThat(((ProtocolException) thrown).code()).isEqualTo(Error.Code.BAD_FRAME);
            assertThat(h.events()).as("frames before the broken one still arrive").containsExactly(HELLO);

            assertThat(h.feed(control(HELLO))).isNull();
            assertThat(h.feed(bytes(5000, 5))).isNull();
            assertThat(h.events()).as("nothing after the broken frame").containsExactly(HELLO);
        }
    }

    @Test
    void brokenHeaderIsRejectedBeforeItsPayloadArrives() {
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forServer())) {
            byte[] wire = raw(Frames.MAX_FRAME_LENGTH + 1, Frames.TYPE_CONTROL);
            assertThat(h.feed(wire, 0, 4)).isNull();
            assertThat(h.feed(wire, 4, 5)).isInstanceOf(ProtocolException.class);
        }
    }

    @Test
    void truncatedStreamEndsWithoutInventingMessages() {
        byte[] body = bytes(100, 6);
        PieceHeader header = PieceHeader.newBuilder().setLength(body.length).build();
        byte[] wire = piece(header, body);
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            assertThat(h.feed(wire, 0, wire.length - 1)).isNull();
            assertThat(h.finish()).isNull();
            assertThat(h.events()).containsExactly(header, new Run(ByteString.copyFrom(body, 0, 99), false));
        }
        byte[] hello = control(HELLO);
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forServer())) {
            assertThat(h.feed(hello, 0, hello.length - 1)).isNull();
            assertThat(h.finish()).isNull();
            assertThat(h.events()).isEmpty();
        }
    }

    // ---------------------------------------------------------------- hostile input, properties

    @Test
    void garbageOnlyEverRaisesProtocolExceptionsAndYieldsBoundedOutput() {
        qt().withExamples(1500)
                .forAll(Generate.oneOf(randomBytes(), plausibleGarbage()), cutPoints(), booleans().all())
                .checkAssert(FrameDecoderTest::survivesGarbage);
    }

    private static void survivesGarbage(byte[] garbage, List<Integer> cutSeeds, boolean client) {
        try (DecoderHarness h = new DecoderHarness(client ? FrameDecoder.forClient() : FrameDecoder.forServer())) {
            boolean failed = false;
            int[] cuts = Arrays.copyOf(cuts(cutSeeds, garbage.length), cutSeeds.size() + 1);
            cuts[cuts.length - 1] = garbage.length;
            // One step per chunk, then closing the channel, which can decode what a read left behind.
            for (int step = 0, from = 0; step <= cuts.length; step++) {
                int before = h.events().size();
                Throwable thrown = step < cuts.length ? h.feed(garbage, from, cuts[step]) : h.finish();
                from = step < cuts.length ? cuts[step] : from;
                if (failed) {
                    assertThat(thrown).as("exception after the decoder failed").isNull();
                    assertThat(h.events()).as("messages after the decoder failed").hasSize(before);
                } else if (thrown != null) {
                    assertThat(thrown).isInstanceOf(ProtocolException.class);
                    failed = true;
                    assertThat(((ProtocolException) thrown).code()).isEqualTo(Error.Code.BAD_FRAME);
                    assertThat(thrown.getMessage()).isNotBlank();
                }
            }
            assertThat(h.events().size()).as("messages out of %d bytes", garbage.length).isLessThanOrEqualTo(garbage.length);
            List<Object> messages = assemble(h.events(), false);
            if (!client) {
                assertThat(messages).allMatch(Envelope.class::isInstance);
            }
        }
    }

    // ---------------------------------------------------------------- generators

    /** One valid frame: its wire bytes and the events it must decode to. */
    record WireFrame(Envelope envelope, PieceHeader header, byte[] body) {
        byte[] bytes() {
            return envelope != null ? control(envelope) : piece(header, body);
        }

        void expect(List<Object> events) {
            if (envelope != null) {
                events.add(envelope);
            } else {
                events.add(header);
                events.add(new Body(ByteString.copyFrom(body)));
            }
        }

        @Override
        public String toString() {
            return envelope != null ? "control " + envelope.getBodyCase() : "piece " + body.length + " bytes";
        }
    }

    private static Gen<WireFrame> anyFrame(boolean withPieces) {
        Gen<WireFrame> controls = envelopes().map(e -> new WireFrame(e, null, null));
        if (!withPieces) {
            return controls;
        }
        // Bodies of 1 byte up: zero-length bodies hit the decoder bug the disabled tests describe.
        Gen<Integer> sizes = integers().between(1, 64).mix(integers().between(1, 64 << 10));
        Gen<WireFrame> pieces = sizes.zip(integers().all(), longs().all(), (size, index, seed) -> {
            byte[] body = bytes(size, seed);
            PieceHeader header = PieceHeader.newBuilder().setIndex(index).setOffset(seed).setLength(size).build();
            return new WireFrame(null, header, body);
        });
        return controls.mix(pieces);
    }

    static Gen<Envelope> envelopes() {
        Gen<String> text = strings().betweenCodePoints(0, 0xD7FF).ofLengthBetween(0, 40);
        Gen<Integer> u32 = integers().all();
        Gen<ByteString> blob = integers().between(0, 96).zip(longs().all(), (n, seed) -> ByteString.copyFrom(bytes(n, seed)));
        Gen<Envelope> hello = u32.zip(text, (v, a) -> Envelope.newBuilder()
                .setHello(Hello.newBuilder().setProtocolVersion(v).setAgent(a)).build());
        Gen<Envelope> welcome = u32.zip(text, (v, a) -> Envelope.newBuilder()
                .setWelcome(Welcome.newBuilder().setProtocolVersion(v).setAgent(a)).build());
        Gen<Envelope> open = text.map(p -> Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath(p)).build());
        Gen<Envelope> opened = blob.zip(longs().all(), u32, blob, (id, size, count, digests) -> Envelope.newBuilder()
                .setSessionOpened(SessionOpened.newBuilder().setSessionId(id).setFileSize(size).setPieceSize(1 << 20)
                        .setPieceCount(count).setFileVersion(size ^ count)
                        .setHashes(PieceHashes.newBuilder().setFirstIndex(0).setDigests(digests)))
                .build());
        Gen<Envelope> hashes = u32.zip(blob, blob, (first, digests, root) -> Envelope.newBuilder()
                .setPieceHashes(PieceHashes.newBuilder().setFirstIndex(first).setDigests(digests).setRootHash(root))
                .build());
        Gen<Envelope> attach = blob.zip(u32, text, (id, window, link) -> Envelope.newBuilder()
                .setAttach(Attach.newBuilder().setSessionId(id).setWindow(window).setLinkName(link)).build());
        Gen<Envelope> attached = u32.map(id -> Envelope.newBuilder().setAttached(Attached.newBuilder().setLinkId(id)).build());
        Gen<Envelope> credit = u32.map(w -> Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(w)).build());
        Gen<Envelope> ack = u32.zip(booleans().all(), (i, ok) -> Envelope.newBuilder()
                .setAck(Ack.newBuilder().setIndex(i).setOk(ok)).build());
        Gen<Envelope> error = Generate.enumValues(Error.Code.class).assuming(c -> c != Error.Code.UNRECOGNIZED)
                .zip(text, (c, m) -> Frames.error(c, m));
        return Generate.oneOf(hello, welcome, open, opened, hashes, attach, attached, credit, ack, error);
    }

    /** Seeds for cut positions; {@link #cuts} maps them onto a stream of a given length. */
    private static Gen<List<Integer>> cutPoints() {
        return lists().of(integers().between(0, Integer.MAX_VALUE)).ofSizeBetween(0, 40);
    }

    private static int[] cuts(List<Integer> seeds, int length) {
        return seeds.stream().mapToInt(s -> s % (length + 1)).sorted().toArray();
    }

    private static Gen<byte[]> randomBytes() {
        return integers().between(0, 2048).zip(longs().all(), FrameDecoderTest::bytes);
    }

    /**
     * Garbage that gets past the first header: frames with plausible, boundary and absurd
     * lengths and types, valid frames, and stray bytes, in any order.
     */
    private static Gen<byte[]> plausibleGarbage() {
        Gen<Long> lengths = Generate.oneOf(
                longs().between(0, 48),
                Generate.pick(List.of((long) Frames.MAX_FRAME_LENGTH, Frames.MAX_FRAME_LENGTH + 1L, 0xFFFF_FFFFL, 0x8000_0000L)));
        Gen<Integer> types = Generate.pick(List.of(0, 1, 1, 2, 2, 3, 0x7f, 0x80, 0xff));
        Gen<byte[]> header = lengths.zip(types, integers().between(0, 48), longs().all(),
                (length, type, n, seed) -> raw(length, type, bytes(n, seed)));
        Gen<Integer> pieceLengths = integers().between(0, 4).mix(integers().between(0, 300));
        Gen<byte[]> pieceHeader = pieceLengths.zip(longs().all(), (len, seed) -> {
            byte[] h = PieceHeader.newBuilder().setIndex(seed.intValue()).setOffset(seed).setLength(len).build().toByteArray();
            return concat(raw(1 + h.length, Frames.TYPE_PIECE, h), bytes(new SplittableRandom(seed).nextInt(0, 300), seed));
        });
        Gen<byte[]> valid = envelopes().map(DecoderHarness::control);
        Gen<byte[]> stray = integers().between(0, 16).zip(longs().all(), FrameDecoderTest::bytes);
        Gen<byte[]> segment = Generate.frequency(
                Pair.of(1, header), Pair.of(3, pieceHeader), Pair.of(3, valid), Pair.of(1, stray));
        return lists().of(segment).ofSizeBetween(1, 12).map(parts -> concat(parts.toArray(byte[][]::new)));
    }

    // ---------------------------------------------------------------- helpers

    static byte[] bytes(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            b[i] = (byte) random.nextInt(256);
        }
        return b;
    }

    /** An Envelope whose serialized size is exactly {@code size}, made of a PieceHashes digest blob. */
    static Envelope envelopeOfSerializedSize(int size) {
        for (int n = size - 10; n <= size; n++) {
            Envelope e = Envelope.newBuilder()
                    .setPieceHashes(PieceHashes.newBuilder().setDigests(ByteString.copyFrom(bytes(n, n))))
                    .build();
            if (e.getSerializedSize() == size) {
                return e;
            }
        }
        throw new IllegalStateException("no envelope of " + size + " bytes");
    }
}
