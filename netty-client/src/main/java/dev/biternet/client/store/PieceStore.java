package dev.biternet.client.store;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The download on disk: {@code OUT.part}, written at each piece's offset with positional writes,
 * and what is known about each piece. Links hand over whole pieces ({@link #writePiece}), which
 * go to the disk with {@code O_DIRECT} where the file system allows it, bypassing the page
 * cache: on these VMs filling new page-cache pages cost a download more CPU than receiving or
 * hashing (bench/README.md, "Direct writes").
 *
 * <p>Links hash a piece's bytes as they arrive and hand the digest to {@link #complete}; the
 * piece counts only if the digest equals the server's. Hashes may arrive after the piece (the
 * server streams them for files it is still hashing); such a digest waits here until its hash
 * comes. Before the rename the piece hashes must add up to the server's root hash, so every
 * byte written was checked against the server's file.
 *
 * <p>With {@code verifyDisk} a background reader also follows the contiguous verified prefix and
 * hashes the bytes back from the part file, so the whole file's SHA-256 is computed from what
 * the file really holds and compared with the server's before the rename. That is a second
 * SHA-256 pass and a read of every byte (about 0.7 CPU s per GiB here), so it is opt-in
 * ({@code biternet-get --verify-disk}); without it the SHA-256 reported is the server's, which
 * the verified pieces are the bytes of.
 *
 * <p>{@code OUT.part} is created new or opened as an existing regular file of its own, never
 * through a link ({@link LocalFiles}), and {@link #finish} renames it only if the name still
 * leads to the file this store wrote and holds open, and only over a regular file or nothing.
 *
 * <p>Thread-safe: links on different event loops call in concurrently; state is guarded by
 * this object's lock, file writes are positional and need no lock.
 */
public final class PieceStore implements AutoCloseable {
    /**
     * What became of a piece handed to {@link #complete}. {@code OVERWRITTEN}: the link's digest
     * matched, but another link's copy of the same piece wrote into it before it was verified
     * and the bytes on disk do not match: the piece is fetched again, and neither link is
     * blamed for it (the other copy fails its own hash, if it was the bad one).
     */
    public enum Outcome { VERIFIED, FAILED, DUPLICATE, PENDING, OVERWRITTEN }

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
    private final Path part;
    private final PieceLayout layout;
    private final FileChannel channel;
    /** The part file's identity (device and inode), to check before the rename that it is still the one written. */
    private final Object partKey;
    /**
     * The part file opened with {@code O_DIRECT} for whole pieces ({@link #writePiece}), or null
     * where the file system refuses it (tmpfs) or it failed once: then every write goes through
     * the page cache on {@link #channel}.
     */
    private final java.util.concurrent.atomic.AtomicReference<FileChannel> direct =
            new java.util.concurrent.atomic.AtomicReference<>();
    /** What {@code O_DIRECT} writes must be aligned to: buffer address, offset and length. */
    private final int alignment;
    /** Piece buffers handed back by {@link #recycle}, for the next pieces. */
    private final java.util.concurrent.ConcurrentLinkedQueue<ByteBuffer> spare = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicInteger spareCount = new java.util.concurrent.atomic.AtomicInteger();
    private static final int MAX_SPARE = 64;
    private final byte[] expected;
    private final BitSet known = new BitSet();
    private final BitSet verified = new BitSet();
    private final Map<Integer, List<Pending>> pending = new HashMap<>();
    /** Verified pieces, read under the piece's stripe lock by writers. */
    private final boolean[] verifiedFlags;
    /**
     * Per piece, the first link that wrote into it since it was last judged, and whether a
     * second one did too (endgame copies racing): such a piece is read back from disk and
     * hashed before it counts. Under the piece's stripe lock.
     */
    private final Object[] writers;
    private final boolean[] contested;
    /** Buffer for reading contested pieces back (under this object's lock). */
    private ByteBuffer checkBuffer;
    private static final Object ANONYMOUS = new Object();
    /**
     * Piece locks. A whole-piece write holds its piece's stripe for the disk's time (O_DIRECT),
     * and {@link #complete} holds this object's monitor while it takes a stripe: 1,024 stripes
     * keep the chance that a verdict waits behind another piece's write at about 1 in 1,000.
     */
    private final Object[] stripes = new Object[1024];
    private final CompletableFuture<Void> allVerified = new CompletableFuture<>();
    private final CompletableFuture<Void> rootKnown = new CompletableFuture<>();
    private final ExecutorService reader;
    private final MessageDigest wholeFile = Digests.sha256();
    /** Read every verified byte back and check the whole file's SHA-256 before the rename. */
    private final boolean verifyDisk;
    private byte[] root;
    private byte[] serverFileSha;
    private int contiguous;
    /** Bytes read back since the last background sync (reader thread only). */
    private long unsynced;
    private static final long SYNC_EVERY_BYTES = 16L << 20;
    /** The reader thread's one buffer: direct, so reads need no copy; SHA-256 reads it as fast as an array. */
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(1 << 20);
    private CompletableFuture<Void> readChain = CompletableFuture.completedFuture(null);

    private record Pending(byte[] digest, Object owner) {}

    /** Crash-safe record of verified pieces, or null (tests that need none). */
    private final ResumeLog log;
    /** Verified pieces not yet in the log (guarded by this). */
    private List<ResumeLog.Entry> unlogged = new ArrayList<>();
    private final Object checkpointLock = new Object();
    private final java.util.concurrent.ScheduledExecutorService checkpointer;
    /** Pieces verified by a previous run (re-hashed from disk) and taken over by this one. */
    private final int resumedCount;
    private static final long CHECKPOINT_MILLIS = 500;
    /**
     * A checkpoint also runs once this much has been verified since the last: 0.5 % of the file
     * (at least a piece), but not more often than every 50 ms. A killed run then loses at most
     * about that much, or 50 ms of data on a fast link (plus the pieces it was receiving), and
     * the syncs stay below 20 a second however fast the links are.
     */
    private final long checkpointBytes;
    private static final long MIN_CHECKPOINT_GAP_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50);
    private long lastCheckpointNanos = System.nanoTime();
    private long unloggedBytes;
    private boolean checkpointQueued;

    public PieceStore(Path out, PieceLayout layout) throws IOException {
        this(out, layout, false);
    }

    /** A store without a resume log; {@code verifyDisk}: see the class comment. */
    public PieceStore(Path out, PieceLayout layout, boolean verifyDisk) throws IOException {
        this(out, layout, null, Map.of(), verifyDisk);
    }

    /**
     * A store that logs verified pieces to {@code log} (every {@value #CHECKPOINT_MILLIS} ms and
     * on close) and, if {@code resumed} is not empty, keeps the part file and takes those
     * pieces (index to digest, already re-hashed from disk) as verified. {@code verifyDisk}: see
     * the class comment.
     */
    public PieceStore(Path out, PieceLayout layout, ResumeLog log, Map<Integer, byte[]> resumed, boolean verifyDisk)
            throws IOException {
        this.out = out;
        this.verifyDisk = verifyDisk;
        this.log = log;
        this.part = partFor(out);
        this.layout = layout;
        this.expected = new byte[layout.pieceCount() * Digests.SHA256_BYTES];
        this.verifiedFlags = new boolean[layout.pieceCount()];
        this.writers = new Object[layout.pieceCount()];
        this.contested = new boolean[layout.pieceCount()];
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new Object();
        }
        this.channel = resumed.isEmpty()
                ? LocalFiles.createNew(part, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : LocalFiles.openExisting(part, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            this.partKey = LocalFiles.openedKey(part);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        int block = 4096;
        FileChannel d = null;
        try {
            long reported = Files.getFileStore(part).getBlockSize();
            if (reported >= 512 && reported <= 1 << 16 && Long.bitCount(reported) == 1) {
                block = (int) reported;
                d = FileChannel.open(part, StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT,
                        java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (!LocalFiles.isStill(part, partKey)) {
                    d.close();
                    throw LocalFiles.replacedWhileOpening(part);
                }
            }
        } catch (LocalFiles.Refused e) {
            channel.close();
            throw e;
        } catch (IOException | UnsupportedOperationException e) {
            // no O_DIRECT here: the page cache it is
        }
        this.alignment = block;
        this.direct.set(d);
        this.reader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "biternet-verify");
            t.setDaemon(true);
            return t;
        });
        this.resumedCount = resumed.size();
        this.checkpointBytes = Math.max(layout.pieceSize(), layout.fileSize() / 200);
        synchronized (this) {
            for (Map.Entry<Integer, byte[]> e : resumed.entrySet()) {
                int index = e.getKey();
                System.arraycopy(e.getValue(), 0, expected, index * Digests.SHA256_BYTES, Digests.SHA256_BYTES);
                known.set(index);
                verified.set(index);
                verifiedFlags[index] = true;
            }
            advancePrefix();
        }
        if (verified.cardinality() == layout.pieceCount()) {
            allVerified.complete(null);
        }
        if (log != null) {
            this.checkpointer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "biternet-checkpoint");
                t.setDaemon(true);
                return t;
            });
            checkpointer.scheduleWithFixedDelay(this::checkpointQuietly, CHECKPOINT_MILLIS, CHECKPOINT_MILLIS,
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        } else {
            this.checkpointer = null;
        }
    }

    /**
     * Re-hashes the pieces a previous run logged, reading them back from {@code OUT.part}, and
     * returns those whose bytes still match the logged digest. A piece the log names but the
     * disk does not hold (torn, truncated, corrupted) is simply fetched again.
     */
    public static Map<Integer, byte[]> recheck(Path out, PieceLayout layout, Map<Integer, byte[]> logged)
            throws IOException {
        Path part = partFor(out);
        Map<Integer, byte[]> good = new java.util.TreeMap<>();
        if (logged.isEmpty() || LocalFiles.lstat(part) == null) {
            return good;
        }
        ByteBuffer buf = ByteBuffer.allocateDirect(READ_BUFFER_BYTES);
        try (FileChannel c = LocalFiles.openExisting(part, StandardOpenOption.READ)) {
            for (Map.Entry<Integer, byte[]> e : logged.entrySet()) {
                int index = e.getKey();
                if (index >= 0 && index < layout.pieceCount()
                        && Arrays.equals(digestOnDisk(c, layout, index, buf), e.getValue())) {
                    good.put(index, e.getValue());
                }
            }
        }
        return good;
    }

    /** Chunk size for reading pieces back from the part file. */
    private static final int READ_BUFFER_BYTES = 1 << 20;

    /**
     * SHA-256 of piece {@code index} as the part file holds it, read through {@code buf} in
     * chunks; null if the file ends before the piece does.
     */
    private static byte[] digestOnDisk(FileChannel c, PieceLayout layout, int index, ByteBuffer buf)
            throws IOException {
        MessageDigest md = Digests.sha256();
        long pos = layout.offset(index);
        long end = pos + layout.length(index);
        while (pos < end) {
            buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
            int n = c.read(buf, pos);
            if (n < 0) {
                return null;
            }
            buf.flip();
            md.update(buf);
            pos += n;
        }
        return md.digest();
    }

    /** {@code OUT.part}: where the download is written until it is verified and renamed to {@code out}. */
    public static Path partFor(Path out) {
        return out.resolveSibling(out.getFileName() + ".part");
    }

    /** Pieces taken over from a previous run. */
    public int resumedCount() {
        return resumedCount;
    }

    /** The verified pieces as a bitmap: bit i (least significant first in each byte) = piece i. */
    public synchronized byte[] haveBitmap() {
        return Arrays.copyOf(verified.toByteArray(), (layout.pieceCount() + 7) / 8);
    }

    /**
     * Makes the pieces verified so far durable: first their bytes (the part file is forced),
     * then the log records that name them. A piece verified while this runs is in the next
     * checkpoint. Any thread; checkpoints do not overlap.
     */
    public void checkpoint() throws IOException {
        if (log == null) {
            return;
        }
        synchronized (checkpointLock) {
            List<ResumeLog.Entry> batch;
            synchronized (this) {
                checkpointQueued = false;
                if (unlogged.isEmpty()) {
                    return;
                }
                unloggedBytes = 0;
                batch = unlogged;
                unlogged = new ArrayList<>();
            }
            try {
                channel.force(false);
                log.append(batch);
            } catch (IOException e) {
                synchronized (this) {
                    batch.addAll(unlogged);
                    unlogged = batch;
                }
                throw e;
            }
        }
    }

    /**
     * Stops the timer and waits for a running checkpoint. Not shutdownNow: interrupting a
     * thread inside a FileChannel operation closes the channel.
     */
    private void stopCheckpoints() {
        if (checkpointer == null) {
            return;
        }
        checkpointer.shutdown();
        try {
            checkpointer.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void checkpointQuietly() {
        try {
            checkpoint();
        } catch (IOException | RuntimeException e) {
            // disk full or closed: the log lags behind the part file, which is always safe
        }
    }

    public PieceLayout layout() {
        return layout;
    }

    public Path partPath() {
        return part;
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
     * pieces are locked in stripes so writes of different pieces do not contend.
     */
    public boolean write(int index, long position, ByteBuffer src, Object writer) throws IOException {
        synchronized (stripe(index)) {
            if (!claim(index, writer)) {
                return false;
            }
            writeFully(channel, src, position);
            return true;
        }
    }

    /**
     * Under the piece's stripe lock: false if the piece is verified (the bytes are dropped);
     * otherwise records {@code writer} as one that wrote into it.
     */
    private boolean claim(int index, Object writer) {
        if (verifiedFlags[index]) {
            return false;
        }
        Object who = writer == null ? ANONYMOUS : writer;
        if (writers[index] == null) {
            writers[index] = who;
        } else if (writers[index] != who) {
            contested[index] = true;
        }
        return true;
    }

    /**
     * Writes the whole of piece {@code index} from {@code piece} (position 0 to its length),
     * with the same rules as {@link #write(int, long, ByteBuffer, Object)}: dropped (false) if
     * the piece is verified already. Pieces whose length is a multiple of the file system's
     * block go straight to the disk ({@code O_DIRECT}) where the file system allows it: no page
     * cache pages to allocate and copy into, which on these VMs cost more CPU than anything
     * else a download does (bench/README.md, "Direct writes"). {@code piece} must come from
     * {@link #pieceBuffer} (aligned). Any thread.
     */
    public boolean writePiece(int index, ByteBuffer piece, Object writer) throws IOException {
        FileChannel d = direct.get();
        if (d == null || piece.remaining() % alignment != 0 || layout.offset(index) % alignment != 0) {
            return write(index, layout.offset(index), piece, writer);
        }
        synchronized (stripe(index)) {
            if (!claim(index, writer)) {
                return false;
            }
            int start = piece.position();
            try {
                writeFully(d, piece, layout.offset(index));
                return true;
            } catch (IOException e) {
                if (!channel.isOpen()) {
                    throw e; // the store is closing
                }
                // Whatever O_DIRECT refused (alignment it did not announce, a file system that
                // takes the flag but not the writes), the page cache takes from now on; a full
                // disk fails there too and is reported as such. A write on another thread that
                // meets the channel closed here falls back the same way.
                if (direct.compareAndSet(d, null)) {
                    try {
                        d.close();
                    } catch (IOException ignored) {
                        // it is given up either way
                    }
                }
                writeFully(channel, piece.position(start), layout.offset(index));
                return true;
            }
        }
    }

    private void closeDirect() throws IOException {
        FileChannel d = direct.getAndSet(null);
        if (d != null) {
            d.close();
        }
    }

    /** True while whole pieces are written with {@code O_DIRECT}. */
    public boolean writesDirect() {
        return direct.get() != null;
    }

    /**
     * A buffer for one whole piece, aligned for {@link #writePiece}: a recycled one if there is
     * one. Position 0, limit the piece size.
     */
    public ByteBuffer pieceBuffer() {
        ByteBuffer b = spare.poll();
        if (b != null) {
            spareCount.decrementAndGet();
            return b.clear().limit(layout.pieceSize());
        }
        int size = (layout.pieceSize() + alignment - 1) / alignment * alignment;
        return ByteBuffer.allocateDirect(size + alignment).alignedSlice(alignment).limit(layout.pieceSize());
    }

    /** Takes back a buffer from {@link #pieceBuffer} that nobody uses any more. */
    public void recycle(ByteBuffer buffer) {
        if (spareCount.incrementAndGet() <= MAX_SPARE) {
            spare.add(buffer);
        } else {
            spareCount.decrementAndGet();
        }
    }

    private static void writeFully(FileChannel to, ByteBuffer src, long position) throws IOException {
        while (src.hasRemaining()) {
            position += to.write(src, position);
        }
    }

    private Object stripe(int index) {
        return stripes[index & (stripes.length - 1)];
    }

    /**
     * Adds server digests for pieces [first, first + n). Returns the pending pieces they decide.
     * A digest that contradicts one already known means the server is inconsistent.
     */
    public synchronized List<Resolved> addHashes(int first, byte[] digests) throws IOException {
        int n = digests.length / Digests.SHA256_BYTES;
        if (digests.length % Digests.SHA256_BYTES != 0 || first < 0 || first + n > layout.pieceCount()) {
            throw new IOException("server sent hashes for pieces outside 0.." + layout.pieceCount());
        }
        List<Resolved> resolved = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = first + i;
            int at = index * Digests.SHA256_BYTES;
            if (known.get(index)) {
                if (!Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digests, i * 32, i * 32 + 32)) {
                    throw new IOException("server sent two different hashes for piece " + index);
                }
                continue;
            }
            System.arraycopy(digests, i * Digests.SHA256_BYTES, expected, at, Digests.SHA256_BYTES);
            known.set(index);
            resolved.addAll(judgeWaiting(index));
        }
        return resolved;
    }

    /**
     * {@link #addHashes} for one digest, the one a piece's first block carries: called once per
     * piece on a link's event loop, so it copies straight from the frame and allocates nothing
     * when no copy of the piece was waiting for it (the usual case).
     */
    public synchronized List<Resolved> addDigest(int index, com.google.protobuf.ByteString digest) throws IOException {
        if (index < 0 || index >= layout.pieceCount() || digest.size() != Digests.SHA256_BYTES) {
            throw new IOException("server sent a digest of " + digest.size() + " bytes for piece " + index);
        }
        int at = index * Digests.SHA256_BYTES;
        if (known.get(index)) {
            for (int i = 0; i < Digests.SHA256_BYTES; i++) {
                if (digest.byteAt(i) != expected[at + i]) {
                    throw new IOException("server sent two different hashes for piece " + index);
                }
            }
            return List.of();
        }
        digest.copyTo(expected, at);
        known.set(index);
        return judgeWaiting(index);
    }

    /** {@code index}'s digest just became known: judges the copies that waited for it. */
    private List<Resolved> judgeWaiting(int index) {
        List<Pending> waiting = pending.remove(index);
        if (waiting == null) {
            return List.of();
        }
        List<Resolved> out = new ArrayList<>(waiting.size());
        for (Pending p : waiting) {
            out.add(new Resolved(index, p.owner(), judge(index, p.digest())));
        }
        return out;
    }

    /** Sets the root hash and whole-file SHA-256 the server announced. */
    public synchronized void setRoot(byte[] rootHash, byte[] fileSha256) {
        this.root = rootHash.clone();
        this.serverFileSha = fileSha256.clone();
        rootKnown.complete(null);
    }

    /** Completes when the server's root hash and file SHA-256 are known. */
    public CompletableFuture<Void> rootKnown() {
        return rootKnown;
    }

    public synchronized String rootHex() {
        return root == null ? "" : Digests.hex(root);
    }

    /**
     * A link received all bytes of {@code index} and computed {@code digest} over them.
     * {@code owner} is told through {@link #addHashes}'s result if the hash is not known yet.
     */
    public synchronized Outcome complete(int index, byte[] digest, Object owner) {
        if (verified.get(index)) {
            return Outcome.DUPLICATE;
        }
        if (!known.get(index)) {
            pending.computeIfAbsent(index, k -> new ArrayList<>(1)).add(new Pending(digest, owner));
            return Outcome.PENDING;
        }
        return judge(index, digest);
    }

    private Outcome judge(int index, byte[] digest) {
        if (verified.get(index)) {
            return Outcome.DUPLICATE;
        }
        int at = index * Digests.SHA256_BYTES;
        if (!Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digest, 0, Digests.SHA256_BYTES)) {
            // The writers stay recorded: a copy still arriving on another link may have had
            // blocks overwritten by this one, and must then be checked on disk.
            return Outcome.FAILED;
        }
        boolean readBack;
        synchronized (stripe(index)) {
            // From here on no copy writes into the piece; if two did before, check the disk.
            verifiedFlags[index] = true;
            readBack = contested[index];
            writers[index] = null;
            contested[index] = false;
        }
        if (readBack && !onDiskMatches(index, at)) {
            synchronized (stripe(index)) {
                // Writes dropped while the flag was up leave the disk behind what their
                // link hashed: whatever copy completes next is checked on disk too.
                verifiedFlags[index] = false;
                writers[index] = ANONYMOUS;
                contested[index] = true;
            }
            return Outcome.OVERWRITTEN;
        }
        verified.set(index);
        if (log != null) {
            unlogged.add(new ResumeLog.Entry(index, digest.clone()));
            unloggedBytes += layout.length(index);
            long now = System.nanoTime();
            if (unloggedBytes >= checkpointBytes && !checkpointQueued && now - lastCheckpointNanos >= MIN_CHECKPOINT_GAP_NANOS) {
                checkpointQueued = true;
                lastCheckpointNanos = now;
                try {
                    checkpointer.execute(this::checkpointQuietly);
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // closed: a late piece of a download that is over; close() checkpointed
                    checkpointQueued = false;
                }
            }
        }
        advancePrefix();
        if (verified.cardinality() == layout.pieceCount()) {
            allVerified.complete(null);
        }
        return Outcome.VERIFIED;
    }

    /**
     * Reads piece {@code index} back from the part file and compares its digest with the
     * server's. Anything that goes wrong (an I/O error, no memory for the buffer) counts as a
     * mismatch: the piece is then fetched again, never trusted unread.
     */
    private boolean onDiskMatches(int index, int at) {
        try {
            if (checkBuffer == null) {
                checkBuffer = ByteBuffer.allocateDirect(READ_BUFFER_BYTES);
            }
            byte[] digest = digestOnDisk(channel, layout, index, checkBuffer);
            return digest != null && Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digest, 0, Digests.SHA256_BYTES);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            return false;
        }
    }

    private void advancePrefix() {
        int before = contiguous;
        while (contiguous < layout.pieceCount() && verified.get(contiguous)) {
            contiguous++;
        }
        if (contiguous > before && verifyDisk) {
            int from = before;
            int to = contiguous;
            readChain = readChain.thenRunAsync(() -> hashBack(from, to), reader);
        }
    }

    /** Hashes pieces [from, to) back from disk into the whole-file digest (reader thread only). */
    private void hashBack(int from, int to) {
        ByteBuffer buf = readBuffer;
        long end = to == layout.pieceCount() ? layout.fileSize() : layout.offset(to);
        long pos = layout.offset(from);
        try {
            while (pos < end) {
                buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                int n = channel.read(buf, pos);
                if (n < 0) {
                    throw new IOException("part file shorter than written");
                }
                buf.flip();
                wholeFile.update(buf);
                pos += n;
            }
            unsynced += end - layout.offset(from);
            if (unsynced >= SYNC_EVERY_BYTES) {
                // Flush as we go, so the final sync before the rename has little left to write.
                channel.force(false);
                unsynced = 0;
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public synchronized int verifiedCount() {
        return verified.cardinality();
    }

    public synchronized boolean isVerified(int index) {
        return verified.get(index);
    }

    /** Completes when every piece is verified. */
    public CompletableFuture<Void> allVerified() {
        return allVerified;
    }

    /** True if {@link #finish} checks the whole file's SHA-256 read back from the part file. */
    public boolean verifiesDisk() {
        return verifyDisk;
    }

    /**
     * Checks the piece hashes against the server's root hash (and with {@code verifyDisk} the
     * whole file's SHA-256 read back from disk against the server's), syncs the file and renames
     * it into place. Returns the file's SHA-256.
     */
    public byte[] finish() throws IOException, IntegrityException {
        byte[] rootHash;
        byte[] fileSha;
        CompletableFuture<Void> chain;
        synchronized (this) {
            if (verified.cardinality() != layout.pieceCount()) {
                throw new IllegalStateException("finish before all pieces verified");
            }
            rootHash = root;
            fileSha = serverFileSha;
            chain = readChain;
        }
        if (rootHash == null) {
            throw new IntegrityException("the server never sent the root hash");
        }
        if (!Arrays.equals(Digests.root(expected), rootHash)) {
            throw new IntegrityException("piece hashes do not add up to the server's root hash");
        }
        byte[] actual = fileSha;
        if (verifyDisk) {
            try {
                chain.join();
            } catch (java.util.concurrent.CompletionException e) {
                throw new IOException("reading the file back failed: " + e.getCause().getMessage(), e.getCause());
            }
            synchronized (this) {
                actual = wholeFile.digest();
            }
            if (!Arrays.equals(actual, fileSha)) {
                throw new IntegrityException("the file on disk does not match the server's SHA-256 "
                        + Digests.hex(fileSha) + " (got " + Digests.hex(actual) + ")");
            }
        }
        stopCheckpoints();
        try {
            closeDirect();
        } catch (IOException e) {
            // its writes returned; the force below makes them durable through the other channel
        }
        channel.truncate(layout.fileSize());
        channel.force(true);
        // What is renamed must be what was written and verified (a part file replaced under this
        // run, by hand or by a tool, is not), and only a regular file or nothing is replaced.
        if (!LocalFiles.isStill(part, partKey)) {
            throw new LocalFiles.Refused(part + " is no longer the file this download wrote (replaced or removed"
                    + " meanwhile); " + out + " was not written: rerun to start over");
        }
        LocalFiles.requireRegularOrAbsent(out, "; " + part + " is kept: remove " + out + " or choose another -o, then rerun");
        channel.close();
        try {
            Files.move(part, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
            Files.move(part, out, StandardCopyOption.REPLACE_EXISTING);
        }
        if (log != null) {
            log.delete();
        }
        return actual;
    }

    @Override
    public void close() throws IOException {
        reader.shutdownNow();
        stopCheckpoints();
        try {
            if (channel.isOpen()) {
                checkpointQuietly();
            }
        } finally {
            try {
                closeDirect();
            } catch (IOException e) {
                // its writes are done or failed; the part file's own channel matters here
            }
            if (channel.isOpen()) {
                channel.close();
            }
            if (log != null) {
                log.close();
            }
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
