package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.EnvelopeEncoder;
import dev.biternet.common.wire.FrameDecoder;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Welcome;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client's per-link dispatcher in an EmbeddedChannel, speaking to it as the server would. */
class LinkHandlerTest {
    private static final int PIECE = 1000;

    @TempDir
    Path dir;
    private final byte[] file = new byte[2 * PIECE + 300];
    private final PieceLayout layout = new PieceLayout(file.length, PIECE);
    private EmbeddedChannel channel;
    private LinkHandler handler;
    private PieceStore store;

    @BeforeEach
    void setUp() throws Exception {
        new Random(7).nextBytes(file);
        handler = new LinkHandler(new LinkSpec("test", null, null), "f.bin");
        channel = new EmbeddedChannel(FrameDecoder.forClient(), EnvelopeEncoder.INSTANCE, handler);
        store = new PieceStore(dir.resolve("f.bin"), layout);
    }

    @AfterEach
    void tearDown() throws Exception {
        channel.finishAndReleaseAll();
        store.close();
    }

    /**
     * Decodes what the handler wrote, as the server's decoder would, once the pieces received so
     * far are hashed (on the hashing pool) and their acks written (on the channel's loop).
     */
    /**
     * What the handler sent, less window updates: those go out on the link's tick, whenever a
     * slow machine lets 250 ms pass between two steps of a test.
     */
    private List<Envelope> sent() throws InterruptedException {
        handler.awaitHashing();
        channel.runPendingTasks();
        return written(channel).stream().filter(e -> !e.hasCredit()).toList();
    }

    /** What a channel's handler wrote, decoded as the server's decoder would. */
    private static List<Envelope> written(EmbeddedChannel channel) {
        EmbeddedChannel server = new EmbeddedChannel(FrameDecoder.forServer());
        for (Object o; (o = channel.readOutbound()) != null; ) {
            server.writeInbound(o);
        }
        List<Envelope> out = new ArrayList<>();
        for (Object o; (o = server.readInbound()) != null; ) {
            out.add((Envelope) o);
        }
        server.finishAndReleaseAll();
        return out;
    }

    private static void assertOnlyAck(List<Envelope> sent, int index, boolean ok) {
        assertThat(sent).singleElement().satisfies(e -> {
            assertThat(e.getAck().getIndex()).isEqualTo(index);
            assertThat(e.getAck().getOk()).isEqualTo(ok);
        });
    }

    private void receive(Envelope e) {
        channel.writeInbound(Frames.control(ByteBufAllocator.DEFAULT, e));
    }

    private void receivePiece(int index, byte[] bytes) {
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                .setIndex(index).setOffset(layout.offset(index)).setLength(layout.length(index)).build());
        ByteBuf body = Unpooled.wrappedBuffer(bytes, (int) layout.offset(index), layout.length(index));
        // split the body so the handler sees several runs of one piece
        int half = body.readableBytes() / 2;
        channel.writeInbound(Unpooled.wrappedBuffer(header, body.retainedSlice(0, half)));
        channel.writeInbound(body.slice(half, body.readableBytes() - half));
    }

    /** A piece as this server sends it: its first block's header carries the piece's digest. */
    private void receivePieceWithDigest(int index, byte[] bytes, byte[] digest) {
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                .setIndex(index).setOffset(layout.offset(index)).setLength(layout.length(index))
                .setDigest(ByteString.copyFrom(digest)).build());
        channel.writeInbound(Unpooled.wrappedBuffer(header,
                Unpooled.wrappedBuffer(bytes, (int) layout.offset(index), layout.length(index))));
    }

    private byte[] digest(int index) {
        var md = Digests.sha256();
        md.update(file, (int) layout.offset(index), layout.length(index));
        return md.digest();
    }

    private byte[] allDigests(int from, int to) {
        byte[] out = new byte[(to - from) * 32];
        for (int i = from; i < to; i++) {
            System.arraycopy(digest(i), 0, out, (i - from) * 32, 32);
        }
        return out;
    }

    private SessionOpened open() throws InterruptedException {
        List<Envelope> hello = sent();
        assertThat(hello).extracting(Envelope::getBodyCase)
                .containsExactly(Envelope.BodyCase.HELLO, Envelope.BodyCase.OPEN_SESSION);
        assertThat(hello.get(0).getHello().getProtocolVersion()).isEqualTo(Frames.OLDEST_PROTOCOL_VERSION);
        assertThat(hello.get(1).getOpenSession().getPath()).isEqualTo("f.bin");
        receive(Envelope.newBuilder().setWelcome(Welcome.newBuilder().setProtocolVersion(1)).build());
        SessionOpened opened = SessionOpened.newBuilder().setSessionId(ByteString.copyFrom(new byte[16]))
                .setFileSize(file.length).setPieceSize(PIECE).setPieceCount(layout.pieceCount()).build();
        receive(Envelope.newBuilder().setSessionOpened(opened).build());
        assertThat(handler.opened()).isCompletedWithValue(opened);
        handler.attach(opened, store, 0);
        channel.runPendingTasks();
        List<Envelope> attach = sent();
        assertThat(attach).extracting(Envelope::getBodyCase).containsExactly(Envelope.BodyCase.ATTACH);
        assertThat(attach.get(0).getAttach().getWindow()).isEqualTo(LinkHandler.INITIAL_WINDOW);
        return opened;
    }

    /**
     * An attached link that receives nothing for 10 s while the download is unfinished is taken
     * for dead (TCP says nothing when a cable is pulled) and closed, so that it reconnects; any
     * read starts the 10 s again.
     */
    @Test
    void theSilenceWatchClosesAnAttachedLinkThatHearsNothing() throws Exception {
        channel.freezeTime();
        channel.pipeline().addFirst(ClientInitializer.SILENCE_WATCH, new SilenceWatch());
        open();
        long silent = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(SilenceWatch.SILENT_NANOS);

        channel.advanceTimeBy(silent - 1000, java.util.concurrent.TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        receive(Envelope.newBuilder().setAttached(dev.biternet.proto.Attached.getDefaultInstance()).build());
        channel.advanceTimeBy(silent - 1000, java.util.concurrent.TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isActive()).isTrue();
        assertThat(handler.closed()).isNotDone();

        channel.advanceTimeBy(2000, java.util.concurrent.TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();

        assertThat(channel.isActive()).isFalse();
        assertThat(handler.closed()).isCompletedWithValue("nothing received for " + silent / 1000 + " s");
    }

    /**
     * Every ack carries the client's clock; a later block header echoes it with how long the
     * server held it, and the difference is the link's round trip (in --json and the progress
     * table). The test's "server" answers 40 ms after the ack, having held it 10 ms; the sample
     * joins the handshake's as TCP smooths them (weight 1/8).
     */
    @Test
    void aBlockHeaderEchoingAnAcksClockGivesTheRoundTrip() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        receivePiece(0, file);
        List<Envelope> acks = sent();
        assertThat(acks).singleElement().satisfies(e -> assertThat(e.getAck().getSentUs()).isPositive());
        long sentUs = acks.get(0).getAck().getSentUs();
        double before = handler.stats().rttMs();
        assertThat(before).as("the handshake's round trip").isPositive();

        Thread.sleep(40);
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                .setIndex(1).setOffset(layout.offset(1)).setLength(layout.length(1))
                .setEchoUs(sentUs).setEchoHeldUs(10_000).build());
        channel.writeInbound(Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(file, PIECE, PIECE)));

        double sample = (handler.stats().rttMs() - 7 * before / 8) * 8;
        assertThat(sample).as("40 ms and more since the ack, less the 10 ms held").isBetween(30.0, 10_000.0);
        assertOnlyAck(sent(), 1, true);
    }

    @Test
    void anEchoFromTheFutureIsNoRoundTrip() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        double before = handler.stats().rttMs();
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                .setIndex(0).setOffset(0).setLength(PIECE).setEchoUs(Long.MAX_VALUE / 2).build());
        channel.writeInbound(Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(file, 0, PIECE)));

        assertThat(handler.stats().rttMs()).isEqualTo(before);
        assertOnlyAck(sent(), 0, true);
    }

    @Test
    void corruptPieceIsRejectedAndAGoodCopyIsWrittenAndAcked() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        byte[] corrupt = file.clone();
        corrupt[PIECE + 10] ^= 1;

        receivePiece(1, corrupt);
        assertThat(sent()).singleElement().satisfies(e -> {
            assertThat(e.getAck().getIndex()).isEqualTo(1);
            assertThat(e.getAck().getOk()).isFalse();
        });
        assertThat(store.isVerified(1)).isFalse();

        receivePiece(1, file);
        assertThat(sent()).singleElement().satisfies(e -> assertThat(e.getAck().getOk()).isTrue());
        assertThat(store.isVerified(1)).isTrue();
        byte[] onDisk = Files.readAllBytes(store.partPath());
        assertThat(java.util.Arrays.copyOfRange(onDisk, PIECE, 2 * PIECE))
                .isEqualTo(java.util.Arrays.copyOfRange(file, PIECE, 2 * PIECE));
        LinkStats stats = handler.stats();
        assertThat(stats.pieces()).isEqualTo(1);
        assertThat(stats.failed()).isEqualTo(1);
        assertThat(stats.bytes()).isEqualTo(2L * PIECE);
    }

    @Test
    void aLinkIsDroppedAtItsThirdBadPieceAfterNackingIt() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        byte[] corrupt = file.clone();
        for (int i = 0; i < layout.pieceCount(); i++) {
            corrupt[(int) layout.offset(i) + 5] ^= 1;
        }
        receivePiece(0, corrupt);
        receivePiece(1, corrupt);
        assertThat(channel.isOpen()).as("two bad pieces are tolerated").isTrue();
        assertThat(handler.dropped()).isFalse();

        receivePiece(2, corrupt);

        assertThat(sent()).extracting(e -> e.getAck().getOk()).containsExactly(false, false, false);
        assertThat(channel.isOpen()).isFalse();
        assertThat(handler.dropped()).isTrue();
        assertThat(handler.closed().join()).contains("3 pieces failed their hash");
        LinkStats stats = handler.stats();
        assertThat(stats.dropped()).isTrue();
        assertThat(stats.failed()).isEqualTo(3);
        assertThat(stats.failedBytes()).isEqualTo(file.length);
        assertThat(store.verifiedCount()).isZero();
    }

    @Test
    void pieceBeforeItsHashIsAckedWhenTheHashArrives() throws Exception {
        open();
        receivePiece(2, file);
        assertThat(sent()).isEmpty();
        receive(Envelope.newBuilder().setPieceHashes(PieceHashes.newBuilder().setFirstIndex(0)
                .setDigests(ByteString.copyFrom(allDigests(0, 3)))).build());
        channel.runPendingTasks();
        assertOnlyAck(sent(), 2, true);
        assertThat(store.isVerified(2)).isTrue();
    }

    @Test
    void aPieceCarryingItsDigestIsVerifiedWithoutAnyHashBatch() throws Exception {
        open();
        receivePieceWithDigest(1, file, digest(1));
        assertOnlyAck(sent(), 1, true);
        assertThat(store.isVerified(1)).isTrue();
    }

    @Test
    void aDigestOnOneLinkDecidesAPieceAnotherLinkDeliveredBeforeIt() throws Exception {
        SessionOpened opened = open();
        // Another link got piece 2 with no digest (a server that sends them in batches): pending.
        LinkHandler other = new LinkHandler(new LinkSpec("other", null, null), (String) null);
        EmbeddedChannel otherChannel = new EmbeddedChannel(FrameDecoder.forClient(), EnvelopeEncoder.INSTANCE, other);
        try {
            other.attach(opened, store, 0);
            otherChannel.runPendingTasks();
            otherChannel.writeInbound(Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                    .setIndex(2).setOffset(layout.offset(2)).setLength(layout.length(2)).build()),
                    Unpooled.wrappedBuffer(file, (int) layout.offset(2), layout.length(2)));
            other.awaitHashing();
            assertThat(store.isVerified(2)).isFalse();

            receivePieceWithDigest(2, file, digest(2));
            sent();
            otherChannel.runPendingTasks();
            assertThat(store.isVerified(2)).isTrue();
            assertOnlyAck(written(otherChannel).stream().filter(Envelope::hasAck).toList(), 2, true);
        } finally {
            otherChannel.finishAndReleaseAll();
        }
    }

    @Test
    void aPieceWhoseDigestContradictsTheKnownOneClosesTheLink() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        receivePieceWithDigest(1, file, digest(0));
        assertClosedWithPieceUnverified(1, "two different hashes for piece 1");
    }

    @Test
    void aDigestOfTheWrongLengthClosesTheLink() throws Exception {
        open();
        receivePieceWithDigest(0, file, new byte[31]);
        assertClosedWithPieceUnverified(0, "piece 0 carries a digest of 31 bytes, not 32");
    }

    private void assertClosedWithPieceUnverified(int index, String reason) {
        assertThat(channel.isOpen()).isFalse();
        assertThat(handler.closed().join()).contains(reason);
        assertThat(store.isVerified(index)).isFalse();
    }

    @Test
    void pieceThatDoesNotFitTheLayoutClosesTheLink() throws Exception {
        open();
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT,
                PieceHeader.newBuilder().setIndex(7).setOffset(0).setLength(10).build());
        channel.writeInbound(header);
        assertThat(channel.isOpen()).isFalse();
        assertThat(handler.closed()).isCompleted();
        assertThat(handler.closed().join()).contains("piece 7").contains("does not exist");
    }

    @Test
    void piecesArriveInBlocksAndAnAbandonedPieceCountsAsDuplicate() throws Exception {
        open();
        store.addHashes(0, allDigests(0, layout.pieceCount()));
        // piece 0 completes on "another link" first
        store.write(0, 0, java.nio.ByteBuffer.wrap(file, 0, PIECE));
        store.complete(0, digest(0), this);
        // this link got the first 400 bytes of piece 0, then the server moved on to piece 1
        channel.writeInbound(block(0, 0, 400));
        channel.writeInbound(block(1, PIECE, 300));
        channel.writeInbound(block(1, PIECE + 300, PIECE - 300));
        assertThat(sent()).singleElement().satisfies(e -> {
            assertThat(e.getAck().getIndex()).isEqualTo(1);
            assertThat(e.getAck().getOk()).isTrue();
        });
        LinkStats stats = handler.stats();
        assertThat(stats.pieces()).isEqualTo(1);
        assertThat(stats.duplicateBytes()).isEqualTo(400);
        assertThat(stats.bytes()).isEqualTo(400L + PIECE);
    }

    @Test
    void blockThatSkipsAheadClosesTheLink() throws Exception {
        open();
        channel.writeInbound(block(1, PIECE, 300));
        channel.writeInbound(block(1, PIECE + 301, 10));
        assertThat(channel.isOpen()).isFalse();
        assertThat(handler.closed().join()).contains("does not continue");
    }

    private ByteBuf block(int index, long offset, int length) {
        ByteBuf header = Frames.pieceHeader(ByteBufAllocator.DEFAULT, PieceHeader.newBuilder()
                .setIndex(index).setOffset(offset).setLength(length).build());
        return Unpooled.wrappedBuffer(header, Unpooled.wrappedBuffer(file, (int) offset, length));
    }

    @Test
    void serverErrorFailsTheOpenWithItsMessage() throws Exception {
        sent();
        receive(Frames.error(dev.biternet.proto.Error.Code.NOT_FOUND, "no such file: f.bin"));
        assertThat(handler.opened()).isCompletedExceptionally();
        assertThat(channel.isOpen()).isFalse();
        assertThat(handler.closed().join()).isEqualTo("server: no such file: f.bin");
    }
}
