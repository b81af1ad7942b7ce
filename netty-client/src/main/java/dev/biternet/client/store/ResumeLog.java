package dev.biternet.client.store;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;

/**
 * {@code OUT.part.state}: what a later run may trust of {@code OUT.part}. An append-only log:
 * a header naming the file version the part belongs to, then one record per verified piece
 * with the digest it verified against. Every record carries a CRC-32C, so a record torn by a
 * crash mid-append is recognised and ignored, together with everything after it.
 *
 * <pre>
 *  header:  "BTRNRES1" | u32 path length | path (UTF-8) | u64 file size | u32 piece size
 *           | u64 file version | u32 CRC-32C of all before
 *  record:  u32 piece index | 32-byte SHA-256 of the piece | u32 CRC-32C of index and digest
 * </pre>
 *
 * A record is appended only after the piece's bytes were forced to disk ({@link Checkpointer}
 * syncs the part file first), and the log is forced after each batch: the log never claims a
 * piece that is not on disk. A resuming run still re-hashes every logged piece from disk before
 * trusting it (see {@link #verifiedPieces}).
 *
 * <p>The log reserves space ahead of its records: zeros follow the last record (a zero record
 * fails its CRC, so it reads as the end of the log). A disk that fills up during the download
 * then still takes the records of what was verified: appending needed a new block exactly when
 * the part file had taken the last one, and a download that filled a disk before its first
 * checkpoint kept nothing (docs/DESIGN.md, "Reliability"). The reservation is {@link #headroom} records (all of them for files of up to 4,096
 * pieces) and grows with the records, never with what the server announces: a server that
 * announces a huge file in small pieces gets no disk space for pieces it never sends.
 */
public final class ResumeLog implements AutoCloseable {
    private static final byte[] MAGIC = "BTRNRES1".getBytes(StandardCharsets.US_ASCII);
    static final int RECORD_BYTES = 4 + Digests.SHA256_BYTES + 4;

    /** Which file version the part file holds pieces of. */
    public record Identity(String path, long fileSize, int pieceSize, long fileVersion) {}

    /** One verified piece and the digest it verified against. */
    public record Entry(int index, byte[] digest) {}

    /** A log read back: its identity and the last digest logged for each piece. */
    public record Contents(Identity identity, Map<Integer, byte[]> pieces, long validLength) {}

    private final Path path;
    private final FileChannel channel;
    private final Object appendLock = new Object();
    private long length;
    /** Where the reserved (zeroed) space ends; appends below it need no new space. */
    private long reservedEnd;
    /** Bytes of records reserved ahead of the last record. */
    private final long headroomBytes;
    private boolean broken;

    /** False from {@link #create} until the first append has made the log's name durable (guarded by appendLock). */
    private boolean directorySynced;

    private ResumeLog(Path path, FileChannel channel, long length, long reservedEnd, long headroomBytes,
                      boolean directorySynced) {
        this.path = path;
        this.directorySynced = directorySynced;
        this.channel = channel;
        this.length = length;
        this.reservedEnd = reservedEnd;
        this.headroomBytes = headroomBytes;
    }

    /**
     * Records reserved ahead of the last one: every piece of a file of up to 4,096 pieces,
     * else 2 % of the pieces (a checkpoint logs 0.5 % of the file or 50 ms of data), never more
     * than the file has. No records for a layout that cannot be.
     */
    static long headroom(Identity identity) {
        long pieces;
        try {
            pieces = new PieceLayout(identity.fileSize(), identity.pieceSize()).pieceCount();
        } catch (IllegalArgumentException e) {
            pieces = 0;
        }
        return Math.min(pieces, Math.max(4096, pieces / 50)) * RECORD_BYTES;
    }

    public static Path pathFor(Path out) {
        return out.resolveSibling(out.getFileName() + ".part.state");
    }

    /**
     * Starts a new log for {@code identity}, replacing any old one atomically: the header goes
     * to a temporary file that is synced and renamed over the old log.
     */
    public static ResumeLog create(Path out, Identity identity) throws IOException {
        Path log = pathFor(out);
        Path tmp = log.resolveSibling(log.getFileName() + ".tmp");
        byte[] header = header(identity);
        // Not synced here (two syncs, 5-20 ms before the first byte could be asked for): until
        // the first append a lost log loses nothing, and the first append syncs the header with
        // its records and then the directory entry.
        long headroom = headroom(identity);
        long reserved = header.length + headroom;
        FileChannel c = LocalFiles.createNew(tmp, StandardOpenOption.WRITE);
        boolean done = false;
        try {
            writeFully(c, ByteBuffer.wrap(header), 0);
            // Real zeros, not a sparse length: the blocks must be taken now.
            writeZeros(c, header.length, reserved);
            LocalFiles.requireRegularOrAbsent(log, "; remove it and rerun");
            try {
                Files.move(tmp, log, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (java.nio.file.AtomicMoveNotSupportedException e) {
                Files.move(tmp, log, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            // The channel writes on: the file it has open is the log now (renamed, not reopened by name).
            return new ResumeLog(log, c, header.length, reserved, headroom, false);
        } finally {
            if (!done) {
                c.close();
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * Continues an existing log after its last valid record: a torn tail is zeroed, and space
     * for {@link #headroom} records ahead is reserved again (on a disk too full for that, the
     * tail is cut off instead and appends take space as they go).
     */
    public static ResumeLog reopen(Path out, Contents contents) throws IOException {
        Path log = pathFor(out);
        FileChannel c = LocalFiles.openExisting(log, StandardOpenOption.WRITE);
        long valid = contents.validLength();
        long headroom = headroom(contents.identity());
        try {
            // The reservation the last run left, cut to one headroom, renewed when less than half is left.
            long reserved = Math.max(valid, Math.min(c.size(), valid + headroom));
            if (reserved - valid < headroom / 2) {
                reserved = valid + headroom;
            }
            try {
                c.truncate(reserved);
                writeZeros(c, valid, reserved);
            } catch (IOException full) {
                c.truncate(valid);
                reserved = valid;
            }
            c.force(true);
            return new ResumeLog(log, c, valid, reserved, headroom, true);
        } catch (IOException e) {
            c.close();
            throw e;
        }
    }

    /**
     * Reads the log beside {@code out}; empty if there is none or its header is damaged.
     * Records after the first damaged one are ignored.
     */
    public static java.util.Optional<Contents> read(Path out) throws IOException {
        byte[] all;
        Path log = pathFor(out);
        if (LocalFiles.lstat(log) == null) {
            return java.util.Optional.empty();
        }
        try (FileChannel c = LocalFiles.openExisting(log, StandardOpenOption.READ)) {
            // Larger than an array can hold: not a log this client wrote.
            if (c.size() > Integer.MAX_VALUE - 64) {
                return java.util.Optional.empty();
            }
            ByteBuffer b = ByteBuffer.allocate((int) c.size());
            while (b.hasRemaining() && c.read(b, b.position()) >= 0) {
                // positional reads until the buffer is full or the file ends
            }
            all = java.util.Arrays.copyOf(b.array(), b.position());
        }
        ByteBuffer b = ByteBuffer.wrap(all);
        Identity id;
        try {
            byte[] magic = new byte[MAGIC.length];
            b.get(magic);
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                return java.util.Optional.empty();
            }
            int n = b.getInt();
            if (n < 0 || n > b.remaining()) {
                return java.util.Optional.empty();
            }
            byte[] p = new byte[n];
            b.get(p);
            id = new Identity(new String(p, StandardCharsets.UTF_8), b.getLong(), b.getInt(), b.getLong());
            int crc = b.getInt();
            if (crc != crc(all, 0, b.position() - 4)) {
                return java.util.Optional.empty();
            }
        } catch (java.nio.BufferUnderflowException e) {
            return java.util.Optional.empty();
        }
        Map<Integer, byte[]> pieces = new TreeMap<>();
        while (b.remaining() >= RECORD_BYTES) {
            int at = b.position();
            int index = b.getInt();
            byte[] digest = new byte[Digests.SHA256_BYTES];
            b.get(digest);
            if (b.getInt() != crc(all, at, 4 + Digests.SHA256_BYTES)) {
                b.position(at);
                break;
            }
            pieces.put(index, digest);
        }
        return java.util.Optional.of(new Contents(id, pieces, b.position()));
    }

    /**
     * Appends one record per piece and forces the log. The caller has already forced the
     * pieces' bytes. If the append fails (disk full), the log is cut back to its last complete
     * record and stays usable: it then merely lags behind the part file.
     */
    public void append(List<Entry> entries) throws IOException {
        synchronized (appendLock) {
            if (broken || entries.isEmpty()) {
                return;
            }
            ByteBuffer buf = ByteBuffer.allocate(entries.size() * RECORD_BYTES);
            for (Entry e : entries) {
                int start = buf.position();
                buf.putInt(e.index());
                buf.put(e.digest(), 0, Digests.SHA256_BYTES);
                buf.putInt(crc(buf.array(), start, 4 + Digests.SHA256_BYTES));
            }
            buf.flip();
            try {
                writeFully(channel, buf, length);
                channel.force(false);
                if (!directorySynced) {
                    syncDirectory(path);
                    directorySynced = true;
                }
                length += entries.size() * (long) RECORD_BYTES;
                if (reservedEnd - length < headroomBytes / 2) {
                    reserveAhead();
                }
            } catch (IOException e) {
                // Undo a partial append: cut what went past the reservation, zero what is inside it.
                try {
                    channel.truncate(Math.max(length, reservedEnd));
                    writeZeros(channel, length, Math.min(length + buf.capacity(), reservedEnd));
                } catch (IOException again) {
                    broken = true;
                }
                throw e;
            }
        }
    }

    /**
     * Zeros for {@link #headroom} more records after the last one (appendLock held). On a full
     * disk whatever is reserved already stays, and appends take space as they go.
     */
    private void reserveAhead() {
        long from = Math.max(length, reservedEnd);
        long to = length + headroomBytes;
        try {
            writeZeros(channel, from, to);
            reservedEnd = to;
        } catch (IOException e) {
            // zeros written part-way read as the end of the log, like the reservation itself
        }
    }

    /** Removes the log (the download finished and the part file was renamed into place). */
    public void delete() throws IOException {
        close();
        Files.deleteIfExists(path);
    }

    /** Removes any log beside {@code out}. */
    public static void deleteFor(Path out) throws IOException {
        Files.deleteIfExists(pathFor(out));
    }

    @Override
    public void close() throws IOException {
        synchronized (appendLock) {
            if (channel.isOpen()) {
                channel.close();
            }
        }
    }

    private static byte[] header(Identity id) {
        byte[] p = id.path().getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(MAGIC.length + 4 + p.length + 8 + 4 + 8 + 4);
        b.put(MAGIC).putInt(p.length).put(p).putLong(id.fileSize()).putInt(id.pieceSize()).putLong(id.fileVersion());
        b.putInt(crc(b.array(), 0, b.position()));
        return b.array();
    }

    private static int crc(byte[] bytes, int from, int n) {
        CRC32C c = new CRC32C();
        c.update(bytes, from, n);
        return (int) c.getValue();
    }

    private static void writeZeros(FileChannel c, long from, long to) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocate(64 << 10);
        for (long at = from; at < to; ) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), to - at));
            at += c.write(zeros, at);
        }
    }

    private static void writeFully(FileChannel c, ByteBuffer buf, long position) throws IOException {
        while (buf.hasRemaining()) {
            position += c.write(buf, position);
        }
    }

    /** Makes the rename durable: on Linux a directory can be opened and forced. */
    private static void syncDirectory(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // not supported on this platform or file system: the rename is still atomic
        }
    }
}
