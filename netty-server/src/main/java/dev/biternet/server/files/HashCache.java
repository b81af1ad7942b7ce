package dev.biternet.server.files;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The piece digests of fully hashed files, kept in a directory so that a restarted server does
 * not read a known file again. One entry per file (device, inode) and piece size, written whole
 * to a temporary file and renamed into place. An entry is used only if everything in its header
 * matches the file version being served (device, inode, size, modification and change time,
 * piece size and count) and its checksum (SHA-256 over header and table) holds; otherwise it is
 * not used, and a new hashing overwrites it.
 *
 * <pre>
 *  offset  size        field
 *       0     8        magic "BTHASH01"
 *       8    40        device, inode, size, mtime ns, ctime ns   (5 x int64, big-endian)
 *      48     8        piece size, piece count                   (2 x int32)
 *      56    32        SHA-256 of the whole file
 *      88    32 x N    piece digests, in order
 *  88+32N    32        SHA-256 of everything above
 * </pre>
 */
public final class HashCache {
    private static final Logger LOG = LoggerFactory.getLogger("biternet.server");
    private static final byte[] MAGIC = "BTHASH01".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final int HEADER = 88;
    /**
     * The largest entry written or read: 8 Mi pieces (default piece sizes stay under a million;
     * 16 KiB pieces of a file over 128 GiB are kept in memory only).
     */
    private static final long MAX_ENTRY_BYTES = 256L << 20;
    /**
     * A file whose change time is this close to the moment its hashing began is not saved: a
     * write in the same timestamp tick (coarse clocks, file systems with second or two-second
     * stamps) would leave every recorded attribute as it was ("racily clean", as git calls it),
     * while a write later than this moves the change time.
     */
    static final Duration RACY = Duration.ofSeconds(2);
    private final Path dir;
    private final Duration racy;
    private volatile boolean saveFailed;

    /** A cache in {@code dir}, created if missing; fails if it cannot be created or written. */
    public static HashCache open(Path dir) throws IOException {
        return new HashCache(dir, RACY);
    }

    HashCache(Path dir, Duration racy) throws IOException {
        try {
            Files.createDirectories(dir);
        } catch (java.nio.file.FileSystemException e) {
            // "Not a directory", "Permission denied": the reason, the path is the caller's to say
            throw new IOException(e.getReason() != null ? e.getReason() : e.getClass().getSimpleName(), e);
        }
        if (!Files.isWritable(dir)) {
            throw new IOException("not writable");
        }
        this.dir = dir;
        this.racy = racy;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Where the cache is when none is named, from the environment: systemd's
     * {@code CACHE_DIRECTORY} (the unit's {@code CacheDirectory=}), else
     * {@code $XDG_CACHE_HOME/biternet}, else {@code $HOME/.cache/biternet}; null without any.
     */
    public static Path defaultDir(java.util.Map<String, String> env) {
        String systemd = env.get("CACHE_DIRECTORY");
        if (systemd != null && !systemd.isEmpty()) {
            return Path.of(systemd.split(":")[0]);
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && xdg.startsWith("/")) {
            return Path.of(xdg, "biternet");
        }
        String home = env.get("HOME");
        return home != null && home.startsWith("/") ? Path.of(home, ".cache", "biternet") : null;
    }

    /** Where {@code version}'s digests for {@code pieceSize} are kept. */
    Path entry(FileVersion version, int pieceSize) {
        return dir.resolve(String.format("%x-%x-%d.hashes", version.device(), version.inode(), pieceSize));
    }

    /**
     * Fills {@code hashes} (not yet published) from its entry if one exists and belongs to its
     * version; returns the whole file's SHA-256 then, or null: no entry, an entry of another
     * version (left for the new hashing to overwrite), or a damaged one (logged, one line).
     */
    byte[] load(PieceHashes hashes) {
        FileVersion v = hashes.version();
        PieceLayout layout = hashes.layout();
        Path file = entry(v, layout.pieceSize());
        byte[] bytes;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            if (ch.size() < HEADER + 32 || ch.size() > MAX_ENTRY_BYTES) {
                return damaged(file, "its length, " + ch.size() + " bytes, is impossible");
            }
            ByteBuffer buf = ByteBuffer.allocate((int) ch.size());
            while (buf.hasRemaining() && ch.read(buf) >= 0) {
                // read it whole
            }
            bytes = buf.array();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return damaged(file, e.getMessage());
        }
        int body = bytes.length - 32;
        MessageDigest sha = Digests.sha256();
        sha.update(bytes, 0, body);
        if (!MessageDigest.isEqual(sha.digest(), Arrays.copyOfRange(bytes, body, bytes.length))) {
            return damaged(file, "its checksum does not match");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte[] magic = new byte[MAGIC.length];
        in.get(magic);
        if (!Arrays.equals(magic, MAGIC)) {
            return damaged(file, "not an entry of this format");
        }
        if (in.getLong() != v.device() || in.getLong() != v.inode() || in.getLong() != v.size()
                || in.getLong() != v.mtimeNanos() || in.getLong() != v.ctimeNanos()
                || in.getInt() != layout.pieceSize() || in.getInt() != layout.pieceCount()) {
            return null; // an older version of the file, or a reused inode
        }
        if (bytes.length != HEADER + 32L * layout.pieceCount() + 32) {
            return damaged(file, "its length does not match its piece count");
        }
        byte[] fileSha = new byte[32];
        in.get(fileSha);
        byte[] digests = new byte[32 * layout.pieceCount()];
        in.get(digests);
        hashes.setAll(digests);
        return fileSha;
    }

    private static byte[] damaged(Path file, String why) {
        LOG.warn("hash cache: ignoring {}: {}; hashing the file again", file, why);
        return null;
    }

    /**
     * Saves every digest of {@code hashes} and the whole file's SHA-256, checked to be the file's
     * current version, unless the file changed too close to {@code startNanos} (wall clock, when
     * its hashing began: every read came later) to tell a later write apart ({@link #RACY}). A
     * failure to write is logged once and otherwise ignored: the cache only saves work.
     */
    void save(PieceHashes hashes, byte[] fileSha256, long startNanos) {
        FileVersion v = hashes.version();
        if (startNanos - v.ctimeNanos() < racy.toNanos()) {
            LOG.debug("hash cache: not saving {}: changed {} ms before its hashing began", v.path(),
                    (startNanos - v.ctimeNanos()) / 1_000_000);
            return;
        }
        PieceLayout layout = hashes.layout();
        byte[] digests = hashes.allDigests();
        if (HEADER + digests.length + 32L > MAX_ENTRY_BYTES) {
            return;
        }
        ByteBuffer out = ByteBuffer.allocate(HEADER + digests.length + 32);
        out.put(MAGIC).putLong(v.device()).putLong(v.inode()).putLong(v.size()).putLong(v.mtimeNanos())
                .putLong(v.ctimeNanos()).putInt(layout.pieceSize()).putInt(layout.pieceCount())
                .put(fileSha256).put(digests);
        MessageDigest sha = Digests.sha256();
        sha.update(out.array(), 0, out.position());
        out.put(sha.digest()).flip();
        Path target = entry(v, layout.pieceSize());
        Path tmp = null;
        try {
            tmp = Files.createTempFile(dir, ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                while (out.hasRemaining()) {
                    ch.write(out);
                }
                ch.force(false);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
        } catch (IOException e) {
            if (!saveFailed) {
                saveFailed = true;
                LOG.warn("hash cache: cannot write to {} ({}); hashes are kept in memory only", dir, e.getMessage());
            }
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // a stray temporary file; the next save tries again
                }
            }
        }
    }
}
