package dev.biternet.server.files;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * Computes and caches piece hashes, once per file version, reading through the descriptor the
 * session opened ({@link ServedFile}), never by name. The hashing threads take the files being
 * waited for in turn, a slice of at most {@link #SLICE_BYTES} at a time, so a small file is not
 * stuck behind a huge one; a file nobody wants any more (no session listening, not asked for
 * lately) is paused and its descriptor closed, keeping what was hashed for the next request.
 * Hashes are published in small batches, so a session can serve the first pieces of a huge file
 * while the rest is still being hashed. Entries are keyed by {@link FileVersion}, so a changed
 * file (size, times or inode) is hashed anew; the cache keeps the most recent versions. With a
 * {@link HashCache}, a file's first turn looks for its digests there before reading it, and a
 * file hashed to the end is saved there. With {@link SharedDigests} (the cluster), the digests
 * another node published are taken instead of reading the file, once a few sampled pieces of
 * this node's copy match them ({@link #SAMPLES}); a file hashed here is published there.
 */
public final class FileHasher implements AutoCloseable {
    /** Bytes one turn hashes (at least a piece) before the next waiting file gets its turn. */
    static final long SLICE_BYTES = 4 << 20;
    private static final int PUBLISH_EVERY = 8;
    /** How long a file asked for counts as wanted before a session listens to its hashes. */
    private static final long ASKED_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /**
     * A file another node is hashing is asked for again after this long. Its job goes back in
     * turn meanwhile: a hashing thread that waited on it could hold up a file this node is
     * hashing, which that other node may in turn be waiting for.
     */
    static final long SHARED_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    private final int maxEntries;
    private final long askedGraceNanos;
    private final Map<FileVersion, Job> cache;
    /** Digests kept on disk across restarts, or null. */
    private final HashCache saved;
    private final LongAdder hashedBytes = new LongAdder();
    private final LongAdder savedHits = new LongAdder();
    private final LongAdder sharedHits = new LongAdder();
    /** Digests shared with other nodes, or null. */
    private final SharedDigests shared;
    /** Pieces of this node's copy checked against digests another node published: first, middle, last. */
    static final int SAMPLES = 3;
    /** Files with pieces left that someone waits for, in turn order; guarded by this. */
    private final ArrayDeque<Job> turns = new ArrayDeque<>();
    private final List<Thread> threads = new ArrayList<>();
    private boolean closed;

    public FileHasher(int threads, int maxEntries) {
        this(threads, maxEntries, null);
    }

    /** @param saved where digests are kept across restarts, or null for memory only */
    public FileHasher(int threads, int maxEntries, HashCache saved) {
        this(threads, maxEntries, ASKED_GRACE_NANOS, saved, null);
    }

    /** @param shared digests shared with the other nodes of a cluster, or null */
    public FileHasher(int threads, int maxEntries, HashCache saved, SharedDigests shared) {
        this(threads, maxEntries, ASKED_GRACE_NANOS, saved, shared);
    }

    /** @param askedGraceNanos how long a file asked for counts as wanted with no session listening */
    FileHasher(int threads, int maxEntries, long askedGraceNanos) {
        this(threads, maxEntries, askedGraceNanos, null, null);
    }

    private FileHasher(int threads, int maxEntries, long askedGraceNanos, HashCache saved, SharedDigests shared) {
        this.saved = saved;
        this.shared = shared;
        this.maxEntries = maxEntries;
        this.askedGraceNanos = askedGraceNanos;
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<FileVersion, Job> eldest) {
                return size() > FileHasher.this.maxEntries;
            }
        };
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(this::work, "biternet-hasher");
            t.setDaemon(true);
            this.threads.add(t);
            t.start();
        }
    }

    /**
     * The hashes of {@code file}'s version: cached, in progress, or started now. Hashing (or a
     * paused hashing resumed) reads a duplicate of {@code file}'s descriptor; the caller keeps
     * its own.
     */
    public synchronized PieceHashes hashes(ServedFile file, PieceLayout layout) throws IOException {
        FileVersion version = file.version();
        Job job = cache.get(version);
        if (job == null || !job.hashes.layout().equals(layout) || job.hashes.failure() != null) {
            job = new Job(new PieceHashes(version, layout), saved, shared);
            cache.put(version, job);
        }
        job.askedNanos = System.nanoTime();
        if (!job.hashes.complete() && job.file == null) {
            job.file = file.duplicate();
            turns.addLast(job);
            notifyAll();
        }
        return job.hashes;
    }

    private void work() {
        ByteBuffer buf = ByteBuffer.allocate(0);
        while (true) {
            Job job;
            synchronized (this) {
                try {
                    job = nextTurn();
                } catch (InterruptedException e) {
                    return;
                }
                if (job == null) {
                    return;
                }
            }
            int pieceSize = job.hashes.layout().pieceSize();
            if (buf.capacity() < pieceSize) {
                buf = ByteBuffer.allocate(pieceSize);
            }
            String failure = null;
            boolean more;
            try {
                long before = job.bytesRead;
                more = job.slice(buf);
                hashedBytes.add(job.bytesRead - before);
                if (job.fromSaved) {
                    savedHits.increment();
                }
                if (job.fromShared) {
                    sharedHits.increment();
                }
            } catch (IOException | RuntimeException e) {
                failure = job.hashes.version().path().getFileName() + ": "
                        + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName());
                more = false;
            }
            synchronized (this) {
                if (more && !closed && (job.hashes.listened() || System.nanoTime() - job.askedNanos < askedGraceNanos)) {
                    turns.addLast(job);
                } else {
                    job.release(); // done, failed, or paused with what was hashed kept
                    if (failure != null) {
                        cache.remove(job.hashes.version(), job);
                    }
                }
            }
            if (failure != null) {
                job.hashes.fail(failure);
            }
        }
    }

    /**
     * The first job in turn that is not waiting for another node's digests, taken out of the
     * turns; waits while there is none (until the soonest retry, or a new job). Null once closed.
     */
    private Job nextTurn() throws InterruptedException {
        while (true) {
            while (turns.isEmpty() && !closed) {
                wait();
            }
            if (closed) {
                return null;
            }
            long now = System.nanoTime();
            long soonest = Long.MAX_VALUE;
            for (java.util.Iterator<Job> it = turns.iterator(); it.hasNext(); ) {
                Job j = it.next();
                long left = j.retryAtNanos - now;
                if (!j.waitingElsewhere || left <= 0) {
                    it.remove();
                    return j;
                }
                soonest = Math.min(soonest, left);
            }
            TimeUnit.NANOSECONDS.timedWait(this, soonest);
        }
    }

    /** Bytes of files read to hash them (not counting digests taken from the {@link HashCache}). */
    public long hashedBytes() {
        return hashedBytes.sum();
    }

    /** Files whose digests were taken from another node ({@link SharedDigests}) instead of being hashed. */
    public long sharedHits() {
        return sharedHits.sum();
    }

    /** Files whose digests were taken from the {@link HashCache} instead of being hashed. */
    public long savedHits() {
        return savedHits.sum();
    }

    /** One file version's hashing: where it stands, and the descriptor it reads while it has a turn. */
    private static final class Job {
        final PieceHashes hashes;
        final HashCache saved;
        final SharedDigests shared;
        /** The shared digests were looked at (on the first turn); true if another node's were taken. */
        boolean sharedTried;
        boolean fromShared;
        /** Another node is hashing this version: not before {@link #retryAtNanos}; guarded by the hasher. */
        boolean waitingElsewhere;
        long retryAtNanos;
        /** Wall clock when the job began, after the version was read: every read of the file comes later. */
        final long createdNanos = System.currentTimeMillis() * 1_000_000L;
        /** The hash cache was looked at (on the first turn); true if it had this version. */
        boolean savedTried;
        boolean fromSaved;
        long bytesRead;
        final MessageDigest piece = Digests.sha256();
        final MessageDigest whole = Digests.sha256();
        /** The next piece to hash. */
        int next;
        /** Non-null while the job is queued or hashing; guarded by the hasher. */
        ServedFile file;
        FileChannel channel;
        long askedNanos;

        Job(PieceHashes hashes, HashCache saved, SharedDigests shared) {
            this.hashes = hashes;
            this.saved = saved;
            this.shared = shared;
        }

        /** Hashes the next slice; returns true if pieces are left. */
        boolean slice(ByteBuffer buf) throws IOException {
            PieceLayout layout = hashes.layout();
            int count = layout.pieceCount();
            if (saved != null && !savedTried && next == 0) {
                savedTried = true;
                byte[] fileSha = saved.load(hashes);
                if (fileSha != null) {
                    fromSaved = true;
                    finish(count, fileSha, false);
                    return false;
                }
            }
            if (channel == null) {
                channel = file.channel();
            }
            if (shared != null && !sharedTried && next == 0) {
                SharedDigests.Known known = shared.load(hashes.version(), layout);
                if (known == SharedDigests.HASHED_ELSEWHERE) {
                    waitingElsewhere = true;
                    retryAtNanos = System.nanoTime() + SHARED_RETRY_NANOS;
                    return true; // back in turn, asked again later
                }
                waitingElsewhere = false;
                sharedTried = true;
                if (known != null) {
                    checkSamples(known.digests(), buf);
                    hashes.setAll(known.digests());
                    fromShared = true;
                    finish(count, known.fileSha256(), saved != null);
                    return false;
                }
            }
            if (shared != null) {
                shared.hashing(hashes.version(), layout);
            }
            long budget = SLICE_BYTES;
            while (next < count && budget > 0) {
                int length = read(next, buf);
                piece.update(buf.array(), 0, length);
                whole.update(buf.array(), 0, length);
                hashes.set(next, piece.digest());
                next++;
                budget -= length;
                if (next % PUBLISH_EVERY == 0 && next < count) {
                    hashes.publish(next, null, null);
                }
            }
            if (next < count) {
                if (next % PUBLISH_EVERY != 0) {
                    hashes.publish(next, null, null);
                }
                return true;
            }
            finish(count, whole.digest(), saved != null);
            return false;
        }

        /**
         * Publishes every digest if the file is still the version they belong to; saves them
         * first if asked (before: a server stopped once a download ends has them saved).
         */
        private void finish(int count, byte[] fileSha, boolean save) throws IOException {
            if (!file.current().sameContentAs(hashes.version())) {
                throw new IOException("file changed while hashing");
            }
            if (save) {
                saved.save(hashes, fileSha, createdNanos);
            }
            if (shared != null && !fromShared) {
                shared.save(hashes.version(), hashes.layout(), new SharedDigests.Known(hashes.allDigests(), fileSha));
            }
            hashes.publish(count, Digests.root(hashes.allDigests()), fileSha);
        }

        /** Reads piece {@code index} into {@code buf} (from its start); returns its length. */
        private int read(int index, ByteBuffer buf) throws IOException {
            PieceLayout layout = hashes.layout();
            int length = layout.length(index);
            buf.clear().limit(length);
            long pos = layout.offset(index);
            while (buf.hasRemaining()) {
                if (channel.read(buf, pos + buf.position()) < 0) {
                    throw new IOException("file shrank while hashing");
                }
            }
            bytesRead += length;
            return length;
        }

        /**
         * Hashes {@link #SAMPLES} pieces of this node's copy and compares them with the digests
         * another node published: a copy that differs is refused, never served under them.
         */
        private void checkSamples(byte[] digests, ByteBuffer buf) throws IOException {
            PieceLayout layout = hashes.layout();
            int count = layout.pieceCount();
            for (int index : new java.util.TreeSet<>(List.of(0, count / 2, count - 1))) {
                if (index < 0 || index >= count) {
                    continue;
                }
                piece.update(buf.array(), 0, read(index, buf));
                if (!java.util.Arrays.equals(piece.digest(), 0, Digests.SHA256_BYTES, digests,
                        index * Digests.SHA256_BYTES, (index + 1) * Digests.SHA256_BYTES)) {
                    String why = "this node's copy differs from the one the cluster hashed (piece " + index + " of " + count + ")";
                    org.slf4j.LoggerFactory.getLogger("biternet.server").warn("refusing {}: {}", hashes.version().path(), why);
                    throw new IOException(why);
                }
            }
        }

        void release() {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // read-only: nothing is lost
                }
                channel = null;
            }
            if (file != null) {
                file.close();
                file = null;
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
            turns.forEach(Job::release);
            turns.clear();
        }
    }
}
