package dev.biternet.server.files;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/**
 * Computes and caches piece hashes, once per file version. Hashing runs on its own threads, in
 * file order, publishing in small batches, so a session can serve the first pieces of a huge file
 * while the rest is still being hashed. Entries are keyed by {@link FileVersion}, so a changed
 * file (size, mtime or inode) is hashed anew; the cache keeps the most recent versions.
 */
public final class FileHasher implements AutoCloseable {
    private static final int PUBLISH_EVERY = 8;
    private final int maxEntries;
    private final ExecutorService pool;
    private final Map<FileVersion, PieceHashes> cache;

    public FileHasher(int threads, int maxEntries) {
        this.maxEntries = maxEntries;
        ThreadFactory tf = r -> {
            Thread t = new Thread(r, "biternet-hasher");
            t.setDaemon(true);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(threads, tf);
        this.cache = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<FileVersion, PieceHashes> eldest) {
                return size() > FileHasher.this.maxEntries;
            }
        };
    }

    /** The hashes of this file version: cached, in progress, or started now. */
    public synchronized PieceHashes hashes(FileVersion version, PieceLayout layout) {
        PieceHashes h = cache.get(version);
        if (h != null && h.layout().equals(layout) && h.failure() == null) {
            return h;
        }
        PieceHashes fresh = new PieceHashes(version, layout);
        cache.put(version, fresh);
        pool.execute(() -> compute(fresh));
        return fresh;
    }

    private void compute(PieceHashes h) {
        PieceLayout layout = h.layout();
        int count = layout.pieceCount();
        MessageDigest piece = Digests.sha256();
        MessageDigest whole = Digests.sha256();
        byte[] all = new byte[count * Digests.SHA256_BYTES];
        ByteBuffer buf = ByteBuffer.allocate(layout.pieceSize());
        try (FileChannel ch = FileChannel.open(h.version().path(), StandardOpenOption.READ)) {
            for (int i = 0; i < count; i++) {
                buf.clear().limit(layout.length(i));
                long pos = layout.offset(i);
                while (buf.hasRemaining()) {
                    int n = ch.read(buf, pos + buf.position());
                    if (n < 0) {
                        throw new IOException("file shrank while hashing");
                    }
                }
                piece.update(buf.array(), 0, buf.limit());
                whole.update(buf.array(), 0, buf.limit());
                byte[] d = piece.digest();
                System.arraycopy(d, 0, all, i * Digests.SHA256_BYTES, d.length);
                h.set(i, d);
                if ((i + 1) % PUBLISH_EVERY == 0 && i + 1 < count) {
                    h.publish(i + 1, null, null);
                }
            }
            if (!FileVersion.of(h.version().path()).equals(h.version())) {
                throw new IOException("file changed while hashing");
            }
            h.publish(count, Digests.root(all), whole.digest());
        } catch (IOException | RuntimeException e) {
            synchronized (this) {
                cache.remove(h.version(), h);
            }
            h.fail(h.version().path().getFileName() + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
