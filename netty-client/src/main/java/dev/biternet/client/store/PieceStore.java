package dev.biternet.client.store;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The download on disk, as the links and {@code Download} see it: whole pieces go in
 * ({@link #writePiece}), each link's digest of a piece is judged ({@link #complete}), and once
 * every piece is verified {@link #finish} checks the whole and renames {@code OUT.part} to
 * {@code OUT}. A piece counts only if its digest equals the server's, and the piece digests
 * must add up to the server's root hash before the rename, so every byte written was checked
 * against the server's file.
 *
 * <p>A facade over four parts, each the one owner of its state and locks: {@link PartFile} (the
 * part file, its {@code O_DIRECT} channel and aligned buffers), {@link PieceBook} (digests,
 * waiting copies, verdicts, who may write into which piece), {@link Checkpointer} (the resume
 * log) and, with {@code verifyDisk}, {@link DiskReadBack} (the whole file's SHA-256 read back
 * from disk). It holds no lock of its own; links on different event loops and writer threads
 * call in concurrently.
 */
public final class PieceStore implements AutoCloseable {
    /**
     * What became of a piece handed to {@link #complete}. {@code OVERWRITTEN}: the link's digest
     * matched, but another link's copy of the same piece wrote into it before it was verified
     * and the bytes on disk do not match: the piece is fetched again, and neither link is
     * blamed for it (the other copy fails its own hash, if it was the bad one).
     */
    public enum Outcome { VERIFIED, FAILED, DUPLICATE, PENDING, OVERWRITTEN }

    /**
     * The owner of a copy handed to {@link #complete} that is not a biternet link's (an HTTP
     * mirror's channel in a download that also has a biternet server): told the verdict on a
     * copy that waited for its digest ({@link Outcome#PENDING}).
     */
    public interface Judge {
        void judged(int index, Outcome outcome);
    }

    /** A piece whose digest waited for its hash and has now been judged. */
    public record Resolved(int index, Object owner, Outcome outcome) {
        /** True if the piece is verified (now or before). */
        public boolean ok() {
            return outcome == Outcome.VERIFIED || outcome == Outcome.DUPLICATE;
        }
    }

    /**
     * The most pieces a download may have: the store keeps 32 bytes of digest and a few flags per
     * piece in memory (about 80 MiB at this limit). A server's default layout has at most
     * 262,144 pieces for files of up to 4 TiB, and in 16 MiB pieces this limit is 32 TiB; a
     * layout of more pieces is refused before anything is allocated or written.
     */
    public static final int MAX_PIECES = 1 << 21;

    private final Path out;
    private final PieceLayout layout;
    private final PartFile part;
    private final PieceBook book;
    private final PieceBudget budget;
    /** Null without a resume log. */
    private final Checkpointer checkpointer;
    /** Null without {@code verifyDisk}. */
    private final DiskReadBack readBack;
    /** Pieces verified by a previous run (re-hashed from disk) and taken over by this one. */
    private final int resumedCount;

    public PieceStore(Path out, PieceLayout layout) throws IOException {
        this(out, layout, false);
    }

    /** A store without a resume log; {@code verifyDisk}: see {@link DiskReadBack}. */
    public PieceStore(Path out, PieceLayout layout, boolean verifyDisk) throws IOException {
        this(out, layout, null, Map.of(), verifyDisk);
    }

    /**
     * A store that logs verified pieces to {@code log} (see {@link Checkpointer}) and, if
     * {@code resumed} is not empty, keeps the part file and takes those pieces (index to digest,
     * already re-hashed from disk by {@link #recheck}) as verified. {@code verifyDisk}: see
     * {@link DiskReadBack}.
     */
    public PieceStore(Path out, PieceLayout layout, ResumeLog log, Map<Integer, byte[]> resumed, boolean verifyDisk)
            throws IOException {
        this.out = out;
        this.layout = layout;
        this.part = new PartFile(out, layout.pieceSize(), !resumed.isEmpty());
        this.budget = PieceBudget.forPieceSize(layout.pieceSize());
        DiskReadBack rb = verifyDisk ? new DiskReadBack(part, layout) : null;
        Checkpointer cp = log == null ? null : new Checkpointer(log, part, layout);
        this.readBack = rb;
        this.checkpointer = cp;
        this.resumedCount = resumed.size();
        this.book = new PieceBook(layout, part, resumed, new PieceBook.Listener() {
            @Override
            public void verified(int index, byte[] digest) {
                if (cp != null) {
                    cp.verified(index, digest);
                }
            }

            @Override
            public void prefix(int from, int to) {
                if (rb != null) {
                    rb.follow(from, to);
                }
            }
        });
    }

    /**
     * Re-hashes the pieces a previous run logged, reading them back from {@code OUT.part}, and
     * returns those whose bytes still match the logged digest. A piece the log names but the
     * disk does not hold (torn, truncated, corrupted) is simply fetched again.
     */
    public static Map<Integer, byte[]> recheck(Path out, PieceLayout layout, Map<Integer, byte[]> logged)
            throws IOException {
        return Checkpointer.recheck(out, layout, logged);
    }

    /** {@code OUT.part}: where the download is written until it is verified and renamed to {@code out}. */
    public static Path partFor(Path out) {
        return PartFile.partFor(out);
    }

    /** Pieces taken over from a previous run. */
    public int resumedCount() {
        return resumedCount;
    }

    /** The verified pieces as a bitmap: bit i (least significant first in each byte) = piece i. */
    public byte[] haveBitmap() {
        return book.haveBitmap();
    }

    /**
     * Makes the pieces verified so far durable: first their bytes (the part file is forced),
     * then the log records that name them. Any thread; checkpoints do not overlap.
     */
    public void checkpoint() throws IOException {
        if (checkpointer != null) {
            checkpointer.checkpoint();
        }
    }

    public PieceLayout layout() {
        return layout;
    }

    public Path partPath() {
        return part.path();
    }

    /** {@link #write(int, long, ByteBuffer, Object)} for a caller that is the only writer. */
    public boolean write(int index, long position, ByteBuffer src) throws IOException {
        return write(index, position, src, null);
    }

    /**
     * Writes bytes of piece {@code index} at {@code position}, unless the piece is already
     * verified: then the bytes are another link's late copy and are dropped, so a late (possibly
     * corrupt) endgame copy can never overwrite verified data. Returns false if dropped.
     * {@code writer} names the link (its handler): when two links write into the same piece
     * before it is verified, the piece is read back from disk before it counts. Any thread;
     * writes of different pieces do not contend.
     */
    public boolean write(int index, long position, ByteBuffer src, Object writer) throws IOException {
        return book.write(index, position, src, writer);
    }

    /**
     * Writes the whole of piece {@code index} from {@code piece} (position 0 to its length),
     * with the same rules as {@link #write(int, long, ByteBuffer, Object)}: dropped (false) if
     * the piece is verified already. Goes straight to the disk ({@code O_DIRECT}) where the file
     * system allows it ({@link PartFile}). {@code piece} must come from {@link #pieceBuffer}
     * (aligned). Any thread.
     */
    public boolean writePiece(int index, ByteBuffer piece, Object writer) throws IOException {
        return book.writePiece(index, piece, writer);
    }

    /** True while whole pieces are written with {@code O_DIRECT}. */
    public boolean writesDirect() {
        return part.writesDirect();
    }

    /**
     * A buffer for one whole piece, aligned for {@link #writePiece}: a recycled one if there is
     * one. Position 0, limit the piece size.
     */
    public ByteBuffer pieceBuffer() {
        return part.pieceBuffer();
    }

    /** What the download's connections may hold in memory beyond their own pieces, shared by all. */
    public PieceBudget budget() {
        return budget;
    }

    /** Takes back a buffer from {@link #pieceBuffer} that nobody uses any more. */
    public void recycle(ByteBuffer buffer) {
        part.recycle(buffer);
    }

    /**
     * Adds server digests for pieces [first, first + n). Returns the pending pieces they decide.
     * A digest that contradicts one already known means the server is inconsistent.
     */
    public List<Resolved> addHashes(int first, byte[] digests) throws IOException {
        return book.addHashes(first, digests);
    }

    /**
     * {@link #addHashes} for one digest, the one a piece's first block carries: called once per
     * piece on a link's event loop, so it copies straight from the frame and allocates nothing
     * when no copy of the piece was waiting for it (the usual case).
     */
    public List<Resolved> addDigest(int index, com.google.protobuf.ByteString digest) throws IOException {
        return book.addDigest(index, digest);
    }

    /** Sets the root hash and whole-file SHA-256 the server announced. */
    public void setRoot(byte[] rootHash, byte[] fileSha256) {
        book.setRoot(rootHash, fileSha256);
    }

    /** Completes when the server's root hash and file SHA-256 are known. */
    public CompletableFuture<Void> rootKnown() {
        return book.rootKnown();
    }

    public String rootHex() {
        return book.rootHex();
    }

    /**
     * A link received all bytes of {@code index} and computed {@code digest} over them.
     * {@code owner} is told through {@link #addHashes}'s result if the hash is not known yet.
     */
    public Outcome complete(int index, byte[] digest, Object owner) {
        return book.complete(index, digest, owner);
    }

    /** The first piece whose digest is not known yet (the piece count once every one is). */
    public int firstUnknownHash() {
        return book.firstUnknownHash();
    }

    public int verifiedCount() {
        return book.verifiedCount();
    }

    public boolean isVerified(int index) {
        return book.isVerified(index);
    }

    /** Completes when every piece is verified. */
    public CompletableFuture<Void> allVerified() {
        return book.allVerified();
    }

    /** True if {@link #finish} checks the whole file's SHA-256 read back from the part file. */
    public boolean verifiesDisk() {
        return readBack != null;
    }

    /**
     * Checks the piece hashes against the server's root hash (and with {@code verifyDisk} the
     * whole file's SHA-256 read back from disk against the server's), syncs the file and renames
     * it into place. Returns the file's SHA-256.
     */
    public byte[] finish() throws IOException, IntegrityException {
        byte[] fileSha = book.checkRoot();
        byte[] actual = fileSha;
        if (readBack != null) {
            actual = readBack.digest();
            if (!Arrays.equals(actual, fileSha)) {
                throw new IntegrityException("the file on disk does not match the server's SHA-256 "
                        + Digests.hex(fileSha)
                        + " (got " + Digests.hex(actual) + ")");
            }
        }
        moveIntoPlace();
        return actual;
    }

    /**
     * A piece from a source that gives no piece hashes (an HTTP mirror), written by
     * {@code owner}: its digest, computed from the bytes received, becomes the piece's hash, so
     * the resume state can re-check it from disk. Nothing here says the bytes are right; the
     * whole file's check is {@link #finishUnhashed}'s.
     */
    public Outcome completeUnhashed(int index, byte[] digest, Object owner) throws IOException {
        book.addHashes(index, digest);
        return book.complete(index, digest, owner);
    }

    /**
     * {@link #finish} for a download whose pieces came without hashes: the whole file's SHA-256
     * read back from disk (the store must have been made with {@code verifyDisk}) is checked
     * against {@code expectedSha} (the user's {@code --checksum}; null: nothing to check it
     * against), then the file is synced and renamed into place. Returns the file's SHA-256; on a
     * mismatch {@code OUT.part} stays where it is.
     */
    public byte[] finishUnhashed(byte[] expectedSha) throws IOException, IntegrityException {
        if (readBack == null) {
            throw new IllegalStateException("a download without piece hashes reads the file back (verifyDisk)");
        }
        byte[] actual = readBack.digest();
        if (expectedSha != null && !Arrays.equals(actual, expectedSha)) {
            throw new IntegrityException("the file's SHA-256 is " + Digests.hex(actual) + ", not the --checksum "
                    + Digests.hex(expectedSha) + "; " + part.path() + " is kept, not renamed");
        }
        moveIntoPlace();
        return actual;
    }

    private void moveIntoPlace() throws IOException {
        if (checkpointer != null) {
            checkpointer.stop();
        }
        part.moveTo(out, layout.fileSize());
        if (checkpointer != null) {
            checkpointer.finished();
        }
    }

    @Override
    public void close() throws IOException {
        if (readBack != null) {
            readBack.close();
        }
        try {
            if (checkpointer != null) {
                checkpointer.close();
            }
        } finally {
            part.close();
        }
    }

    /** The data or the server's hashes do not check out. */
    public static final class IntegrityException extends Exception {
        private static final long serialVersionUID = 1L;

        public IntegrityException(String message) {
            super(message);
        }
    }
}
