package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.PieceData;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.Unpooled;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One connection's piece receiving without Netty's channel: blocks in, bytes on disk, verdicts
 * and acks out, through a connection of the test's own whose "event loop" is the test thread.
 */
class PieceReceiverTest {
    private static final int PIECE = 1000;

    @TempDir
    Path dir;
    private final byte[] file = new byte[3 * PIECE + 200];
    private final PieceLayout layout = new PieceLayout(file.length, PIECE);
    private final Conn conn = new Conn();
    private PieceStore store;
    private PieceReceiver receiver;

    @BeforeEach
    void setUp() throws Exception {
        new Random(11).nextBytes(file);
        store = new PieceStore(dir.resolve("f.bin"), layout);
        receiver = new PieceReceiver(store, conn);
    }

    @AfterEach
    void tearDown() throws Exception {
        store.close();
    }

    @Test
    void aPieceInBlocksIsWrittenVerifiedAndAcked() throws Exception {
        hashes();

        block(1, 0, 300, false);
        block(1, 300, 1, false);
        block(1, 301, PIECE - 301, true);
        settle();

        assertThat(conn.acks).containsExactly("1 ok");
        assertThat(receiver.pieces()).isEqualTo(1);
        assertThat(receiver.bytes()).isEqualTo(PIECE);
        assertThat(receiver.idle()).isTrue();
        assertThat(Arrays.copyOfRange(Files.readAllBytes(store.partPath()), PIECE, 2 * PIECE))
                .isEqualTo(Arrays.copyOfRange(file, PIECE, 2 * PIECE));
    }

    @Test
    void aPieceWaitingForItsDigestIsJudgedWhenTheHashesCome() throws Exception {
        block(3, 0, layout.length(3), true);
        settle();
        assertThat(conn.acks).isEmpty();

        receiver.onHashes(PieceHashes.newBuilder().setFirstIndex(0).setDigests(
                com.google.protobuf.ByteString.copyFrom(digests())).build());
        settle();

        assertThat(conn.acks).containsExactly("3 ok");
    }

    @Test
    void badPiecesAreNackedAndTheThirdDropsTheConnection() throws Exception {
        hashes();
        file[5] ^= 1;
        file[PIECE + 5] ^= 1;
        file[2 * PIECE + 5] ^= 1;

        for (int i = 0; i < PieceReceiver.MAX_BAD_PIECES; i++) {
            block(i, 0, PIECE, true);
            settle();
        }

        assertThat(conn.acks).containsExactly("0 bad", "1 bad", "2 bad");
        assertThat(conn.drops).containsExactly(PieceReceiver.MAX_BAD_PIECES + " pieces failed their hash");
        assertThat(receiver.failedPieces()).isEqualTo(3);
        assertThat(receiver.failedBytes()).isEqualTo(3L * PIECE);
    }

    @Test
    void aPieceCutShortByTheNextCountsAsWasted() throws Exception {
        hashes();

        block(0, 0, 400, false);
        block(2, 0, PIECE, true);
        settle();

        assertThat(conn.acks).containsExactly("2 ok");
        assertThat(receiver.wastedBytes()).isEqualTo(400);
        assertThat(receiver.bytes()).isEqualTo(400 + PIECE);
    }

    /**
     * The download's summary reads each connection's counts once the store has every piece.
     * They must be final then however far behind the connection's event loop is (here it runs
     * nothing until the end): the pieces add up to the file's, the late copy is a duplicate.
     */
    @Test
    void theCountsAreFinalOnceEveryPieceIsVerifiedWhileTheEventLoopIsBehind() throws Exception {
        block(3, 0, layout.length(3), true); // before the digests: it waits for them
        settle();
        receiver.onHashes(PieceHashes.newBuilder().setFirstIndex(0).setDigests(
                com.google.protobuf.ByteString.copyFrom(digests())).build());
        for (int i = 0; i < 3; i++) {
            block(i, 0, PIECE, true);
        }
        block(0, 0, PIECE, true); // a late copy
        store.allVerified().get(10, TimeUnit.SECONDS);

        assertThat(receiver.awaitCounted(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        assertThat(conn.acks).isEmpty();
        assertThat(receiver.pieces()).isEqualTo(layout.pieceCount());
        assertThat(receiver.duplicates()).isEqualTo(1);
        assertThat(receiver.wastedBytes()).isEqualTo(PIECE);
        assertThat(receiver.bytes()).isEqualTo(file.length + PIECE);

        settle();
        assertThat(conn.acks).containsExactlyInAnyOrder("3 ok", "0 ok", "1 ok", "2 ok", "0 ok"); // two writer threads
    }

    /** Digests a re-opened session brings decide a waiting piece: its connection counts and acknowledges it. */
    @Test
    void aPieceDecidedByAReopenedSessionsDigestsIsCountedAndAcked() throws Exception {
        block(3, 0, layout.length(3), true);
        settle();

        SessionKeeper.takeHashes(store, PieceHashes.newBuilder().setFirstIndex(0).setDigests(
                com.google.protobuf.ByteString.copyFrom(digests())).build());

        assertThat(receiver.awaitCounted(System.nanoTime() + TimeUnit.SECONDS.toNanos(10))).isTrue();
        assertThat(receiver.pieces()).isEqualTo(1);
        settle();
        assertThat(conn.acks).containsExactly("3 ok");
    }

    @Test
    void aBlockThatSkipsAheadIsAProtocolError() throws Exception {
        hashes();
        block(0, 0, 400, false);

        assertThatThrownBy(() -> receiver.onHeader(header(0, 500, 100)))
                .isInstanceOf(ProtocolException.class)
                .hasMessage("block of piece 0 at 500 does not continue at 400");
        assertThatThrownBy(() -> receiver.onHeader(header(9, 9 * PIECE, 100)))
                .isInstanceOf(ProtocolException.class)
                .hasMessage("piece 9 does not exist (4 pieces)");
        receiver.close();
    }

    private void hashes() throws Exception {
        store.addHashes(0, digests());
    }

    private byte[] digests() {
        byte[] all = new byte[layout.pieceCount() * Digests.SHA256_BYTES];
        for (int i = 0; i < layout.pieceCount(); i++) {
            var md = Digests.sha256();
            md.update(file, (int) layout.offset(i), layout.length(i));
            System.arraycopy(md.digest(), 0, all, i * Digests.SHA256_BYTES, Digests.SHA256_BYTES);
        }
        return all;
    }

    private PieceHeader header(int index, long offset, int length) {
        return PieceHeader.newBuilder().setIndex(index).setOffset(offset).setLength(length).build();
    }

    /** Bytes [from, from + length) of piece {@code index}, as one block. */
    private void block(int index, int from, int length, boolean last) throws Exception {
        long at = layout.offset(index) + from;
        receiver.onHeader(header(index, at, length));
        PieceData data = new PieceData(Unpooled.copiedBuffer(file, (int) at, length), last);
        try {
            receiver.onData(data);
        } finally {
            data.release();
        }
    }

    /** Waits for the hashing and writing threads, then runs what they posted to the "event loop". */
    private void settle() throws InterruptedException {
        receiver.awaitIdle();
        for (Runnable task; (task = conn.tasks.poll()) != null; ) {
            task.run();
        }
    }

    private static final class Conn implements PieceReceiver.Connection {
        final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
        final List<String> acks = new ArrayList<>();
        final List<String> drops = new ArrayList<>();
        final List<Throwable> failures = new ArrayList<>();

        @Override
        public void execute(Runnable task) {
            tasks.add(task);
        }

        @Override
        public void ack(int index, boolean ok) {
            acks.add(index + (ok ? " ok" : " bad"));
        }

        @Override
        public void fail(Throwable cause) {
            failures.add(cause);
        }

        @Override
        public void drop(String why) {
            drops.add(why);
        }
    }
}
