package dev.biternet.server.session;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.proto.Error;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.files.FileVersion;
import dev.biternet.server.files.PieceHashes;
import dev.biternet.server.files.RequestException;
import dev.biternet.server.files.ServedFile;
import dev.biternet.server.files.ServedRoot;
import dev.biternet.server.metrics.ServerMetrics;
import dev.biternet.server.security.AddressLimiter;
import dev.biternet.server.security.Limits;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.FileChannel;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * All open sessions of one server, by id. Opening resolves the path below the root, pins the
 * file version (the session keeps its own open file, so a file replaced by rename keeps serving
 * the old bytes) and starts or reuses the piece hashes. Sessions with no link for
 * {@code idleTimeout} are closed by {@link #reap()}.
 */
public final class SessionRegistry implements AutoCloseable {
    /** One line per session with its outcome, for operators (key=value pairs). */
    private static final Logger SESSIONS = LoggerFactory.getLogger("biternet.sessions");
    /**
     * A finished session with no link left is closed after this grace (a link still on its way
     * to attach gets it, not UNKNOWN_SESSION), or at once when its client address needs the
     * session slot it holds (see {@link #open(dev.biternet.proto.OpenSession, SocketAddress)}).
     */
    private static final long FINISHED_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    private final ServedRoot root;
    private final FileHasher hasher;
    private final int pieceSizeOverride;
    private final long idleTimeoutNanos;
    private final Map<ByteString, Session> sessions = new ConcurrentHashMap<>();
    private final AddressLimiter perAddress;
    private final ServerMetrics metrics;
    /** Set when the server starts shutting down: no new sessions, running ones may finish. */
    private volatile boolean draining;

    /** @param pieceSizeOverride a fixed piece size, or 0 for {@link PieceLayout#forFile(long)} */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit) {
        this(root, hasher, pieceSizeOverride, idleTimeout, unit, Limits.DEFAULT.sessionsPerAddress(), new ServerMetrics());
    }

    /**
     * @param sessionsPerAddress how many open sessions one client address may hold
     * @param metrics where sessions count what they send and how they end
     */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit,
                           int sessionsPerAddress, ServerMetrics metrics) {
        this.metrics = metrics;
        this.root = root;
        this.hasher = hasher;
        this.pieceSizeOverride = pieceSizeOverride;
        this.idleTimeoutNanos = unit.toNanos(idleTimeout);
        this.perAddress = new AddressLimiter(sessionsPerAddress);
    }

    /**
     * Opens a session for {@code client}, which may hold at most the per-address number of
     * open sessions; one more is refused with {@code LIMIT_EXCEEDED}. A resuming client's pieces
     * ({@code have}) are marked done when the file is still the version it names (see
     * {@link Session#markHave}).
     */
    public Session open(dev.biternet.proto.OpenSession request, SocketAddress client) throws RequestException {
        if (draining) {
            throw new RequestException(Error.Code.SHUTTING_DOWN, "the server is shutting down; try again later");
        }
        if (!perAddress.tryAcquire(client) && (closeFinished(client) == 0 || !perAddress.tryAcquire(client))) {
            throw new RequestException(Error.Code.LIMIT_EXCEEDED, "too many open sessions from "
                    + AddressLimiter.hostOf(client) + " (limit " + perAddress.max() + ")");
        }
        boolean ok = false;
        try {
            Session session = openFile(request, client);
            ok = true;
            return session;
        } finally {
            if (!ok) {
                perAddress.release(client);
            }
        }
    }

    /**
     * Opens the file once, by descriptor ({@link ServedRoot#open}): the session reads its own
     * channel on that very file and the hasher a duplicate of it, never the name again.
     */
    private Session openFile(dev.biternet.proto.OpenSession request, SocketAddress client) throws RequestException {
        String path = request.getPath();
        try (ServedFile file = root.open(path)) {
            FileVersion version = file.version();
            PieceLayout layout = pieceSizeOverride > 0
                    ? new PieceLayout(version.size(), pieceSizeOverride)
                    : PieceLayout.forFile(version.size());
            FileChannel channel = null;
            try {
                channel = file.channel();
                PieceHashes hashes = hasher.hashes(file, layout);
                Session session = new Session(SessionId.random(), dev.biternet.server.security.Secrets.random(), hashes,
                        channel, path, client, metrics);
                channel = null;
                session.markHave(request);
                sessions.put(session.id().bytes(), session);
                return session;
            } catch (IOException e) {
                throw RequestException.ioError(path, e);
            } finally {
                if (channel != null) {
                    closeQuietly(channel);
                }
            }
        }
    }

    public Session get(ByteString id) throws RequestException {
        Session s = sessions.get(id);
        if (s == null) {
            throw new RequestException(Error.Code.UNKNOWN_SESSION, "unknown or expired session");
        }
        return s;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** From now on, opening a session is refused with {@code SHUTTING_DOWN}. */
    public void drain() {
        draining = true;
    }

    /** Sessions that are transferring: pieces left and at least one link attached. */
    public int running() {
        int n = 0;
        for (Session s : sessions.values()) {
            if (s.linkCount() > 0 && s.allocator().remaining() > 0) {
                n++;
            }
        }
        return n;
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
                    closeSession(s, s.allocator().remaining() == 0 ? "complete" : "abandoned");
                }
            }
        }
    }

    /**
     * Closes the finished sessions of {@code client}'s address that have no link left, so that
     * a client fetching many files in a row does not run into the per-address limit with
     * downloads that are over; returns how many were closed.
     */
    private int closeFinished(SocketAddress client) {
        String host = AddressLimiter.hostOf(client);
        int closed = 0;
        for (Session s : sessions.values()) {
            if (s.idleNanos() >= 0 && s.allocator().remaining() == 0 && host.equals(AddressLimiter.hostOf(s.client()))
                    && sessions.remove(s.id().bytes(), s)) {
                closeSession(s, "complete");
                closed++;
            }
        }
        return closed;
    }

    @Override
    public void close() {
        for (Session s : sessions.values()) {
            if (sessions.remove(s.id().bytes(), s)) {
                closeSession(s, s.allocator().remaining() == 0 ? "complete" : "shutdown");
            }
        }
    }

    /**
     * Closes a session and logs its one line: {@code result} is {@code complete} (every piece
     * verified), {@code abandoned} (no link for the idle timeout with pieces left), {@code
     * shutdown} (the server stopped first) or {@code failed} (the file changed or became
     * unreadable while it was hashed).
     */
    private void closeSession(Session s, String result) {
        perAddress.release(s.client());
        s.close();
        String outcome = s.failure() != null ? "failed" : result;
        metrics.sessionClosed(outcome, s.bytesSent());
        SESSIONS.info("session={} result={} path={} client={} bytes={} file_bytes={} pieces_done={}/{} links={} seconds={}",
                s.id(), outcome, quote(s.path()), AddressLimiter.hostOf(s.client()), s.bytesSent(), s.layout().fileSize(),
                s.layout().pieceCount() - s.allocator().remaining(), s.layout().pieceCount(), s.linksEverAttached(),
                String.format(java.util.Locale.ROOT, "%.3f", s.seconds(System.nanoTime())));
    }

    /** A value for a key=value log line: quoted, with quotes, backslashes and line breaks escaped. */
    private static String quote(String value) {
        return '"' + value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\r", "\\r") + '"';
    }

    private static void closeQuietly(FileChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing was read from it
        }
    }
}
