package dev.biternet.client.store;

import com.sun.nio.file.ExtendedOpenOption;
import dev.biternet.common.piece.Digests;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The download's bytes on disk: {@code OUT.part}, created new or opened as the existing part
 * file of a resumed run (its own regular file, never through a link: {@link LocalFiles}),
 * written and read at positions, synced, and in the end renamed to {@code OUT} only if the name
 * still leads to the file opened here. Whole pieces go through a second channel opened with
 * {@code O_DIRECT} where the file system takes it, from the aligned buffers this class hands
 * out and takes back; where it does not (tmpfs), or once a direct write failed, everything goes
 * through the page cache (docs/DESIGN.md, "Whole pieces, written directly").
 *
 * <p>No lock: reads and writes are positional, the direct channel is an atomic reference given
 * up once and for good, and the buffer pool is a lock-free queue. Which piece may be written,
 * and by whom, is {@link PieceBook}'s decision, not this class's.
 */
final class PartFile implements AutoCloseable {
    /** Chunk size for reading pieces back. */
    static final int READ_BUFFER_BYTES = 1 << 20;
    private static final int MAX_SPARE = 64;

    private final Path path;
    private final int pieceSize;
    private final FileChannel channel;
    /** The part file's identity (device and inode), checked before the rename. */
    private final Object key;
    /** The {@code O_DIRECT} channel, or null: refused by the file system, or given up after a failed write. */
    private final AtomicReference<FileChannel> direct = new AtomicReference<>();
    /** What {@code O_DIRECT} writes must be aligned to: buffer address, offset and length. */
    private final int alignment;
    private final ConcurrentLinkedQueue<ByteBuffer> spare = new ConcurrentLinkedQueue<>();
    private final AtomicInteger spareCount = new AtomicInteger();

    /**
     * Opens {@code OUT.part} for {@code out}: created new, or with {@code existing} the one a
     * previous run left (resume). {@code pieceSize}: the size of {@link #pieceBuffer}'s buffers.
     */
    PartFile(Path out, int pieceSize, boolean existing) throws IOException {
        this.path = partFor(out);
        this.pieceSize = pieceSize;
        this.channel = existing
                ? LocalFiles.openExisting(path, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : LocalFiles.createNew(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            this.key = LocalFiles.openedKey(path);
        } catch (IOException e) {
            channel.close();
            throw e;
        }
        int block = 4096;
        FileChannel d = null;
        try {
            long reported = Files.getFileStore(path).getBlockSize();
            if (reported >= 512 && reported <= 1 << 16 && Long.bitCount(reported) == 1) {
                block = (int) reported;
                d = FileChannel.open(path, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT,
                        LinkOption.NOFOLLOW_LINKS);
                if (!LocalFiles.isStill(path, key)) {
                    d.close();
                    throw LocalFiles.replacedWhileOpening(path);
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
    }

    /** {@code OUT.part}: where the download is written until it is verified and renamed to {@code out}. */
    static Path partFor(Path out) {
        return out.resolveSibling(out.getFileName() + ".part");
    }

    Path path() {
        return path;
    }

    boolean isOpen() {
        return channel.isOpen();
    }

    /** Writes all of {@code src} at {@code position} through the page cache. */
    void write(ByteBuffer src, long position) throws IOException {
        writeFully(channel, src, position);
    }

    /**
     * Writes a whole piece from {@code piece} (a {@link #pieceBuffer}) at {@code position}: with
     * {@code O_DIRECT} if its length and position are multiples of the block, else (the odd-sized
     * last piece, no {@code O_DIRECT}) through the page cache.
     */
    void writeWhole(ByteBuffer piece, long position) throws IOException {
        FileChannel d = direct.get();
        if (d == null || piece.remaining() % alignment != 0 || position % alignment != 0) {
            writeFully(channel, piece, position);
            return;
        }
        int start = piece.position();
        try {
            writeFully(d, piece, position);
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
            writeFully(channel, piece.position(start), position);
        }
    }

    /** True while whole pieces are written with {@code O_DIRECT}. */
    boolean writesDirect() {
        return direct.get() != null;
    }

    /**
     * A buffer for one whole piece, aligned for {@link #writeWhole}: a recycled one if there is
     * one. Position 0, limit the piece size.
     */
    ByteBuffer pieceBuffer() {
        ByteBuffer b = spare.poll();
        if (b != null) {
            spareCount.decrementAndGet();
            return b.clear().limit(pieceSize);
        }
        int size = (pieceSize + alignment - 1) / alignment * alignment;
        return ByteBuffer.allocateDirect(size + alignment).alignedSlice(alignment).limit(pieceSize);
    }

    /** Takes back a buffer from {@link #pieceBuffer} that nobody uses any more (keeps up to 64). */
    void recycle(ByteBuffer buffer) {
        if (spareCount.incrementAndGet() <= MAX_SPARE) {
            spare.add(buffer);
        } else {
            spareCount.decrementAndGet();
        }
    }

    /** Reads into {@code dst} from {@code position}; -1 at the end of the file. */
    int read(ByteBuffer dst, long position) throws IOException {
        return channel.read(dst, position);
    }

    /** SHA-256 of the {@code length} bytes at {@code position}, read through {@code buf}; null if the file ends first. */
    byte[] digest(long position, long length, ByteBuffer buf) throws IOException {
        return digest(channel, position, length, buf);
    }

    /** {@link #digest(long, long, ByteBuffer)} of another channel on a part file. */
    static byte[] digest(FileChannel c, long position, long length, ByteBuffer buf) throws IOException {
        MessageDigest md = Digests.sha256();
        long pos = position;
        long end = position + length;
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

    /**
     * Makes what was written durable ({@code fdatasync}); it covers the direct writes too (same
     * inode: it commits the extents they allocated and flushes the disk's cache).
     */
    void force() throws IOException {
        channel.force(false);
    }

    /**
     * Cuts the file to {@code size}, syncs it and renames it to {@code out}: only if the part
     * file is still the one opened here, and only over a regular file or nothing. Closes it.
     */
    void moveTo(Path out, long size) throws IOException {
        closeDirect();
        channel.truncate(size);
        channel.force(true);
        // What is renamed must be what was written and verified (a part file replaced under this
        // run, by hand or by a tool, is not), and only a regular file or nothing is replaced.
        if (!LocalFiles.isStill(path, key)) {
            throw new LocalFiles.Refused(path + " is no longer the file this download wrote (replaced or removed"
                    + " meanwhile); " + out + " was not written: rerun to start over");
        }
        LocalFiles.requireRegularOrAbsent(out, "; " + path + " is kept: remove " + out + " or choose another -o, then rerun");
        channel.close();
        try {
            Files.move(path, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(path, out, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Gives up the direct channel: its writes returned, the other channel's sync makes them durable. */
    private void closeDirect() {
        FileChannel d = direct.getAndSet(null);
        if (d != null) {
            try {
                d.close();
            } catch (IOException e) {
                // its writes are done or failed; the part file's own channel matters here
            }
        }
    }

    @Override
    public void close() throws IOException {
        closeDirect();
        if (channel.isOpen()) {
            channel.close();
        }
    }

    private static void writeFully(FileChannel to, ByteBuffer src, long position) throws IOException {
        while (src.hasRemaining()) {
            position += to.write(src, position);
        }
    }
}
