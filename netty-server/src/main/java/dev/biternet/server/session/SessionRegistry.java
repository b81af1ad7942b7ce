package dev.biternet.server.session;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.proto.Error;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.files.FileVersion;
import dev.biternet.server.files.PieceHashes;
import dev.biternet.server.files.RequestException;
import dev.biternet.server.files.ServedRoot;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * All open sessions of one server, by id. Opening resolves the path below the root, pins the
 * file version (the session keeps its own open file, so a file replaced by rename keeps serving
 * the old bytes) and starts or reuses the piece hashes. Sessions with no link for
 * {@code idleTimeout} are closed by {@link #reap()}.
 */
public final class SessionRegistry implements AutoCloseable {
    private static final long FINISHED_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private final ServedRoot root;
    private final FileHasher hasher;
    private final int pieceSizeOverride;
    private final long idleTimeoutNanos;
    private final Map<ByteString, Session> sessions = new ConcurrentHashMap<>();

    /** @param pieceSizeOverride a fixed piece size, or 0 for {@link PieceLayout#forFile(long)} */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit) {
        this.root = root;
        this.hasher = hasher;
        this.pieceSizeOverride = pieceSizeOverride;
        this.idleTimeoutNanos = unit.toNanos(idleTimeout);
    }

    public Session open(String path) throws RequestException {
        Path file = root.resolve(path);
        FileChannel channel;
        FileVersion version;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new RequestException(Error.Code.IO_ERROR, "cannot open " + path + ": " + e.getMessage());
        }
        try {
            version = FileVersion.of(file);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new RequestException(Error.Code.IO_ERROR, "cannot read " + path + ": " + e.getMessage());
        }
        PieceLayout layout = pieceSizeOverride > 0
                ? new PieceLayout(version.size(), pieceSizeOverride)
                : PieceLayout.forFile(version.size());
        PieceHashes hashes = hasher.hashes(version, layout);
        Session session = new Session(SessionId.random(), dev.biternet.server.security.Secrets.random(), hashes, channel);
        sessions.put(session.id().bytes(), session);
        return session;
    }

    public Session get(ByteString id) throws RequestException {
        Session s = sessions.get(id);
        if (s == null) {
            throw new RequestException(Error.Code.UNKNOWN_SESSION, "unknown or expired session");
        }
        return s;
    }

    public int size() {
        return sessions.size();
    }

    /** Closes sessions that have had no link for the idle timeout, and finished ones with no link. */
    public void reap() {
        for (Session s : sessions.values()) {
            long idle = s.idleNanos();
            if (idle >= 0 && (idle > idleTimeoutNanos || (s.allocator().remaining() == 0 && idle > FINISHED_GRACE_NANOS))) {
                if (sessions.remove(s.id().bytes(), s)) {
                    s.close();
                }
            }
        }
    }

    @Override
    public void close() {
        sessions.values().forEach(Session::close);
        sessions.clear();
    }

    private static void closeQuietly(FileChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing was read from it
        }
    }
}
