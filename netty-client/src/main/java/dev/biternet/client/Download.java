package dev.biternet.client;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.client.link.ClientInitializer;
import dev.biternet.client.link.ClientTls;
import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkHandler;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.store.LocalFiles;
import dev.biternet.client.store.OutputLock;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import dev.biternet.common.wire.Frames;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.SessionOpened;
import com.google.protobuf.ByteString;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One download: connects one channel per link (each bound to its interface), opens the session
 * on the first, attaches them all, and waits until every piece is verified, the whole file's
 * hash checks out and the file is renamed into place. It holds the output's lock
 * ({@link OutputLock}) from before it reads a previous run's state until it ends.
 */
public final class Download {
    /** SOL_SOCKET / SO_BINDTODEVICE on Linux; Netty has no named option for it. */
    private static final int IFNAMSIZ = 16;
    private static final RawUnixChannelOption SO_BINDTODEVICE = new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);
    private static final long HANDSHAKE_SECONDS = 30;

    /**
     * What to fetch, where to put it, over which links, how long to keep retrying lost links, and
     * whether to read the finished file back and check its SHA-256 ({@code --verify-disk}).
     */
    public record Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose,
                          int retrySeconds, boolean verifyDisk) {
        public Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose) {
            this(target, output, ifaces, connectTimeoutMillis, verbose, DEFAULT_RETRY_SECONDS, false);
        }
    }

    public static final int DEFAULT_RETRY_SECONDS = 60;

    private final Request request;
    private final PrintWriter err;
    private final LinkSecurity security;
    private long start;
    /** Published for {@link #progress()}, which progress displays call from their own thread. */
    private volatile List<Link> liveLinks = List.of();
    private volatile PieceStore liveStore;
    private volatile Progress.Phase phase = Progress.Phase.CONNECTING;
    /** The first fatal failure a link thread ran into; ends the download. */
    private final CompletableFuture<DownloadException> fatal = new CompletableFuture<>();
    private volatile boolean over;
    private final CompletableFuture<Void> underway = new CompletableFuture<>();

    public Download(Request request, PrintWriter err) {
        this(request, err, LinkSecurity.NONE);
    }

    /** @param security the access token and TLS settings every link uses */
    public Download(Request request, PrintWriter err, LinkSecurity security) {
        this.request = request;
        this.err = err;
        this.security = security;
    }

    public DownloadResult run() throws DownloadException, InterruptedException {
        Target target = request.target();
        InetAddress server;
        try {
            server = InetAddress.getByName(target.host());
        } catch (UnknownHostException e) {
            throw new DownloadException(ExitCodes.NETWORK, "cannot resolve host " + target.host());
        }
        List<LinkSpec> specs;
        try {
            specs = LinkResolver.resolve(request.ifaces(), server);
        } catch (LinkResolver.LinkException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
        long start = System.nanoTime();
        this.start = start;
        OutputLock lock = lockOutput();
        try {
            return fetch(server, specs, start);
        } finally {
            try {
                lock.close();
            } catch (IOException e) {
                // the lock goes with the process; a stale lock file is taken over by the next run
            }
        }
    }

    /**
     * Refuses an output that is not a regular file (or nothing) and takes the output's lock,
     * before anything reads or writes {@code OUT.part} or its state.
     */
    private OutputLock lockOutput() throws DownloadException {
        Path out = request.output();
        Path dir = out.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new DownloadException(ExitCodes.USAGE, "cannot write " + out + ": " + dir
                    + (Files.exists(dir) ? " is not a directory" : ": No such file or directory"));
        }
        try {
            // A link is refused, not followed: the file is renamed into place, which would replace
            // the link, not write where it leads.
            LocalFiles.requireRegularOrAbsent(out, "; -o must name a regular file, a new file or a directory"
                    + " (biternet-get renames the finished file into place, replacing what is there)");
        } catch (IOException e) {
            throw new DownloadException(ExitCodes.USAGE, LocalFiles.describe(out, e));
        }
        try {
            return OutputLock.acquire(out);
        } catch (OutputLock.Busy e) {
            throw new DownloadException(ExitCodes.BUSY, e.getMessage());
        } catch (IOException e) {
            throw localFailure("cannot lock " + out, OutputLock.pathFor(out), e);
        }
    }

    /** A local file failure: the file, the system's reason, and what was being done. */
    private static DownloadException localFailure(String doing, Path file, IOException e) {
        return new DownloadException(ExitCodes.LOCAL_IO, e instanceof LocalFiles.Refused ? e.getMessage()
                : doing + ": " + LocalFiles.describe(file, e));
    }

    private DownloadResult fetch(InetAddress server, List<LinkSpec> specs, long start)
            throws DownloadException, InterruptedException {
        Target target = request.target();
        Resume resume = loadResume();
        Transport transport = Transport.best();
        EventLoopGroup group = EarlyStart.group(transport, specs.size());
        List<Link> links = new ArrayList<>();
        List<Channel> channels = new ArrayList<>();
        PieceStore store = null;
        try {
            InetSocketAddress remote = new InetSocketAddress(server, target.port());
            List<ChannelFuture> connects = new ArrayList<>();
            // The session is opened on the link that connects first, most likely the one with the
            // shortest round trip: every link waits for it before attaching.
            CompletableFuture<LinkHandler> opener = new CompletableFuture<>();
            OpenSession openRequest = resume.request();
            for (int i = 0; i < specs.size(); i++) {
                Link link = new Link(specs.get(i), i + 1, transport, group, remote);
                links.add(link);
                LinkHandler h = link.first().current;
                ChannelFuture connect = connect(transport, group, specs.get(i), h, remote);
                connect.addListener(f -> {
                    if (f.isSuccess() && opener.complete(h)) {
                        h.open(openRequest);
                    }
                });
                connects.add(connect);
            }
            for (int i = 0; i < connects.size(); i++) {
                ChannelFuture f = connects.get(i).await();
                if (!f.isSuccess()) {
                    throw new DownloadException(ExitCodes.NETWORK, describe(specs.get(i)) + ": cannot connect to "
                            + target.host() + ":" + target.port() + ": " + rootMessage(f.cause()));
                }
                channels.add(f.channel());
            }
            liveLinks = List.copyOf(links);
            trace("connected " + channels.size() + " link(s)");
            // Every connect succeeded, so one listener has picked the opener (perhaps a moment after
            // its connect's await returned here: listeners run on the event loop).
            LinkHandler openerHandler = opener.join();
            Flow first = links.stream().map(Link::primary).filter(f -> f.current == openerHandler).findFirst().orElseThrow();
            SessionOpened session = openSession(first, openRequest);
            trace("session opened: " + session.getFileSize() + " bytes, " + session.getPieceCount() + " pieces of "
                    + session.getPieceSize());
            PieceLayout layout = layoutOf(session);
            store = openStore(session, layout, resume);
            trace("part file and resume log created");
            try {
                addHashes(store, session.getHashes());
            } catch (IOException e) {
                throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage() + " (the file changed on the server;"
                        + " delete " + request.output() + ".part and rerun)");
            }
            liveStore = store;
            phase = Progress.Phase.DOWNLOADING;
            SessionKeeper keeper = new SessionKeeper(session);
            // One server: its Welcome on the opening link says for all whether flows can share a cap.
            boolean flowGroups = openerHandler.flowGroups();
            String congestion = openerHandler.congestionControl();
            for (Link l : links) {
                l.start(keeper, store, flowGroups, congestion);
            }
            underway.complete(null);
            awaitFinish(store, links);
            trace("all pieces verified");
            phase = Progress.Phase.VERIFYING;
            byte[] sha;
            try {
                sha = store.finish();
            } catch (PieceStore.IntegrityException e) {
                // Every piece matched its hash yet the whole does not: the state must not make
                // the next run trust these pieces again.
                try {
                    ResumeLog.deleteFor(request.output());
                } catch (IOException ignored) {
                    // the rerun re-hashes the pieces and meets the same mismatch; it says so
                }
                throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage());
            } catch (IOException e) {
                throw localFailure("cannot finish " + request.output(), store.partPath(), e);
            }
            trace("file verified and renamed");
            phase = Progress.Phase.DONE;
            double seconds = (System.nanoTime() - start) / 1e9;
            over = true;
            for (Link l : links) {
                l.stop();
            }
            List<LinkStats> stats = links.stream().map(Link::stats).toList();
            return new DownloadResult(request.output(), layout.fileSize(), seconds, Digests.hex(sha),
                    store.rootHex(), layout.pieceSize(), layout.pieceCount(), stats, store.resumedCount(), store.verifiesDisk());
        } finally {
            over = true;
            underway.complete(null);
            for (Channel c : channels) {
                c.close();
            }
            for (Link l : links) {
                l.stop();
            }
            if (store != null) {
                try {
                    store.close();
                } catch (IOException ignored) {
                    // the part file and its state stay for a later resume
                }
            }
            // The channels are closed; the loops' threads wind down on their own (not awaited:
            // the user is waiting for the summary, not for threads to exit).
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * Completes once every link is attached and pieces are flowing, or when the download ends
     * before that (failed): work that should not compete with the start waits for it.
     */
    public CompletableFuture<Void> underway() {
        return underway;
    }

    /** A live view of this download for progress displays; any thread, values may lag by one event. */
    public Progress progress() {
        PieceStore s = liveStore;
        if (s == null) {
            return new Progress(phase, 0, 0, 0, liveLinks.stream().map(Link::stats).toList());
        }
        PieceLayout layout = s.layout();
        long verified = Math.min(layout.fileSize(), (long) s.verifiedCount() * layout.pieceSize());
        return new Progress(phase, layout.fileSize(), verified, layout.pieceSize(),
                liveLinks.stream().map(Link::stats).toList());
    }

    /** A previous run's state, if it belongs to this path: what to send in OpenSession and which pieces to keep. */
    private record Resume(OpenSession request, ResumeLog.Contents log, Map<Integer, byte[]> pieces) {}

    /**
     * Reads {@code OUT.part.state} and re-hashes the pieces it names from {@code OUT.part}
     * (a torn or corrupted piece is fetched again). The surviving pieces go to the server in
     * OpenSession.have, with the file version they belong to: the server skips them only if the
     * file is still that version.
     */
    private Resume loadResume() throws DownloadException {
        Path out = request.output();
        Path state = ResumeLog.pathFor(out);
        Optional<ResumeLog.Contents> log;
        boolean stateThere;
        try {
            log = ResumeLog.read(out);
            stateThere = log.isPresent() || Files.exists(state, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw localFailure("cannot read the resume state", state, e);
        }
        if (log.isEmpty()) {
            return stateThere ? discard(state + " is damaged (not a state this client wrote, or cut short)") : fresh();
        }
        ResumeLog.Identity id = log.get().identity();
        if (!id.path().equals(request.target().path())) {
            return discard(state + " belongs to a download of " + id.path() + ", not " + request.target().path());
        }
        PieceLayout layout;
        try {
            layout = new PieceLayout(id.fileSize(), id.pieceSize());
        } catch (IllegalArgumentException e) {
            layout = null;
        }
        if (layout == null || layout.pieceCount() > PieceStore.MAX_PIECES) {
            return discard(state + " names an impossible file layout (" + id.fileSize() + " bytes in pieces of "
                    + id.pieceSize() + ")");
        }
        Map<Integer, byte[]> pieces;
        try {
            pieces = PieceStore.recheck(out, layout, log.get().pieces());
        } catch (IOException e) {
            throw localFailure("cannot read " + out + ".part to resume", PieceStore.partFor(out), e);
        }
        trace("resume state: " + log.get().pieces().size() + " piece(s) logged, " + pieces.size() + " re-hashed intact");
        if (pieces.isEmpty() && !log.get().pieces().isEmpty()) {
            return discard("none of the " + log.get().pieces().size() + " pieces " + state + " names is intact in "
                    + out + ".part" + (Files.exists(PieceStore.partFor(out), LinkOption.NOFOLLOW_LINKS)
                    ? " (changed or truncated since)" : " (it is missing)"));
        }
        BitSet have = new BitSet(layout.pieceCount());
        pieces.keySet().forEach(have::set);
        byte[] bitmap = Arrays.copyOf(have.toByteArray(), (layout.pieceCount() + 7) / 8);
        return new Resume(openRequest(bitmap, id.fileVersion(), id.fileSize(), id.pieceSize()), log.get(), pieces);
    }

    /** A download that starts from nothing. */
    private Resume fresh() {
        return new Resume(OpenSession.newBuilder().setPath(request.target().path()).build(), null, Map.of());
    }

    /** Says in one line why a previous run's state is not used, and starts from nothing. */
    private Resume discard(String why) {
        err.println("biternet-get: warning: " + why + "; the download starts over");
        err.flush();
        return fresh();
    }

    /** OpenSession for the target, naming the pieces held (bit i = piece i, LSB first) and the version they are of. */
    private OpenSession openRequest(byte[] have, long fileVersion, long fileSize, int pieceSize) {
        return OpenSession.newBuilder().setPath(request.target().path()).setHave(ByteString.copyFrom(have))
                .setExpectedFileVersion(fileVersion).setExpectedFileSize(fileSize).setHavePieceSize(pieceSize).build();
    }

    /** The store for this session: the previous run's pieces if the file is the same version, else a fresh start. */
    private PieceStore openStore(SessionOpened session, PieceLayout layout, Resume resume) throws DownloadException {
        ResumeLog.Identity now = new ResumeLog.Identity(request.target().path(), session.getFileSize(),
                session.getPieceSize(), session.getFileVersion());
        Path out = request.output();
        try {
            boolean sameFile = resume.log() != null && resume.log().identity().equals(now);
            boolean resuming = sameFile && !resume.pieces().isEmpty();
            if (resuming) {
                err.println("biternet-get: resuming " + out + ".part: " + resume.pieces().size() + " of "
                        + layout.pieceCount() + " pieces already verified");
                err.flush();
            } else if (resume.log() != null && !sameFile) {
                discard(out + ".part is from another version of " + request.target().path()
                        + " (the file changed on the server)");
            }
            ResumeLog log = resuming ? ResumeLog.reopen(out, resume.log()) : ResumeLog.create(out, now);
            try {
                return new PieceStore(out, layout, log, resuming ? resume.pieces() : Map.of(), request.verifyDisk());
            } catch (IOException | RuntimeException e) {
                // A new state without its part file would only be discarded by the next run.
                if (resuming) {
                    log.close();
                } else {
                    log.delete();
                }
                throw e;
            }
        } catch (IOException e) {
            throw localFailure("cannot create " + out + ".part and its state", null, e);
        }
    }

    private static void addHashes(PieceStore store, PieceHashes hashes) throws IOException {
        store.addHashes(hashes.getFirstIndex(), hashes.getDigests().toByteArray());
        if (!hashes.getRootHash().isEmpty()) {
            store.setRoot(hashes.getRootHash().toByteArray(), hashes.getFileSha256().toByteArray());
        }
    }

    /**
     * The session all links attach to. When the server forgets it (restarted: UNKNOWN_SESSION),
     * one link re-opens the file, telling the server every piece already verified, and the
     * others attach to the new session.
     */
    private static final class SessionKeeper {
        private final SessionOpened first;
        private SessionOpened current;
        private boolean reopening;

        SessionKeeper(SessionOpened first) {
            this.first = first;
            this.current = first;
        }

        synchronized SessionOpened current() {
            return current;
        }

        synchronized void forget(ByteString id) {
            if (current != null && current.getSessionId().equals(id)) {
                current = null;
            }
        }

        /** True if the caller is to re-open the session (no one else is doing it). */
        synchronized boolean claimReopen() {
            if (current == null && !reopening) {
                reopening = true;
                return true;
            }
            return false;
        }

        synchronized void reopened(SessionOpened s) {
            current = s;
            reopening = false;
        }

        synchronized void reopenFailed() {
            reopening = false;
        }

        boolean sameFile(SessionOpened s) {
            return s.getFileSize() == first.getFileSize() && s.getPieceSize() == first.getPieceSize()
                    && s.getPieceCount() == first.getPieceCount() && s.getFileVersion() == first.getFileVersion();
        }
    }

    /**
     * One {@code --iface} over the whole download: one TCP flow, or several when they carry
     * more together ({@link FlowCount}, judged from the link's bytes every look), all attached
     * with the link's flow group so that the server holds them to the link's one cap and rate.
     * A link whose pieces keep failing their hash is dropped, all its flows with it.
     */
    private final class Link {
        private final LinkSpec spec;
        /** The link's Attach.flow_group: its number among the links, from 1. */
        private final int group;
        private final List<Flow> flows = new java.util.concurrent.CopyOnWriteArrayList<>();
        private FlowCount count;
        private final Transport transport;
        private final EventLoopGroup loops;
        private final InetSocketAddress remote;
        private volatile boolean dropped;
        /** The most flows the link had at once. */
        private volatile int peakFlows = 1;
        private SessionKeeper keeper;
        private PieceStore store;
        /** The server holds a link's flows to one cap and rate: more than one flow is safe. */
        private boolean flowGroups;

        Link(LinkSpec spec, int group, Transport transport, EventLoopGroup loops, InetSocketAddress remote) {
            this.spec = spec;
            this.group = group;
            this.transport = transport;
            this.loops = loops;
            this.remote = remote;
        }

        /** A connection of this link, counting for its cap whatever the link's flows carried. */
        LinkHandler handler(OpenSession open) {
            LinkHandler h = new LinkHandler(spec, open, 0, security.token());
            h.partOf(this::carried, this::activeFlows);
            return h;
        }

        private int activeFlows() {
            return (int) Math.max(1, flows.stream().filter(f -> !f.retired).count());
        }

        /** The first flow, connecting now; its handler may open the session. */
        Flow first() {
            Flow f = new Flow(this, handler(null), transport, loops, remote);
            flows.add(f);
            return f;
        }

        Flow primary() {
            return flows.get(0);
        }

        void start(SessionKeeper keeper, PieceStore store, boolean flowGroups, String serverCongestion) {
            this.keeper = keeper;
            this.store = store;
            this.flowGroups = flowGroups;
            this.count = spec.flowCount(serverCongestion);
            primary().start(keeper, store, false);
            adjust(0, Double.MAX_VALUE); // a fixed number of flows opens now
        }

        /**
         * One look (the download's supervising thread): the flows {@link FlowCount} wants now,
         * opened or retired. Only with a server that shares a cap over a flow group.
         */
        void adjust(double seconds, double secondsLeft) {
            LinkHandler h = primary().current;
            if (dropped || !flowGroups) {
                return;
            }
            double rtt = h.minRttSeconds();
            long bytes = carried();
            boolean atLimit = spec.rateLimit() > 0 && rateMeter.rate(seconds, bytes) >= 0.9 * spec.rateLimit();
            boolean nearEnd = secondsLeft < Math.max(3, 20 * rtt);
            int want = count.sample(seconds, bytes, retransmitted(), rtt, nearEnd, atLimit);
            List<Flow> active = flows.stream().filter(f -> !f.retired).toList();
            for (int i = active.size(); i < want && !over; i++) {
                Flow f = new Flow(this, handler(null), transport, loops, remote);
                flows.add(f);
                f.start(keeper, store, true);
                trace("link " + spec.name() + ": flow " + flows.size() + " opened (" + want + " flows)");
            }
            peakFlows = Math.max(peakFlows, want);
            for (int i = active.size() - 1; i >= Math.max(1, want); i--) {
                active.get(i).retire();
                trace("link " + spec.name() + ": a flow retired (" + want + " flows)");
            }
        }

        private final RateMeter rateMeter = new RateMeter();

        /** True while a flow of the link has a live connection attached to the session. */
        boolean up() {
            return flows.stream().anyMatch(Flow::up);
        }

        /** True once the link cannot take another piece without passing its cap. */
        boolean capReached() {
            return spec.capBytes() > 0 && store != null && carried() + store.layout().pieceSize() > spec.capBytes();
        }

        /**
         * What the server retransmitted over the link's current connections, bytes; -1 when
         * none of them said (a server without TCP_INFO, or nothing received yet).
         */
        long retransmitted() {
            long n = -1;
            for (Flow f : flows) {
                long r = f.retired ? -1 : f.current.retransmittedBytes();
                n = r < 0 ? n : Math.max(0, n) + r;
            }
            return n;
        }

        /** Payload over all of the link's flows and connections. */
        long carried() {
            long n = 0;
            for (Flow f : flows) {
                n += f.carried();
            }
            return n;
        }

        void drop() {
            if (!dropped) {
                dropped = true;
                flows.forEach(Flow::stop);
            }
        }

        void stop() {
            flows.forEach(Flow::stop);
        }

        /** Why the link is down, for the message when every link is lost. */
        String state() {
            return primary().current.closed().getNow("up");
        }

        LinkStats stats() {
            LinkStats s = null;
            int live = 0;
            for (Flow f : flows) {
                LinkStats one = f.stats();
                s = s == null ? one : s.alongside(one);
                live += f.retired || f.current.closed().isDone() ? 0 : 1;
            }
            // while it runs, the flows it has; in the summary, the most it had
            return s.withFlows(over ? peakFlows : Math.max(1, live));
        }
    }

    /** A link's rate over the last second or so, for "is it at its rate limit". */
    private static final class RateMeter {
        private double lastSeconds;
        private long lastBytes;
        private double rate;

        double rate(double seconds, long bytes) {
            if (seconds - lastSeconds >= 1) {
                rate = (bytes - lastBytes) / (seconds - lastSeconds);
                lastSeconds = seconds;
                lastBytes = bytes;
            }
            return rate;
        }
    }

    /**
     * One TCP flow of a link over the whole download: its current connection and, when that is
     * lost, a thread that reconnects with exponential backoff (0.25 s doubling to 5 s, with
     * jitter) and re-attaches to the session. A flow that keeps delivering bad pieces is not
     * reconnected (its link is dropped), nor one its link retired.
     */
    private final class Flow {
        private static final long FIRST_DELAY_MILLIS = 250;
        private static final long MAX_DELAY_MILLIS = 5000;
        private final Link link;
        private final LinkSpec spec;
        private final Transport transport;
        private final EventLoopGroup group;
        private final InetSocketAddress remote;
        private final List<LinkHandler> past = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile LinkHandler current;
        private volatile boolean retired;
        private Thread thread;

        Flow(Link link, LinkHandler first, Transport transport, EventLoopGroup group, InetSocketAddress remote) {
            this.link = link;
            this.spec = link.spec;
            this.current = first;
            this.transport = transport;
            this.group = group;
            this.remote = remote;
        }

        /** {@code delay} give or take 20 %, so links (and clients) that lost the server together do not return together. */
        static long jittered(long delay) {
            return (long) (delay * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
        }

        /** Replaces the connection with a new one that sends {@code open}; completes when connected. */
        ChannelFuture redial(OpenSession open) {
            LinkHandler h = link.handler(open);
            current = h;
            return connect(transport, group, spec, h, remote);
        }

        /**
         * Attaches the connected flow (or, with {@code connect}, first connects it) and keeps it
         * up from a thread of its own.
         */
        void start(SessionKeeper keeper, PieceStore store, boolean connect) {
            if (!connect) {
                current.attach(keeper.current(), store, link.group);
            }
            thread = new Thread(() -> {
                try {
                    if (!connect || reconnect(keeper, store, 0) >= 0) {
                        keepUp(keeper, store);
                    }
                } catch (InterruptedException e) {
                    // the download is over
                }
            }, "biternet-link-" + spec.name());
            thread.setDaemon(true);
            thread.start();
        }

        /** Takes no new piece on this flow, and closes it once the pieces under way have come. */
        void retire() {
            retired = true;
            current.retire();
        }

        /** True while the link has a live connection attached to the session. */
        boolean up() {
            return !current.closed().isDone() && current.sessionId() != null;
        }

        void stop() {
            LinkHandler h = current;
            if (thread != null) {
                thread.interrupt();
            }
            h.close();
        }

        LinkStats stats() {
            // One snapshot, the current handler read first: the link's reconnect thread adds a
            // closed handler to past and then replaces current. Reading past twice (iterate,
            // then contains) could see it empty and then holding current, and return null
            // (a 0-byte download, whose links close as it ends, did: Summary's NPE).
            LinkHandler now = current;
            List<LinkHandler> all = new ArrayList<>(past);
            if (!all.contains(now)) {
                all.add(now);
            }
            LinkStats s = null;
            for (LinkHandler h : all) {
                s = s == null ? h.stats() : s.plus(h.stats());
            }
            return s;
        }

        /** Payload this flow carried on all its connections so far. */
        long carried() {
            LinkHandler now = current;
            long n = past.contains(now) ? 0 : now.bytes();
            for (LinkHandler h : past) {
                n += h.bytes();
            }
            return n;
        }

        private void keepUp(SessionKeeper keeper, PieceStore store) throws InterruptedException {
            long delay = FIRST_DELAY_MILLIS;
            while (!over) {
                LinkHandler h = current;
                String reason;
                try {
                    reason = h.closed().get();
                } catch (ExecutionException e) {
                    reason = rootMessage(e);
                }
                past.add(h);
                if (over || retired) {
                    return;
                }
                if (h.failedLocally()) {
                    fail(new DownloadException(ExitCodes.LOCAL_IO, reason + "; the verified pieces are kept: fix that"
                            + " (free space), then rerun the same command to resume"));
                    return;
                }
                if (h.dropped()) {
                    link.drop();
                    err.println("biternet-get: warning: link " + spec.name() + " dropped: " + reason
                            + "; the other links finish the file");
                    err.flush();
                    return;
                }
                Error.Code code = h.serverError();
                if (code == Error.Code.UNKNOWN_SESSION) {
                    keeper.forget(h.sessionId());
                    delay = FIRST_DELAY_MILLIS;
                } else if (code != null && ServerErrors.isFinal(code)) {
                    fail(new DownloadException(ExitCodes.SERVER_REFUSED, reason + "; " + request.output()
                            + " was not written (rerun to start over)"));
                    return;
                }
                if (h.bytes() > 0) {
                    delay = FIRST_DELAY_MILLIS;
                }
                trace("link " + spec.name() + " lost (" + reason + "); reconnecting");
                delay = reconnect(keeper, store, delay);
                if (delay < 0) {
                    return;
                }
            }
        }

        /** Reconnects until attached; returns the next backoff, or -1 if the download ended meanwhile. */
        private long reconnect(SessionKeeper keeper, PieceStore store, long delay) throws InterruptedException {
            while (!over && !retired) {
                Thread.sleep(jittered(delay));
                delay = Math.min(MAX_DELAY_MILLIS, Math.max(FIRST_DELAY_MILLIS, delay * 2));
                SessionOpened session = keeper.current();
                OpenSession open = null;
                if (session == null) {
                    if (!keeper.claimReopen()) {
                        delay = FIRST_DELAY_MILLIS;
                        continue;
                    }
                    open = openRequest(store.haveBitmap(), keeper.first.getFileVersion(), keeper.first.getFileSize(),
                            keeper.first.getPieceSize());
                }
                LinkHandler h = link.handler(open);
                ChannelFuture f = connect(transport, group, spec, h, remote).await();
                if (!f.isSuccess()) {
                    if (open != null) {
                        keeper.reopenFailed();
                    }
                    trace("link " + spec.name() + ": cannot reconnect: " + rootMessage(f.cause()));
                    continue;
                }
                if (open != null) {
                    session = reopen(keeper, store, h);
                    if (session == null) {
                        past.add(h);
                        continue;
                    }
                }
                current = h;
                if (over || retired) {
                    h.close();
                    return -1;
                }
                h.attach(session, store, link.group);
                trace("link " + spec.name() + (past.isEmpty() ? ": flow attached" : " reconnected"));
                return delay;
            }
            return -1;
        }

        /** Opens a new session for the same file on {@code h}; null if that failed (retried later). */
        private SessionOpened reopen(SessionKeeper keeper, PieceStore store, LinkHandler h) throws InterruptedException {
            SessionOpened s;
            try {
                s = h.opened().get(HANDSHAKE_SECONDS, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                keeper.reopenFailed();
                h.close();
                if (h.serverError() != null && ServerErrors.isFinal(h.serverError())) {
                    fail(new DownloadException(ExitCodes.SERVER_REFUSED, "server refused " + request.target().path()
                            + " on reconnecting: " + rootMessage(e)));
                }
                return null;
            }
            if (!keeper.sameFile(s)) {
                h.close();
                fail(new DownloadException(ExitCodes.SERVER_REFUSED, "the file changed on the server while the download"
                        + " was interrupted (" + s.getFileSize() + " bytes now); " + request.output()
                        + " was not written (rerun to start over)"));
                return null;
            }
            try {
                addHashes(store, s.getHashes());
            } catch (IOException e) {
                h.close();
                fail(new DownloadException(ExitCodes.INTEGRITY, e.getMessage() + " (the file changed on the server)"));
                return null;
            }
            keeper.reopened(s);
            trace("session re-opened on " + spec.name() + " (the server had forgotten it)");
            return s;
        }
    }

    private void fail(DownloadException e) {
        fatal.complete(e);
    }

    /**
     * Connects one link. The device binding is set on the registered channel before it binds,
     * and a failure to set it fails the link: it never silently goes out another interface.
     */
    private ChannelFuture connect(Transport transport, EventLoopGroup group, LinkSpec spec, LinkHandler handler,
                                  InetSocketAddress remote) {
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                // Up to 1 MiB per read on a fast link: fewer reads, and fewer positional writes.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, request.connectTimeoutMillis())
                .handler(new ClientInitializer(handler, security.tls(), request.target().host(), remote.getPort()));
        ChannelFuture registered = b.register();
        Channel ch = registered.channel();
        ChannelPromise connected = ch.newPromise();
        registered.addListener(r -> {
            if (!r.isSuccess()) {
                connected.setFailure(r.cause());
                return;
            }
            if (spec.device() != null) {
                if (transport == Transport.EPOLL) {
                    try {
                        if (!ch.config().setOption(SO_BINDTODEVICE, deviceName(spec.device()))) {
                            throw new IOException("option not supported");
                        }
                    } catch (Exception e) {
                        ch.close();
                        connected.setFailure(new IOException("cannot bind to device " + spec.device() + ": "
                                + rootMessage(e), e));
                        return;
                    }
                } else {
                    err.println("biternet-get: warning: " + spec.name()
                            + " is bound by address only (SO_BINDTODEVICE needs the epoll transport)");
                }
            }
            ChannelFuture c = spec.localAddress() == null ? ch.connect(remote)
                    : ch.connect(remote, new InetSocketAddress(spec.localAddress(), 0));
            c.addListener(f -> {
                if (!f.isSuccess()) {
                    connected.setFailure(f.cause());
                    return;
                }
                SslHandler tls = ch.pipeline().get(SslHandler.class);
                if (tls == null) {
                    connected.setSuccess();
                    return;
                }
                // With TLS a link counts as connected once the handshake has verified the server.
                tls.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        connected.setSuccess();
                    } else {
                        connected.setFailure(new IOException(ClientTls.explain(h.cause())));
                    }
                });
            });
        });
        return connected;
    }

    private void trace(String event) {
        if (request.verbose()) {
            err.printf(java.util.Locale.ROOT, "biternet-get: %8.3f s %s%n", (System.nanoTime() - start) / 1e9, event);
            err.flush();
        }
    }

    private static ByteBuffer deviceName(String device) {
        byte[] name = device.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buf = ByteBuffer.allocateDirect(IFNAMSIZ);
        buf.put(name, 0, Math.min(name.length, IFNAMSIZ - 1));
        buf.position(0).limit(IFNAMSIZ);
        return buf;
    }

    /**
     * The first link's answer to OpenSession. A server error that is not final
     * ({@link ServerErrors}: a busy server, one shutting down) is asked again on a new
     * connection, with the links' backoff, until {@code --retry-time} is over.
     */
    private SessionOpened openSession(Flow first, OpenSession open) throws DownloadException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(request.retrySeconds());
        long delay = Flow.FIRST_DELAY_MILLIS;
        for (int attempt = 1; ; attempt++) {
            String again;
            try {
                return first.current.opened().get(HANDSHAKE_SECONDS, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof LinkHandler.ServerError se)) {
                    throw new DownloadException(ExitCodes.NETWORK, "opening the session failed: " + rootMessage(e.getCause()));
                }
                if (ServerErrors.isFinal(se.code())) {
                    throw new DownloadException(ExitCodes.SERVER_REFUSED, "server refused " + request.target().path()
                            + ": " + se.getMessage());
                }
                again = "server: " + se.getMessage() + " (" + se.code() + ")";
            } catch (TimeoutException e) {
                throw new DownloadException(ExitCodes.NETWORK, "the server did not answer within " + HANDSHAKE_SECONDS + " s");
            }
            while (true) {
                first.current.close();
                long wait = Flow.jittered(delay);
                delay = Math.min(Flow.MAX_DELAY_MILLIS, delay * 2);
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait) > deadline) {
                    throw new DownloadException(ExitCodes.NETWORK, "the server did not open " + request.target().path()
                            + " within --retry-time " + request.retrySeconds() + " s (" + attempt + " attempt"
                            + (attempt == 1 ? "" : "s") + "); last answer: " + again + "; rerun later");
                }
                trace(again + "; asking again in " + wait + " ms");
                Thread.sleep(wait);
                ChannelFuture f = first.redial(open).await();
                if (f.isSuccess()) {
                    break;
                }
                again = "cannot connect: " + rootMessage(f.cause());
                attempt++;
            }
        }
    }

    /**
     * The session's layout, if this client takes it: pieces of 16 KiB to 16 MiB (the sizes a
     * server uses), at most {@link PieceStore#MAX_PIECES} of them. Checked before anything is
     * allocated or written: a server announcing 819 GB in 16 KiB pieces would otherwise have the
     * client hold 50 million digests.
     */
    private static PieceLayout layoutOf(SessionOpened s) throws DownloadException {
        String what = "the server announced " + Long.toUnsignedString(s.getFileSize()) + " bytes in "
                + Integer.toUnsignedString(s.getPieceCount()) + " pieces of " + Integer.toUnsignedString(s.getPieceSize())
                + " bytes";
        String wrong;
        PieceLayout layout = null;
        if (s.getPieceSize() < PieceLayout.MIN_PIECE_SIZE || s.getPieceSize() > Frames.MAX_PIECE_SIZE) {
            wrong = "pieces must be " + PieceLayout.MIN_PIECE_SIZE + " to " + Frames.MAX_PIECE_SIZE + " bytes";
        } else if (s.getFileSize() < 0 || s.getFileSize() / s.getPieceSize()
                + (s.getFileSize() % s.getPieceSize() == 0 ? 0 : 1) > PieceStore.MAX_PIECES) {
            wrong = "this client takes at most " + PieceStore.MAX_PIECES + " pieces";
        } else {
            layout = new PieceLayout(s.getFileSize(), s.getPieceSize());
            wrong = layout.pieceCount() == s.getPieceCount() ? null : "the piece count does not fit the size";
        }
        if (wrong != null) {
            throw new DownloadException(ExitCodes.NETWORK, what + ": " + wrong + "; nothing was written");
        }
        return layout;
    }

    /**
     * Waits until every piece is verified and the root is known. Fails on the first fatal
     * error a link reports, when every link has been down for the retry time, when every link
     * was dropped, or when every link is capped (or down) and the download has stopped moving.
     */
    private void awaitFinish(PieceStore store, List<Link> links) throws DownloadException, InterruptedException {
        CompletableFuture<Void> finished = CompletableFuture.allOf(store.allVerified(), store.rootKnown());
        int lastVerified = -1;
        long lastProgress = System.nanoTime();
        long downSince = 0;
        RateMeter all = new RateMeter();
        while (true) {
            try {
                CompletableFuture.anyOf(finished, fatal).get(200, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                long now = System.nanoTime();
                double seconds = (now - start) / 1e9;
                long carried = links.stream().mapToLong(Link::carried).sum();
                long left = store.layout().fileSize() - (long) store.verifiedCount() * store.layout().pieceSize();
                double rate = all.rate(seconds, carried);
                for (Link l : links) {
                    l.adjust(seconds, rate > 0 ? left / rate : Double.MAX_VALUE);
                }
                int verified = store.verifiedCount();
                if (verified != lastVerified) {
                    lastVerified = verified;
                    lastProgress = now;
                }
                String progress = " (" + store.verifiedCount() + " of " + store.layout().pieceCount() + " pieces verified)";
                if (links.stream().allMatch(l -> l.dropped)) {
                    throw new DownloadException(ExitCodes.NETWORK, "every link was dropped for delivering pieces that"
                            + " failed their hash" + progress + "; " + request.output() + ".part is kept");
                }
                // Capped links may still be finishing pieces they started; only a download that
                // has stopped moving with every link capped (or lost) has run out of links.
                boolean stalled = now - lastProgress > TimeUnit.SECONDS.toNanos(2);
                if (stalled && links.stream().allMatch(l -> l.capReached() || !l.up() || l.dropped)
                        && links.stream().anyMatch(Link::capReached)) {
                    throw new DownloadException(ExitCodes.NETWORK, "every link reached its data cap (or was lost) before the"
                            + " download finished" + progress + "; raise a cap or add a link, then rerun");
                }
                if (links.stream().anyMatch(Link::up)) {
                    downSince = 0;
                } else if (downSince == 0) {
                    downSince = now;
                } else if (now - downSince > TimeUnit.SECONDS.toNanos(request.retrySeconds())) {
                    StringBuilder why = new StringBuilder("every link was lost for ").append(request.retrySeconds())
                            .append(" s").append(progress);
                    for (Link l : links) {
                        why.append("; ").append(l.spec.name()).append(": ").append(l.state());
                    }
                    why.append("; rerun the same command to resume");
                    throw new DownloadException(ExitCodes.NETWORK, why.toString());
                }
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }
        if (fatal.isDone()) {
            throw fatal.join();
        }
    }

    private static String describe(LinkSpec spec) {
        return spec.localAddress() == null ? "link " + spec.name()
                : "--iface " + spec.name() + " (" + spec.addressText() + ")";
    }
}
