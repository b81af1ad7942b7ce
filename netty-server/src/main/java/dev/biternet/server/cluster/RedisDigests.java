package dev.biternet.server.cluster;

import dev.biternet.common.piece.PieceLayout;
import dev.biternet.server.files.FileVersion;
import dev.biternet.server.files.SharedDigests;
import dev.biternet.server.session.StoreException;
import io.lettuce.core.SetArgs;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Piece digests shared through Redis, by file version (path below the served root, size,
 * modification time) and piece size: the first node to want them takes a lock and hashes, renewing the lock as it goes; the
 * others wait for its digests instead of reading the file. A lock left by a dead node expires
 * and the next waiter hashes. Redis unreachable: this node hashes for itself.
 */
public final class RedisDigests implements SharedDigests {
    private static final Logger LOG = LoggerFactory.getLogger("biternet.cluster");
    private static final HexFormat HEX = HexFormat.of();
    /** A hashing node's lock outlives its last renewal (each slice of the file renews it) by this. */
    private static final Duration LOCK = Duration.ofSeconds(15);
    /** Digests unread this long are dropped from the store. */
    private static final Duration KEEP = Duration.ofDays(1);
    private final ClusterStore store;
    private final Path root;

    /** @param root the served root's real path: files are named below it, as clients name them */
    public RedisDigests(ClusterStore store, Path root) {
        this.store = store;
        this.root = root;
    }

    @Override
    public Known load(FileVersion version, PieceLayout layout) {
        String key = key(version, layout);
        try {
            Map<String, String> found = store.call(r -> r.hgetall(key));
            if (found != null && found.containsKey("digests")) {
                store.call(r -> r.pexpire(key, KEEP.toMillis()));
                return new Known(HEX.parseHex(found.get("digests")), HEX.parseHex(found.get("file_sha256")));
            }
            if ("OK".equals(store.call(r -> r.set(key + ":lock", store.node(), SetArgs.Builder.nx().px(LOCK.toMillis()))))) {
                return null;
            }
            return HASHED_ELSEWHERE;
        } catch (StoreException e) {
            LOG.warn("cannot read shared piece hashes of {} from the store, hashing here: {}", version.path().getFileName(),
                    e.getMessage());
            return null;
        }
    }

    @Override
    public void hashing(FileVersion version, PieceLayout layout) {
        try {
            store.call(r -> r.pexpire(key(version, layout) + ":lock", LOCK.toMillis()));
        } catch (StoreException e) {
            // the others wait until the lock expires, then hash themselves
        }
    }

    @Override
    public void save(FileVersion version, PieceLayout layout, Known known) {
        String key = key(version, layout);
        try {
            store.call(r -> {
                r.hset(key, Map.of("digests", HEX.formatHex(known.digests()), "file_sha256", HEX.formatHex(known.fileSha256())));
                r.pexpire(key, KEEP.toMillis());
                return r.del(key + ":lock");
            });
        } catch (StoreException e) {
            LOG.warn("cannot share the piece hashes of {} through the store: {}", version.path().getFileName(), e.getMessage());
        }
    }

    /**
     * The file's path below the root (nodes may serve the same tree from different places; two
     * files of one name in different directories stay apart), size, mtime and piece size.
     */
    private String key(FileVersion version, PieceLayout layout) {
        Path path = version.path().startsWith(root) ? root.relativize(version.path()) : version.path();
        String id = path + "\0" + version.size() + "\0" + version.mtimeNanos() + "\0" + layout.pieceSize();
        return "bn:hash:" + HEX.formatHex(dev.biternet.common.piece.Digests.sha256().digest(id.getBytes(StandardCharsets.UTF_8)));
    }
}
