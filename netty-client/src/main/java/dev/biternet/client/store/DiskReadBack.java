package dev.biternet.client.store;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@code --verify-disk}: a thread of its own follows the verified prefix of the part file and
 * hashes those bytes back from disk, so the whole file's SHA-256 is computed from what the file
 * really holds, not from what the links received. It costs a read and a second SHA-256 of every
 * byte, which is why it is opt-in (docs/DESIGN.md, "Hashing beside the event loop"); without it
 * the SHA-256 reported is the server's, which the verified pieces are the bytes of.
 *
 * <p>This object's monitor guards the chain of reads, extended in the order the prefix grows;
 * the digest, the buffer and the bytes since the last sync belong to the reader thread alone.
 */
final class DiskReadBack implements AutoCloseable {
    private static final long SYNC_EVERY_BYTES = 16L << 20;

    private final PartFile part;
    private final PieceLayout layout;
    private final ExecutorService reader;
    private final MessageDigest wholeFile = Digests.sha256();
    /** Direct, so reads need no copy; SHA-256 reads it as fast as an array. */
    private final ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 20);
    private long unsynced;
    private CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);

    DiskReadBack(PartFile part, PieceLayout layout) {
        this.part = part;
        this.layout = layout;
        this.reader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "biternet-verify");
            t.setDaemon(true);
            return t;
        });
    }

    /** Pieces [from, to) joined the verified prefix: hashes them next. */
    synchronized void follow(int from, int to) {
        chain = chain.thenRunAsync(() -> hashBack(from, to), reader);
    }

    /** Hashes pieces [from, to) back from disk into the whole-file digest (reader thread only). */
    private void hashBack(int from, int to) {
        long end = to == layout.pieceCount() ? layout.fileSize() : layout.offset(to);
        long pos = layout.offset(from);
        try {
            while (pos < end) {
                buffer.clear().limit((int) Math.min(buffer.capacity(), end - pos));
                int n = part.read(buffer, pos);
                if (n < 0) {
                    throw new IOException("part file shorter than written");
                }
                buffer.flip();
                wholeFile.update(buffer);
                pos += n;
            }
            unsynced += end - layout.offset(from);
            if (unsynced >= SYNC_EVERY_BYTES) {
                // Flush as we go, so the final sync before the rename has little left to write.
                part.force();
                unsynced = 0;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits for the reads so far and returns the SHA-256 of the bytes they read, in order. */
    byte[] digest() throws IOException {
        CompletableFuture<Void> last;
        synchronized (this) {
            last = chain;
        }
        try {
            last.join();
        } catch (CompletionException e) {
            Throwable cause = e.getCause() instanceof UncheckedIOException u ? u.getCause() : e.getCause();
            throw new IOException("reading the file back failed: " + cause.getMessage(), cause);
        }
        return wholeFile.digest();
    }

    @Override
    public void close() {
        reader.shutdownNow();
    }
}
