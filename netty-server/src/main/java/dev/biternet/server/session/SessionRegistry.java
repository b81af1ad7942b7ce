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
import dev.biternet.server.security.AddressLimiter;
import dev.biternet.server.security.Capacity;
import dev.biternet.server.security.Limits;
import dev.biternet.server.security.UntrustedText;
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
 * {@code idleTimeout} (sooner if no link ever attached) are closed by {@link #reap()}.
 *
 * <p>It also owns the session limits: per client address, server-wide (each session holds a
 * descriptor) and the bytes of piece state all sessions hold ({@link #stateBytes}); an open
 * beyond one is refused with {@code LIMIT_EXCEEDED}. Refusal texts carry the client's path
 * only as {@link UntrustedText} renders it.
 */
public final class SessionRegistry implements AutoCloseable {
    /** One line per session with its outcome, for operators (key=value pairs). */
    private static final Logger SESSIONS = LoggerFactory.getLogger("biternet.sessions");
    private static final Logger LOG = LoggerFactory.getLogger("biternet.server");
    /**
     * A finished session with no link left is closed after this grace (a link still on its way
     * to attach gets it, not UNKNOWN_SESSION), or at once when its client address needs the
     * session slot it holds (see {@link #open(dev.biternet.proto.OpenSession, SocketAddress)}).
     */
    private static final long FINISHED_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
    /**
     * A session no link ever attached to is closed after this (or the idle timeout, if shorter):
     * the opener attaches moments after SessionOpened, so such a session only holds a descriptor
     * and its piece state for someone who will not use them.
     */
    private static final long UNATTACHED_NANOS = TimeUnit.SECONDS.toNanos(20);
    /**
     * When the server's sessions or their memory are all taken, a session no link attached to
     * within this time is closed to make room for a new one: a client that means to download
     * attaches within moments, so the room held by those that do not goes to those that do.
     */
    private static final long UNATTACHED_EVICTABLE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Longest path an OpenSession may name, in UTF-8 bytes (Linux's PATH_MAX). */
    public static final int MAX_PATH_BYTES = 4096;
    /** Piece state of a session beyond its per-piece bytes (the session, its maps, its descriptor). */
    private static final long STATE_OVERHEAD_BYTES = 4096;
    private final ServedRoot root;
    private final FileHasher hasher;
    private final int pieceSizeOverride;
    private final long idleTimeoutNanos;
    private final Map<ByteString, Session> sessions = new ConcurrentHashMap<>();
    private final AddressLimiter perAddress;
    /** Sessions open over all clients, and the bytes of piece state they hold. */
    private final Capacity slots;
    private final Capacity memory;
    /** What each open session was charged against {@link #memory}, by id. */
    private final Map<ByteString, Long> charged = new ConcurrentHashMap<>();
    private final SessionMeters metrics;
    /** Sessions by OpenSession.join_key, and each such session's key by its id. */
    private final Map<ByteString, Session> joins = new ConcurrentHashMap<>();
    private final Map<ByteString, ByteString> joinKeys = new ConcurrentHashMap<>();
    /** Opens with a join key hold one of these (by the key's hash) so that two links open one session. */
    private final Object[] joinLocks = new Object[64];
    /**
     * Adopting a cluster's session holds one of these (by the session id's hash), so that two links
     * adopt it once. Not {@link #joinLocks}: an open holds its join key's lock while it adopts,
     * and two opens whose keys and ids hash across each other's locks waited for each other for ever.
     */
    private final Object[] adoptLocks = new Object[64];
    /** Join keys must be at least this long (as unguessable as an attach secret) and at most {@link #MAX_JOIN_KEY_BYTES}. */
    public static final int MIN_JOIN_KEY_BYTES = 16;
    public static final int MAX_JOIN_KEY_BYTES = 64;
    /** Set when the server starts shutting down: no new sessions, running ones may finish. */
    private volatile boolean draining;
    /** Where the other nodes of a cluster find this node's sessions and this node theirs; null: none. */
    private final SharedSessions shared;

    /** @param pieceSizeOverride a fixed piece size, or 0 for {@link PieceLayout#forFile(long)} */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit) {
        this(root, hasher, pieceSizeOverride, idleTimeout, unit, Limits.DEFAULT, SessionMeters.NONE);
    }

    /**
     * @param limits how many open sessions one client address and the whole server may hold, and
     *               the bytes of piece state they may hold together
     * @param metrics where sessions count what they send and how they end
     */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit,
                           Limits limits, SessionMeters metrics) {
        this(root, hasher, pieceSizeOverride, idleTimeout, unit, limits, metrics, null);
    }

    /** @param shared the cluster's sessions (--cluster), or null */
    public SessionRegistry(ServedRoot root, FileHasher hasher, int pieceSizeOverride, long idleTimeout, TimeUnit unit,
                           Limits limits, SessionMeters metrics, SharedSessions shared) {
        this.shared = shared;
        this.metrics = metrics;
        this.root = root;
        this.hasher = hasher;
        this.pieceSizeOverride = pieceSizeOverride;
        this.idleTimeoutNanos = unit.toNanos(idleTimeout);
        this.perAddress = new AddressLimiter(limits.sessionsPerAddress());
        this.slots = new Capacity(limits.maxSessions());
        this.memory = new Capacity(limits.sessionMemory());
        metrics.bindSessionLimits(slots, memory);
        for (int i = 0; i < joinLocks.length; i++) {
            joinLocks[i] = new Object();
            adoptLocks[i] = new Object();
        }
    }

    /**
     * The bytes of memory a session of {@code layout} is charged: its allocator's byte per piece
     * and the piece digests (32 bytes a piece), which sessions of one file version share but each
     * is charged for, an upper bound that needs no bookkeeping of who shares what.
     */
    public static long stateBytes(PieceLayout layout) {
        return STATE_OVERHEAD_BYTES + (long) layout.pieceCount() * (1 + dev.biternet.common.piece.Digests.SHA256_BYTES);
    }

    /**
     * Opens a session for {@code client}. Refused with {@code LIMIT_EXCEEDED}: one more than the
     * client address's open sessions, than the server's, or a session whose piece state does not
     * fit in what the open ones leave of the memory budget (the state is counted once the
     * file's layout is known: at most one session per event loop is allocated and then refused).
     * A path longer than {@link #MAX_PATH_BYTES} is {@code FORBIDDEN_PATH}. A resuming client's
     * pieces ({@code have}) are marked done when the file is still the version it names (see
     * {@link Session#markHave}).
     */
    public Session open(dev.biternet.proto.OpenSession request, SocketAddress client) throws RequestException {
        ByteString key = request.getJoinKey();
        if (key.isEmpty()) {
            return openNew(request, client);
        }
        if (key.size() < MIN_JOIN_KEY_BYTES || key.size() > MAX_JOIN_KEY_BYTES) {
            throw new RequestException(Error.Code.BAD_FRAME, "join key of " + key.size() + " bytes; it must have "
                    + MIN_JOIN_KEY_BYTES + " to " + MAX_JOIN_KEY_BYTES);
        }
        // The links of one client open at once: the first opens, the others find its session.
        synchronized (joinLocks[Math.floorMod(key.hashCode(), joinLocks.length)]) {
            Session joined = joins.get(key);
            if (joined != null && live(joined.id().bytes()) == joined) {
                if (!joined.path().equals(request.getPath())) {
                    throw new RequestException(Error.Code.BAD_STATE, "this join key names a session for another file");
                }
                return joined;
            }
            Session opened = shared == null ? openNew(request, client) : openJoined(key, request, client);
            joins.put(key, opened);
            joinKeys.put(opened.id().bytes(), key);
            if (!sessions.containsKey(opened.id().bytes())) {
                forgetJoin(opened); // closed meanwhile (an empty file's session)
            }
            return opened;
        }
    }

    /**
     * {@link #open}, completed on a thread of the cluster's {@link SharedSessions#opening()} when
     * it must ask the store, so that no event loop waits for it; at once on the caller's thread
     * otherwise (no --cluster, or a join key this node already serves). A full queue there is
     * {@code LIMIT_EXCEEDED}, server busy. Fails with the {@link RequestException} or
     * {@link StoreException} {@link #open} would throw.
     */
    public java.util.concurrent.CompletableFuture<Session> openAsync(dev.biternet.proto.OpenSession request,
                                                                    SocketAddress client) {
        if (shared == null) {
            return now(() -> open(request, client));
        }
        // The key's session served here already (another link of the client came first): no
        // store, and no join lock, which an open waiting for the store may hold.
        Session joined = request.getJoinKey().isEmpty() ? null : joins.get(request.getJoinKey());
        if (joined != null && live(joined.id().bytes()) == joined && joined.path().equals(request.getPath())) {
            return java.util.concurrent.CompletableFuture.completedFuture(joined);
        }
        return offStore(() -> open(request, client));
    }

    /** {@link #get(ByteString, SocketAddress)}, off the event loop as {@link #openAsync} when the store must be asked. */
    public java.util.concurrent.CompletableFuture<Session> getAsync(ByteString id, SocketAddress client) {
        return shared == null || live(id) != null ? now(() -> get(id, client)) : offStore(() -> get(id, client));
    }

    /** Opening or finding a session; it may ask the cluster's store. */
    @FunctionalInterface
    private interface Lookup {
        Session run() throws RequestException;
    }

    private static java.util.concurrent.CompletableFuture<Session> now(Lookup lookup) {
        try {
            return java.util.concurrent.CompletableFuture.completedFuture(lookup.run());
        } catch (RequestException | RuntimeException e) {
            return java.util.concurrent.CompletableFuture.failedFuture(e);
        }
    }

    private java.util.concurrent.CompletableFuture<Session> offStore(Lookup lookup) {
        var result = new java.util.concurrent.CompletableFuture<Session>();
        try {
            shared.opening().execute(() -> {
                try {
                    result.complete(lookup.run());
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(limitExceeded("cluster_openings", "server busy: too many sessions opening at once"
                    + " (waiting for the cluster's store); try again later"));
        }
        return result;
    }

    /**
     * The cluster's session for {@code key}: another node's (served here too), or one opened
     * here and named the key's, unless another node named one first meanwhile (then that one).
     */
    private Session openJoined(ByteString key, dev.biternet.proto.OpenSession request, SocketAddress client)
            throws RequestException {
        ByteString id = shared.joined(key);
        if (id != null) {
            return adopt(id, request.getPath(), client);
        }
        Session opened = openNew(request, client);
        ByteString winner = shared.join(key, opened.id().bytes());
        if (winner.equals(opened.id().bytes())) {
            return opened;
        }
        if (sessions.remove(opened.id().bytes(), opened)) {
            closeSession(opened, "abandoned");
        }
        return adopt(winner, request.getPath(), client);
    }

    /**
     * Serves here a session another node of the cluster opened: the same id, secret, file and
     * piece states, on this node's copy of the file, which must be the same version (size and
     * modification time here, sampled pieces against the shared digests while hashing).
     */
    private Session adopt(ByteString id, String path, SocketAddress client) throws RequestException {
        synchronized (adoptLocks[Math.floorMod(id.hashCode(), adoptLocks.length)]) {
            Session here = live(id);
            if (here != null) {
                return here;
            }
            SharedSessions.Shared found = shared.find(id);
            if (found == null || (path != null && !found.path().equals(path))) {
                throw new RequestException(Error.Code.UNKNOWN_SESSION, "unknown or expired session");
            }
            return openNew(found.path(), null, client, found);
        }
    }

    private void forgetJoin(Session s) {
        ByteString key = joinKeys.remove(s.id().bytes());
        if (key != null) {
            joins.remove(key, s);
        }
    }

    private Session openNew(dev.biternet.proto.OpenSession request, SocketAddress client) throws RequestException {
        return openNew(request.getPath(), request, client, null);
    }

    /** Opens a session: a new one for {@code request}, or here too the cluster's {@code adopt}. */
    private Session openNew(String path, dev.biternet.proto.OpenSession request, SocketAddress client,
                            SharedSessions.Shared adopt) throws RequestException {
        if (draining) {
            throw new RequestException(Error.Code.SHUTTING_DOWN, "the server is shutting down; try again later");
        }
        int pathBytes = path.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (pathBytes > MAX_PATH_BYTES) {
            throw new RequestException(Error.Code.FORBIDDEN_PATH, "refused path '" + UntrustedText.field(path)
                    + "': longer than " + MAX_PATH_BYTES + " bytes");
        }
        if (!perAddress.tryAcquire(client) && (closeFinished(client) == 0 || !perAddress.tryAcquire(client))) {
            throw limitExceeded("sessions_per_address", "too many open sessions from "
                    + AddressLimiter.hostOf(client) + " (limit " + perAddress.max() + ")");
        }
        if (!slots.tryAcquire(1) && (!makeRoom() || !slots.tryAcquire(1))) {
            perAddress.release(client);
            throw limitExceeded("sessions", "server busy: " + slots.max() + " sessions open, its limit (--max-sessions);"
                    + " try again later");
        }
        if (memory.held() >= memory.max() && !makeRoom()) {
            releaseSlots(client);
            throw memoryExceeded(0);
        }
        Session session;
        try {
            session = openFile(path, request, client, adopt);
        } catch (RequestException e) {
            releaseSlots(client);
            throw new RequestException(e.code(), UntrustedText.message(e.getMessage(), path, root.path().toString()));
        } catch (RuntimeException | java.lang.Error e) {
            releaseSlots(client);
            throw e;
        }
        long bytes = stateBytes(session.layout());
        boolean fits;
        while (!(fits = memory.tryAcquire(bytes)) && bytes <= memory.max() && makeRoom()) {
            // closed a session that was not going to be used: look again
        }
        if (!fits) {
            if (sessions.remove(session.id().bytes(), session)) {
                releaseSlots(client);
                session.close();
            }
            throw memoryExceeded(bytes);
        }
        charged.put(session.id().bytes(), bytes);
        if (!sessions.containsKey(session.id().bytes())) {
            uncharge(session); // closed meanwhile (an empty file's session is finished at once)
        }
        return session;
    }

    private RequestException limitExceeded(String limit, String message) {
        metrics.refused(limit);
        return new RequestException(Error.Code.LIMIT_EXCEEDED, message);
    }

    private RequestException memoryExceeded(long bytes) {
        return limitExceeded("session_memory", "server busy: its sessions hold " + memory(memory.held()) + " of piece state"
                + (bytes > 0 ? " and this file's would take " + memory(bytes) : "") + ", its limit is "
                + memory(memory.max()) + " (--session-memory); try again later");
    }

    /** Memory in the binary units --session-memory is given in. */
    private static String memory(long bytes) {
        return dev.biternet.common.cli.Sizes.IEC.bytes(bytes);
    }

    private void releaseSlots(SocketAddress client) {
        perAddress.release(client);
        slots.release(1);
    }

    private void uncharge(Session s) {
        Long bytes = charged.remove(s.id().bytes());
        if (bytes != null) {
            memory.release(bytes);
        }
    }

    /**
     * Opens the file once, by descriptor ({@link ServedRoot#open}): the session reads its own
     * channel on that very file and the hasher a duplicate of it, never the name again.
     */
    private Session openFile(String path, dev.biternet.proto.OpenSession request, SocketAddress client,
                             SharedSessions.Shared adopt) throws RequestException {
        try (ServedFile file = root.open(path)) {
            FileVersion version = file.version();
            if (adopt != null && (version.size() != adopt.size() || version.mtimeNanos() != adopt.mtimeNanos())) {
                LOG.warn("refused session {}: this node's copy of {} differs from the one it was opened on"
                        + " ({} bytes, mtime {} ns here; {} bytes, mtime {} ns there)", adopt.id(), UntrustedText.quoted(path),
                        version.size(), version.mtimeNanos(), adopt.size(), adopt.mtimeNanos());
                metrics.refused("cluster_copy_differs");
                throw new RequestException(Error.Code.IO_ERROR, "this server's copy of '" + path
                        + "' differs from the one the session was opened on (size or modification time)");
            }
            int pieceSize = adopt != null ? adopt.pieceSize() : pieceSizeOverride;
            PieceLayout layout = pieceSize > 0 ? new PieceLayout(version.size(), pieceSize) : PieceLayout.forFile(version.size());
            FileChannel channel = null;
            try {
                channel = file.channel();
                PieceHashes hashes = hasher.hashes(file, layout);
                SessionId id = adopt != null ? adopt.id() : SessionId.random();
                ByteString secret = adopt != null ? adopt.secret() : dev.biternet.server.security.Secrets.random();
                long tag = adopt != null ? adopt.tag() : version.tag();
                PieceAllocator allocator = shared != null ? shared.allocator(id, layout.pieceCount(), metrics)
                        : new LocalPieceAllocator(layout.pieceCount(), metrics);
                Session session;
                try {
                    if (request != null && request.getClientClaims() && !allocator.useClientClaims()) {
                        throw new RequestException(Error.Code.UNSUPPORTED_VERSION, "this server cannot share a download with"
                                + " other servers (client claims are not supported with --cluster)");
                    }
                    if (shared != null && adopt == null) {
                        shared.publish(new SharedSessions.Shared(id, secret, path, version.size(), version.mtimeNanos(),
                                layout.pieceSize(), tag));
                    }
                    session = new Session(id, secret, hashes, channel, path, client, metrics, allocator, tag);
                } catch (RuntimeException | RequestException e) {
                    allocator.close(); // a cluster's: no lease renewed for a session never opened
                    throw e;
                }
                channel = null;
                if (request != null) {
                    session.markHave(request);
                }
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

    /** The session {@code id}: this node's, or (in a cluster) another node's, served here from now on. */
    public Session get(ByteString id, SocketAddress client) throws RequestException {
        Session s = live(id);
        if (s == null && shared != null) {
            return adopt(id, null, client);
        }
        return get(id);
    }

    /**
     * The open session {@code id}, or null; a session whose shared state is gone (the cluster's
     * store restarted empty) is closed and forgotten here, so the client opens it anew.
     */
    private Session live(ByteString id) {
        Session s = sessions.get(id);
        if (s != null && s.allocator().lost()) {
            if (sessions.remove(id, s)) {
                closeSession(s, "lost");
            }
            return null;
        }
        return s;
    }

    public Session get(ByteString id) throws RequestException {
        Session s = live(id);
        if (s == null) {
            throw new RequestException(Error.Code.UNKNOWN_SESSION, "unknown or expired session");
        }
        return s;
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

    /**
     * Closes sessions that have had no link for the idle timeout (no link ever: for at most
     * {@link #UNATTACHED_NANOS}), and finished ones with no link.
     */
    public void reap() {
        long unattached = Math.min(idleTimeoutNanos, UNATTACHED_NANOS);
        for (Session s : sessions.values()) {
            if (live(s.id().bytes()) == null) {
                continue;
            }
            long idle = s.idleNanos();
            long timeout = s.linksEverAttached() == 0 ? unattached : idleTimeoutNanos;
            if (idle >= 0 && (idle > timeout || (s.allocator().remaining() == 0 && idle > FINISHED_GRACE_NANOS))) {
                if (sessions.remove(s.id().bytes(), s)) {
                    closeSession(s, s.allocator().remaining() == 0 ? "complete" : "abandoned");
                }
            }
        }
    }

    /**
     * Makes room for one more session when the server's limits are reached: closes the finished
     * sessions with no link left, or else the oldest session no link attached to for
     * {@link #UNATTACHED_EVICTABLE_NANOS}; false if there was none.
     */
    private boolean makeRoom() {
        if (closeFinished(null) > 0) {
            return true;
        }
        Session oldest = null;
        for (Session s : sessions.values()) {
            if (s.linksEverAttached() == 0 && s.idleNanos() > UNATTACHED_EVICTABLE_NANOS
                    && (oldest == null || s.idleNanos() > oldest.idleNanos())) {
                oldest = s;
            }
        }
        if (oldest != null && sessions.remove(oldest.id().bytes(), oldest)) {
            closeSession(oldest, "abandoned");
            return true;
        }
        return false;
    }

    /**
     * Closes the finished sessions of {@code client}'s address (of every address if null) that
     * have no link left, so that a client fetching many files in a row does not run into a
     * session limit with downloads that are over; returns how many were closed.
     */
    private int closeFinished(SocketAddress client) {
        String host = client == null ? null : AddressLimiter.hostOf(client);
        int closed = 0;
        for (Session s : sessions.values()) {
            if (s.idleNanos() >= 0 && s.allocator().remaining() == 0
                    && (host == null || host.equals(AddressLimiter.hostOf(s.client())))
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
     * shutdown} (the server stopped first), {@code failed} (the file changed or became
     * unreadable while it was hashed) or {@code lost} (its state in the cluster's store is gone).
     */
    private void closeSession(Session s, String result) {
        releaseSlots(s.client());
        uncharge(s);
        forgetJoin(s);
        s.close();
        String outcome = s.failure() != null ? "failed" : result;
        metrics.sessionClosed(outcome, s.bytesSent());
        SESSIONS.info("session={} result={} path={} client={} bytes={} file_bytes={} pieces_done={}/{} links={} seconds={}",
                s.id(), outcome, UntrustedText.quoted(s.path()), AddressLimiter.hostOf(s.client()), s.bytesSent(), s.layout().fileSize(),
                s.layout().pieceCount() - s.allocator().remaining(), s.layout().pieceCount(), s.linksEverAttached(),
                String.format(java.util.Locale.ROOT, "%.3f", s.seconds(System.nanoTime())));
    }

    private static void closeQuietly(FileChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing was read from it
        }
    }
}
