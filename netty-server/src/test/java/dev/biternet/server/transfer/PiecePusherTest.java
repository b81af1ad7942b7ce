package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Envelope;
import dev.biternet.server.TestFiles;
import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.Session;
import dev.biternet.server.transfer.ServerHarness.Conn;
import dev.biternet.server.transfer.ServerHarness.Piece;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Credit-based sending on the real server pipeline: what goes out (a header frame, then a
 * sendfile region over the session's file), how much of it before the client acknowledges,
 * and what happens to held pieces when the channel goes away.
 */
class PiecePusherTest {
    private static final int PIECE = ServerHarness.PIECE;
    private static final int SIZE = 5 * PIECE + 100;
    private static final PieceLayout LAYOUT = new PieceLayout(SIZE, PIECE);

    @TempDir
    Path dir;
    private ServerHarness server;
    private byte[] data;

    @BeforeEach
    void setUp() throws Exception {
        server = new ServerHarness(dir);
        data = server.file("data.bin", SIZE);
    }

    @AfterEach
    void tearDown() {
        server.close();
    }

    /** Hello, OpenSession and Attach with {@code window}; returns the session id. */
    private ByteString attached(Conn c, int window) throws Exception {
        c.hello();
        c.next();
        c.open("data.bin");
        ByteString id = c.next().getSessionOpened().getSessionId();
        c.attach(id, window);
        assertThat(c.drain()).extracting(Envelope::getBodyCase).containsExactly(Envelope.BodyCase.ATTACHED);
        return id;
    }

    @Test
    void aPieceVerifiedElsewhereStopsAtTheNextBlockBoundary() throws Exception {
        Conn a = server.connect(PIECE / 4);
        a.hello();
        a.next();
        a.open("data.bin");
        ByteString id = a.next().getSessionOpened().getSessionId();
        Session s = server.registry.get(id);
        // Stands for another link whose copy of a piece is verified just as this link has sent
        // that piece's first block.
        a.ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            private boolean done;

            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise p)
                    throws Exception {
                if (!done && msg instanceof io.netty.buffer.ByteBuf buf
                        && buf.getByte(buf.readerIndex() + 4) == dev.biternet.common.wire.Frames.TYPE_PIECE) {
                    var h = dev.biternet.proto.PieceHeader.parseFrom(
                            buf.nioBuffer(buf.readerIndex() + 5, buf.readableBytes() - 5));
                    s.allocator().complete(h.getIndex());
                    done = true;
                }
                ctx.write(msg, p);
            }
        });
        a.attach(id, 1);
        a.drain();

        // Piece 0's first block went out, the rest was dropped; with window 1 the link went on
        // to piece 1 without an ack for piece 0, in four blocks of PIECE / 4.
        assertThat(a.pieces).extracting(p -> p.header().getIndex()).containsExactly(0, 1, 1, 1, 1);
        assertThat(a.pieces).extracting(p -> p.header().getLength()).containsOnly(PIECE / 4);
        long offset = PIECE;
        for (Piece p : a.pieces.subList(1, 5)) {
            assertThat(p.header().getOffset()).isEqualTo(offset);
            offset += p.header().getLength();
        }
        for (Piece p : a.pieces) {
            int off = (int) p.header().getOffset();
            assertThat(p.bytes()).isEqualTo(java.util.Arrays.copyOfRange(data, off, off + p.bytes().length));
        }
    }

    @Test
    void withWindowTwoAtMostTwoPiecesAreOutstandingUntilAnAck() throws Exception {
        Conn c = server.connect();
        attached(c, 2);
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0, 1);
        c.pieces.forEach(this::assertMatchesLayout);

        c.ch.runPendingTasks();
        c.ch.runScheduledPendingTasks();
        assertThat(c.newPieces()).as("nothing more without an ack").isEmpty();

        c.ack(0, true);
        assertThat(c.newPieces()).extracting(Piece::index).as("an ack frees one slot").containsExactly(2);
        assertThat(c.newPieces()).isEmpty();

        c.ack(1, true);
        c.ack(2, true);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(3, 4);
        c.pieces.forEach(this::assertMatchesLayout);
        assertThat(c.pusher().piecesSent()).isEqualTo(5);
    }

    /**
     * The client's clock on an ack comes back on the next block header, with how long the
     * server held it, so that the client can measure the round trip; each ack is echoed once.
     */
    @Test
    void anAcksClockIsEchoedOnTheNextBlockHeaderOnce() throws Exception {
        Conn c = server.connect();
        attached(c, 2);
        assertThat(c.pieces).extracting(p -> p.header().getEchoUs()).as("nothing to echo yet").containsOnly(0L);

        c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(0).setOk(true).setSentUs(123_456_789)).build());
        List<Piece> second = c.newPieces();
        c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(1).setOk(true).setSentUs(123_999_999)).build());
        List<Piece> third = c.newPieces();
        c.credit(3);
        List<Piece> fourth = c.newPieces();

        assertThat(second).singleElement().satisfies(p -> assertThat(p.header().getEchoUs()).isEqualTo(123_456_789));
        assertThat(third).singleElement().satisfies(p -> assertThat(p.header().getEchoUs()).isEqualTo(123_999_999));
        assertThat(fourth).singleElement().satisfies(p -> assertThat(p.header().getEchoUs()).as("echoed once").isZero());
    }

    @Test
    void theWholeFileArrivesIntactPieceByPiece() throws Exception {
        Conn c = server.connect();
        ByteString id = attached(c, 3);
        Set<Integer> acked = new HashSet<>();
        for (int round = 0; acked.size() < LAYOUT.pieceCount(); round++) {
            assertThat(round).as("rounds").isLessThan(100);
            List<Piece> outstanding = new ArrayList<>();
            for (Piece p : c.pieces) {
                if (!acked.contains(p.index())) {
                    outstanding.add(p);
                }
            }
            assertThat(outstanding.size()).as("outstanding pieces").isBetween(1, 3);
            Piece p = outstanding.get(0);
            c.ack(p.index(), true);
            acked.add(p.index());
            c.drain();
        }
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0, 1, 2, 3, 4, 5);
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        for (Piece p : c.pieces) {
            assertMatchesLayout(p);
            file.writeBytes(p.bytes());
        }
        assertThat(file.toByteArray()).isEqualTo(data);
        Piece last = c.pieces.get(5);
        assertThat(last.header().getLength()).as("the last piece holds the remainder").isEqualTo(100);

        Session s = server.registry.get(id);
        assertThat(s.allocator().remaining()).isZero();
        assertThat(s.bytesSent()).isEqualTo(SIZE);
        assertThat(c.pusher().bytesSent()).isEqualTo(SIZE);
        assertThat(s.file().isOpen()).as("released regions leave the shared file open").isTrue();

        c.ch.runPendingTasks();
        c.ch.runScheduledPendingTasks();
        assertThat(c.newPieces()).as("nothing after the end").isEmpty();
    }

    @Test
    void aFailedAckResendsThatPieceFirst() throws Exception {
        Conn c = server.connect();
        attached(c, 2);
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0, 1);
        c.ack(0, false);
        List<Piece> again = c.newPieces();
        assertThat(again).extracting(Piece::index).as("the piece the client could not verify").containsExactly(0);
        assertMatchesLayout(again.get(0));
        c.ack(1, true);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(2);
    }

    @Test
    void creditWidensAndNarrowsTheWindow() throws Exception {
        Conn c = server.connect();
        attached(c, 1);
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0);
        c.credit(4);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(1, 2, 3);
        c.credit(2);
        c.ack(0, true);
        assertThat(c.newPieces()).as("3 still outstanding, window 2").isEmpty();
        c.ack(1, true);
        assertThat(c.newPieces()).isEmpty();
        c.ack(2, true);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(4);
    }

    @Test
    void aZeroWindowAtAttachStillLetsOnePieceGo() throws Exception {
        Conn c = server.connect();
        attached(c, 0);
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0);
        c.ack(0, true);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(1);
    }

    @Test
    void aZeroCreditRetiresTheChannelUntilItIsGivenWindowAgain() throws Exception {
        Conn c = server.connect();
        attached(c, 2);
        assertThat(c.pieces).extracting(Piece::index).containsExactly(0, 1);
        c.credit(0);
        c.ack(0, true);
        c.ack(1, true);
        assertThat(c.newPieces()).as("retiring: no new piece").isEmpty();
        c.credit(1);
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(2);
    }

    @Test
    void anAckForAPieceNotOutstandingIsIgnored() throws Exception {
        Conn c = server.connect();
        ByteString id = attached(c, 1);
        c.ack(3, true);
        c.ack(999, true);
        c.ack(-1, true);
        assertThat(c.newPieces()).isEmpty();
        assertThat(c.ch.isActive()).isTrue();
        assertThat(server.registry.get(id).allocator().isDone(3)).as("an ack for a piece never sent").isFalse();
        c.ack(0, true);
        c.ack(0, true);
        assertThat(c.newPieces()).extracting(Piece::index).as("a repeated ack frees no second slot").containsExactly(1);
    }

    @Test
    void twoLinksOfOneSessionShareThePiecesWithoutOverlap() throws Exception {
        Conn a = server.connect();
        ByteString id = attached(a, 2);
        Conn b = server.connect();
        b.hello();
        b.next();
        b.attach(id, 2);
        List<Envelope> answers = b.drain();
        assertThat(answers).extracting(Envelope::getBodyCase).containsExactly(Envelope.BodyCase.ATTACHED);
        int linkA = a.controls.stream().filter(Envelope::hasAttached).findFirst().orElseThrow().getAttached().getLinkId();
        int linkB = answers.get(0).getAttached().getLinkId();
        assertThat(linkA).as("link ids are assigned").isPositive();
        assertThat(linkB).as("each link of a session has its own id").isPositive().isNotEqualTo(linkA);
        assertThat(a.pieces).extracting(Piece::index).containsExactly(0, 1);
        assertThat(b.pieces).extracting(Piece::index).containsExactly(2, 3);
        assertThat(server.registry.get(id).linkCount()).isEqualTo(2);

        b.ack(2, true);
        assertThat(b.newPieces()).extracting(Piece::index).containsExactly(4);
        a.ack(0, true);
        assertThat(a.newPieces()).extracting(Piece::index).containsExactly(5);
    }

    @Test
    void closingAChannelReleasesItsPiecesToTheOtherLinks() throws Exception {
        Conn a = server.connect();
        ByteString id = attached(a, 2);
        Conn b = server.connect();
        b.hello();
        b.next();
        b.attach(id, 4);
        b.drain();
        assertThat(a.pieces).extracting(Piece::index).containsExactly(0, 1);
        assertThat(b.pieces).extracting(Piece::index).containsExactly(2, 3, 4, 5);

        a.ch.close();
        a.ch.runPendingTasks();
        Session s = server.registry.get(id);
        assertThat(s.linkCount()).isEqualTo(1);
        // The session wakes the remaining link; once it has room it takes the released pieces.
        b.ack(2, true);
        b.ack(3, true);
        assertThat(b.newPieces()).extracting(Piece::index).containsExactly(0, 1);
        b.pieces.forEach(this::assertMatchesLayout);
    }

    @Test
    void inTheEndgameALinkWithRoomCopiesAPieceAnotherLinkStillHolds() throws Exception {
        Conn slow = server.connect();
        ByteString id = attached(slow, 1);
        Conn fast = server.connect();
        fast.hello();
        fast.next();
        fast.attach(id, 5);
        fast.drain();
        assertThat(slow.pieces).extracting(Piece::index).containsExactly(0);
        assertThat(fast.pieces).extracting(Piece::index).containsExactly(1, 2, 3, 4, 5);
        PieceAllocator allocator = server.registry.get(id).allocator();
        assertThat(allocator.inEndgame()).isTrue();
        assertThat(allocator.duplicateClaims()).isZero();

        // No ack yet, so the fast link has no rate estimate: any piece in flight elsewhere is worth copying.
        fast.credit(6);
        List<Piece> copies = fast.newPieces();
        assertThat(copies).extracting(Piece::index).as("the slow link's piece, copied").containsExactly(0);
        assertMatchesLayout(copies.get(0));
        assertThat(allocator.duplicateClaims()).isEqualTo(1);
        fast.credit(8);
        assertThat(fast.newPieces()).as("no piece gets a third holder, none is copied to its own holder").isEmpty();

        for (int i = 0; i <= 5; i++) {
            fast.ack(i, true);
        }
        assertThat(allocator.remaining()).isZero();
        assertThat(allocator.inEndgame()).isFalse();
        slow.ack(0, true);
        assertThat(allocator.duplicateClaims()).isEqualTo(1);
        Thread.sleep(30); // past the endgame retry delay
        fast.ch.runScheduledPendingTasks();
        slow.ch.runScheduledPendingTasks();
        assertThat(fast.newPieces()).isEmpty();
        assertThat(slow.newPieces()).isEmpty();
    }

    private void assertMatchesLayout(Piece p) {
        int i = p.index();
        assertThat(p.header().getOffset()).as("offset of %d", i).isEqualTo(LAYOUT.offset(i));
        assertThat(p.header().getLength()).as("length of %d", i).isEqualTo(LAYOUT.length(i));
        assertThat(p.regionPosition()).as("region position of %d", i).isEqualTo(LAYOUT.offset(i));
        assertThat(p.regionCount()).as("region count of %d", i).isEqualTo(LAYOUT.length(i));
        assertThat(p.bytes()).as("bytes of %d", i).isEqualTo(TestFiles.slice(data, LAYOUT.offset(i), LAYOUT.length(i)));
        assertThat(TestFiles.sha256(p.bytes())).isEqualTo(TestFiles.pieceDigest(data, PIECE, i));
    }
}
