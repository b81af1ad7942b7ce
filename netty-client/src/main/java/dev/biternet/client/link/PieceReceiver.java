package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.PieceData;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Error;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Receives one connection's pieces: it checks each block against the layout, gathers a piece's
 * blocks into one aligned buffer ({@link PieceStore#pieceBuffer}) and hands the same bytes to
 * the connection's {@link PieceHasher}, which hashes them on another core as they arrive, so
 * the event loop goes straight back to the socket. When the piece is complete and hashed, a
 * {@link PieceWriter} thread writes it whole at its offset ({@link PieceStore#writePiece}) and
 * the store judges it; the verdict is counted where it is given and acknowledged to the server
 * from the event loop, which returns window. It owns the connection's piece counters.
 *
 * <p>Everything runs on the connection's event loop except the hashing, the write and the
 * counting of verdicts. A verdict is counted on the thread that got it from the store (a writer
 * thread, or the thread whose digests decided a waiting piece), not on the event loop: the last
 * verdict completes {@link PieceStore#allVerified}, and the summary built then must not depend on
 * how soon a busy event loop gets to a queued task. {@link #awaitCounted} waits for the verdicts
 * still on their way to being counted. The counters are volatile: {@link LinkHandler#stats} and
 * a link's cap ({@link #bytes}) read them from other threads.
 */
final class PieceReceiver {
    /** A connection that keeps delivering pieces that fail their hash is dropped after this many. */
    static final int MAX_BAD_PIECES = 3;

    /** What the receiver needs from its connection. */
    interface Connection {
        /** Runs {@code task} on the connection's event loop, unless the loop is gone (the download is over). */
        void execute(Runnable task);

        /** Tells the server piece {@code index} verified (or taken elsewhere), or not. */
        void ack(int index, boolean ok);

        /** Receiving cannot go on ({@link LocalWriteException}: the local file's fault); on the event loop. */
        void fail(Throwable cause);

        /** Too many of this connection's pieces failed their hash: it closes for good; on the event loop. */
        void drop(String why);
    }

    private final Connection connection;
    private final PieceStore store;
    private final PieceLayout layout;
    private final PieceHasher hasher = new PieceHasher();
    /** Pieces handed to a writer thread whose outcome is not posted yet. */
    private final AtomicInteger writing = new AtomicInteger();
    /** Pieces handed to hashing whose verdict is not counted yet (waiting for a digest included). */
    private final AtomicInteger uncounted = new AtomicInteger();

    private volatile PieceHeader current;
    private volatile long received;
    /** The current piece's bytes so far (from {@link PieceStore#pieceBuffer}), or null. */
    private ByteBuffer staging;

    private volatile long bytes;
    private volatile int pieces;
    private volatile int duplicates;
    private volatile int failedPieces;
    private volatile long duplicateBytes;
    private volatile long failedBytes;
    /** Bytes of pieces the server stopped sending part-way (verified on another link). */
    private volatile long abandonedBytes;
    private volatile long firstByteNanos;
    private volatile long lastByteNanos;

    /** Where a server's root hash goes (the store, or a check that it is the same file as another server's). */
    @FunctionalInterface
    public interface RootSink {
        void root(byte[] rootHash, byte[] fileSha256);
    }

    private final RootSink roots;

    PieceReceiver(PieceStore store, Connection connection) {
        this(store, connection, store::setRoot);
    }

    /** @param roots where a root hash (and the file's SHA-256) the server sends goes: the store's, or a check of it first */
    PieceReceiver(PieceStore store, Connection connection, RootSink roots) {
        this.roots = roots;
        this.store = store;
        this.layout = store.layout();
        this.connection = connection;
    }

    /**
     * A piece arrives as consecutive blocks, each with its own header. A header for a new piece
     * while the current one is unfinished means the server stopped sending the current one
     * because another link's copy was verified first: its bytes count as duplicates.
     */
    void onHeader(PieceHeader h) throws IOException {
        int index = h.getIndex();
        if (index < 0 || index >= layout.pieceCount()) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + Integer.toUnsignedString(index)
                    + " does not exist (" + layout.pieceCount() + " pieces)");
        }
        long pieceStart = layout.offset(index);
        long pieceEnd = pieceStart + layout.length(index);
        if (current != null && index == current.getIndex()) {
            if (h.getOffset() != current.getOffset() + received) {
                throw new ProtocolException(Error.Code.BAD_FRAME, "block of piece " + index + " at " + h.getOffset()
                        + " does not continue at " + (current.getOffset() + received));
            }
        } else {
            if (current != null) {
                abandonedBytes += received;
            }
            if (h.getOffset() != pieceStart) {
                throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + index + " starts at " + h.getOffset()
                        + ", not at " + pieceStart);
            }
            if (!h.getDigest().isEmpty()) {
                takeDigest(index, h.getDigest());
            }
            current = h;
            received = 0;
            if (staging != null) {
                recycleAfterHashing(staging); // the abandoned piece's bytes
            }
            try {
                staging = store.pieceBuffer();
            } catch (OutOfMemoryError e) {
                // no direct memory for the piece (-XX:MaxDirectMemorySize): this machine's
                // problem, not the link's, so not a reason to reconnect
                throw new LocalWriteException("no memory for a piece buffer: " + e.getMessage(),
                        new IOException(e));
            }
            hasher.reset();
        }
        if (h.getOffset() + Integer.toUnsignedLong(h.getLength()) > pieceEnd) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "block of piece " + index + " at " + h.getOffset() + "+"
                    + Integer.toUnsignedString(h.getLength()) + " runs past the piece's end " + pieceEnd);
        }
        if (firstByteNanos == 0) {
            firstByteNanos = System.nanoTime();
        }
    }

    /** A block's bytes, after its header. */
    void onData(PieceData data) {
        ByteBuf buf = data.content();
        int n = buf.readableBytes();
        if (n > 0) {
            // getBytes fills the destination up to its limit: the block's end (the header check
            // keeps every block inside its piece, so inside the buffer).
            int at = staging.position();
            buf.getBytes(buf.readerIndex(), staging.limit(at + n));
            // The hasher reads the block from the piece buffer, so the network buffer goes back
            // to Netty's allocator now: a piece in memory is held once, not twice.
            hasher.update(staging.slice(at, n));
            received += n;
            bytes += n;
            lastByteNanos = System.nanoTime();
        }
        if (data.isLast() && received == layout.length(current.getIndex())) {
            int index = current.getIndex();
            current = null;
            ByteBuffer piece = staging.flip();
            staging = null;
            writing.incrementAndGet();
            uncounted.incrementAndGet();
            // Hashed first (in order with the link's other blocks), then written, judged and
            // counted on a writer thread: a piece two links wrote into is read back from disk
            // there too, not on the event loop, which only acknowledges.
            hasher.finish(digest -> PieceWriter.execute(() -> writeAndJudge(index, piece, digest)));
        }
    }

    /** Digests (and the root) the server sent apart from the pieces; pieces waiting for them are judged now. */
    void onHashes(PieceHashes h) throws IOException {
        if (!h.getRootHash().isEmpty()) {
            roots.root(h.getRootHash().toByteArray(), h.getFileSha256().toByteArray());
        }
        resolved(store.addHashes(h.getFirstIndex(), h.getDigests().toByteArray()));
    }

    /**
     * The digest a piece's first block carries. Another link's copy of the piece may have
     * arrived before any digest did (from a server that sends them apart); it is judged now.
     */
    private void takeDigest(int index, ByteString digest) throws IOException {
        if (digest.size() != Digests.SHA256_BYTES) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + index + " carries a digest of " + digest.size()
                    + " bytes, not " + Digests.SHA256_BYTES);
        }
        resolved(store.addDigest(index, digest));
    }

    /**
     * Verdicts on pieces that waited for a digest, each counted for the receiver that holds the
     * piece (on this thread) and acknowledged from its event loop. Any thread that added digests.
     */
    static void resolved(List<PieceStore.Resolved> resolved) {
        for (PieceStore.Resolved r : resolved) {
            if (r.owner() instanceof PieceStore.Judge j) {
                j.judged(r.index(), r.outcome());
            } else {
                ((PieceReceiver) r.owner()).judged(r.index(), r.outcome());
            }
        }
    }

    /**
     * On a writer thread: the piece to disk, the store's verdict, and either to the event loop.
     * Whatever goes wrong fails the connection (a piece without a verdict would hold a window
     * slot until the silence watch), a write error as a local one.
     */
    private void writeAndJudge(int index, ByteBuffer piece, byte[] digest) {
        try {
            PieceStore.Outcome outcome;
            try {
                store.writePiece(index, piece, this);
                outcome = store.complete(index, digest, this);
            } catch (IOException e) {
                Throwable failed = new LocalWriteException(
                        "cannot write " + store.partPath() + ": " + e.getMessage(), e);
                uncounted.decrementAndGet(); // no verdict: the connection fails
                connection.execute(() -> connection.fail(failed));
                return;
            } catch (RuntimeException | java.lang.Error e) {
                uncounted.decrementAndGet();
                connection.execute(() -> connection.fail(e));
                return;
            } finally {
                store.recycle(piece);
            }
            judged(index, outcome);
        } finally {
            writing.decrementAndGet();
        }
    }

    /**
     * Counts the store's verdict on a piece of this connection, on the thread that got it, and
     * tells the server from the event loop. A piece waiting for its digest is counted when
     * {@link #resolved} judges it.
     */
    private void judged(int index, PieceStore.Outcome outcome) {
        if (outcome == PieceStore.Outcome.PENDING) {
            return;
        }
        int failed = count(index, outcome);
        uncounted.decrementAndGet();
        boolean ok = outcome == PieceStore.Outcome.VERIFIED || outcome == PieceStore.Outcome.DUPLICATE;
        connection.execute(() -> {
            connection.ack(index, ok);
            // A connection whose pieces keep failing their hash (a corrupting middlebox, bad
            // memory on a router) costs every other link time. Its failed pieces went back to
            // the server with the negative acks and are sent again.
            if (outcome == PieceStore.Outcome.FAILED && failed >= MAX_BAD_PIECES) {
                connection.drop(failed + " pieces failed their hash");
            }
        });
    }

    /**
     * Adds a verdict to the counters; returns the failed pieces so far. Verdicts on a
     * connection's pieces come from several threads at once (two writer threads, a link whose
     * digests decided a waiting piece), hence the lock; readers read the volatile fields.
     */
    private synchronized int count(int index, PieceStore.Outcome outcome) {
        int length = layout.length(index);
        switch (outcome) {
            case VERIFIED -> pieces++;
            case DUPLICATE -> {
                duplicates++;
                duplicateBytes += length;
            }
            case FAILED -> {
                failedPieces++;
                failedBytes += length;
            }
            // Not this connection's fault: another copy wrote into the piece. Fetched again.
            case OVERWRITTEN -> duplicateBytes += length;
            case PENDING -> { }
        }
        return failedPieces;
    }

    /** True while no piece is half-received or being hashed, written or judged. */
    boolean idle() {
        return current == null && writing.get() == 0;
    }

    /**
     * Waits until every piece handed to hashing so far has its verdict counted, or until
     * {@code deadlineNanos} ({@link System#nanoTime}); returns false if the deadline came first.
     * Any thread; once the store has every piece verified, what is left to count is a few
     * pieces' hashing and writing.
     */
    boolean awaitCounted(long deadlineNanos) throws InterruptedException {
        while (uncounted.get() > 0) {
            if (System.nanoTime() - deadlineNanos > 0) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    /** Gives back the buffer of a piece cut short by the connection's end (event loop). */
    void close() {
        if (staging != null) {
            recycleAfterHashing(staging);
            staging = null;
        }
    }

    /** Gives back a piece buffer the hasher may still be reading blocks of. */
    private void recycleAfterHashing(ByteBuffer buffer) {
        hasher.then(() -> store.recycle(buffer));
    }

    /** Payload bytes received; any thread. */
    long bytes() {
        return bytes;
    }

    int pieces() {
        return pieces;
    }

    int duplicates() {
        return duplicates;
    }

    int failedPieces() {
        return failedPieces;
    }

    long failedBytes() {
        return failedBytes;
    }

    /**
     * Bytes that were not needed: duplicate and overwritten pieces, pieces the server stopped
     * sending part-way, and a piece still arriving when the download finished (verified
     * elsewhere).
     */
    long wastedBytes() {
        long partial = current != null ? received : 0;
        return duplicateBytes + abandonedBytes + partial;
    }

    /** Seconds from the first byte to the last; 0 before any. */
    double activeSeconds() {
        long first = firstByteNanos;
        return first == 0 ? 0 : (Math.max(lastByteNanos, first) - first) / 1e9;
    }

    /** Waits until the pieces received so far are hashed and their outcome queued on the event loop (tests). */
    void awaitIdle() throws InterruptedException {
        hasher.awaitIdle();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (writing.get() > 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("writing did not finish in 10 s");
            }
            Thread.sleep(1);
        }
    }
}
