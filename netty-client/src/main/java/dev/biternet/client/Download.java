package dev.biternet.client;

import dev.biternet.client.link.Connector;
import dev.biternet.client.link.Link;
import dev.biternet.client.link.NettyConnector;
import dev.biternet.client.link.LinkOwner;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSet;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.route.AutoLinks;
import dev.biternet.client.route.LinkWatch;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.link.ServerAddresses;
import dev.biternet.client.link.SessionKeeper;
import dev.biternet.client.store.OutputLock;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.proto.SessionOpened;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One download from start to result: it takes the output's lock ({@link OutputLock}) from
 * before it reads a previous run's state until it ends, loads that state ({@link Resume}),
 * opens the session over the links ({@link SessionOpening}, each link connected by a
 * {@link NettyConnector}), makes the store, starts the links ({@link LinkSet}, kept in step with
 * the interfaces by a {@link LinkWatch}), and supervises them until every piece is verified, the
 * whole file's hash checks out and the file is renamed into place, or something ends it (a
 * link's report through {@link LinkOwner}, every link lost, capped or dropped). It turns what
 * ends it into one line and an exit code. Keeping links up is theirs.
 */
public final class Download {
    /**
     * What to fetch, where to put it, over which links, how long to keep retrying lost links, and
     * whether to read the finished file back and check its SHA-256 ({@code --verify-disk}).
     */
    public record Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose,
                          int retrySeconds, boolean verifyDisk, Resolver resolver, List<Target> others,
                          List<dev.biternet.client.http.MirrorUrl> mirrors) {
        public Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose,
                       int retrySeconds, boolean verifyDisk, Resolver resolver) {
            this(target, output, ifaces, connectTimeoutMillis, verbose, retrySeconds, verifyDisk, resolver, List.of(),
                    List.of());
        }

        /** The same download from {@code more} biternet servers besides {@link #target} (protocol 2). */
        public Request withOthers(List<Target> more) {
            return new Request(target, output, ifaces, connectTimeoutMillis, verbose, retrySeconds, verifyDisk, resolver,
                    List.copyOf(more), mirrors);
        }

        /** The same download with HTTP(S) mirrors besides the biternet server(s) (protocol 2, {@link MirrorSide}). */
        public Request withMirrors(List<dev.biternet.client.http.MirrorUrl> http) {
            return new Request(target, output, ifaces, connectTimeoutMillis, verbose, retrySeconds, verifyDisk, resolver,
                    others, List.copyOf(http));
        }

        public Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose,
                       int retrySeconds, boolean verifyDisk) {
            this(target, output, ifaces, connectTimeoutMillis, verbose, retrySeconds, verifyDisk, InetAddress::getAllByName);
        }

        public Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose) {
            this(target, output, ifaces, connectTimeoutMillis, verbose, DEFAULT_RETRY_SECONDS, false);
        }
    }

    /**
     * How the server's name becomes its addresses: every address, in the resolver's order
     * (several for a cluster's nodes behind one name). The system's resolver; tests give one
     * of their own, as a name with several addresses would be.
     */
    @FunctionalInterface
    public interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    public static final int DEFAULT_RETRY_SECONDS = 60;
    /** How long the result waits for the links to close and count their last verdicts (a few pieces' hashing and writing). */
    private static final int COUNT_SECONDS = 10;

    private final Request request;
    private final PrintWriter err;
    private final Console console;
    private final LinkSecurity security;
    /** The links' event loops when shared with other downloads (a load driver's); null: the download makes and owns its own. */
    private final EventLoopGroup sharedLoops;
    private long start;
    /** The download's links, for {@link #progress()} (progress displays call it from their own thread); null before. */
    private volatile LinkSet liveLinks;
    /** The links' counters in the result, once it is built: what {@link #progress()} shows from then on. */
    private volatile List<LinkStats> finalStats;
    /** What {@code --iface auto} takes: this machine's interfaces, the kernel's routes. */
    static final AutoLinks AUTO_LINKS = AutoLinks.system();
    /** A download from several biternet servers, once {@link #run} started one; null otherwise. */
    private volatile SeveralServers several;
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
        this(request, err, security, null);
    }

    /**
     * A download whose links run on {@code sharedLoops}, which it neither made nor shuts down:
     * many downloads in one process (LoadTest's driver) share a few loops, as many client
     * machines would each have their own few.
     */
    Download(Request request, PrintWriter err, LinkSecurity security, EventLoopGroup sharedLoops) {
        this.request = request;
        this.err = err;
        this.console = new Console(err, request.verbose());
        this.security = security;
        this.sharedLoops = sharedLoops;
    }

    public DownloadResult run() throws DownloadException, InterruptedException {
        if (!request.others().isEmpty() || !request.mirrors().isEmpty()) {
            SeveralServers several = new SeveralServers(request, console, security, err, this::trace);
            this.several = several;
            try {
                return several.run(underway);
            } finally {
                underway.complete(null);
            }
        }
        Target target = request.target();
        ServerAddresses servers;
        try {
            servers = new ServerAddresses(List.of(request.resolver().resolve(target.host())), target.port());
        } catch (UnknownHostException | IllegalArgumentException e) {
            throw new DownloadException(ExitCodes.NETWORK, "cannot resolve host " + target.host());
        }
        // Each link's interface address is chosen for the first; its connections go to its own turn's.
        InetAddress server = servers.first();
        List<LinkSpec> specs;
        List<String> waiting = new ArrayList<>();
        AutoIfaces auto = new AutoIfaces(request.ifaces());
        try {
            specs = LinkResolver.resolveWaiting(auto.expandNow(AUTO_LINKS, server), server, waiting);
        } catch (LinkResolver.LinkException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
        for (String why : waiting) {
            warn(why + "; the link joins when it is up with an address");
        }
        long start = System.nanoTime();
        this.start = start;
        console.started(start);
        OutputLock lock = OutputFiles.lock(request.output());
        try {
            return fetch(servers, specs, start, auto);
        } finally {
            try {
                lock.close();
            } catch (IOException e) {
                // the lock goes with the process; a stale lock file is taken over by the next run
            }
        }
    }

    private DownloadResult fetch(ServerAddresses servers, List<LinkSpec> specs, long start, AutoIfaces auto)
            throws DownloadException, InterruptedException {
        Target target = request.target();
        InetAddress server = servers.first();
        Resume resume = Resume.load(request.output(), target.path(), request.verifyDisk(), err, this::trace);
        Transport transport = Transport.best();
        EventLoopGroup group = sharedLoops != null ? sharedLoops : EarlyStart.group(transport, specs.size());
        trace("connecting " + specs.size() + " link(s) (" + transport + ")");
        if (servers.all().size() > 1) {
            trace(target.host() + " has " + servers.all().size() + " addresses; the links spread over them");
        }
        Connector dialer = new NettyConnector(transport, group, servers, target.host(), request.connectTimeoutMillis(),
                security.tls(), this::warn);
        LinkSet links = new LinkSet(dialer, security.token(), new Owner(), start);
        PieceStore store = null;
        LinkWatch watch = null;
        try {
            SessionOpening opening = SessionOpening.connect(target, request.retrySeconds(), this::trace, links, specs,
                    resume.request());
            liveLinks = links;
            SessionOpened session = opening.session(links);
            trace("session opened: " + session.getFileSize() + " bytes, " + session.getPieceCount() + " pieces of "
                    + session.getPieceSize());
            store = resume.openStore(session);
            PieceLayout layout = store.layout();
            trace("part file and resume log created");
            takeHashes(store, session, request.output());
            liveStore = store;
            phase = Progress.Phase.DOWNLOADING;
            SessionKeeper keeper = new SessionKeeper(target.path(), session, store);
            // One server: its Welcome on the opening link says for all whether flows can share a cap.
            boolean flowGroups = opening.opener().flowGroups();
            String congestion = opening.opener().congestionControl();
            // Each link starts as soon as it is connected: a slow link's connect does not hold the others.
            links.start(keeper, store, flowGroups, congestion, opening.ready());
            // Named interfaces are watched (a link whose address changes rebinds at once, one
            // whose interface goes is parked, one that was missing joins when it is up), and
            // with --iface auto, an interface that comes up later joins as a link of its own.
            watch = LinkWatch.start(links, server, AUTO_LINKS, auto.auto() ? auto::value : null);
            opening.awaitConnects();
            trace("connected " + links.all().size() + " link(s)");
            underway.complete(null);
            awaitFinish(store, links);
            trace("all pieces verified");
            phase = Progress.Phase.VERIFYING;
            byte[] sha = finish(store, request.output());
            trace("file verified and renamed");
            phase = Progress.Phase.DONE;
            double seconds = (System.nanoTime() - start) / 1e9;
            over = true;
            links.stop();
            // Read sooner, the links' pieces could add up to less than the file's and their bytes
            // to less than what they carried (LinkSet.awaitFinalCounts says why).
            if (!links.awaitFinalCounts(System.nanoTime() + TimeUnit.SECONDS.toNanos(COUNT_SECONDS))) {
                trace("links not closed or verdicts not counted after " + COUNT_SECONDS + " s; the summary shows what was");
            }
            List<LinkStats> stats = links.all().stream().map(Link::stats).toList();
            // The progress display's last frame shows these, as the summary does.
            finalStats = stats;
            return new DownloadResult(request.output(), layout.fileSize(), seconds, Digests.hex(sha),
                    store.rootHex(), layout.pieceSize(), layout.pieceCount(), stats, store.resumedCount(), store.verifiesDisk(),
                    links.events());
        } finally {
            over = true;
            underway.complete(null);
            links.stop();
            if (store != null) {
                try {
                    store.close();
                } catch (IOException ignored) {
                    // the part file and its state stay for a later resume
                }
            }
            if (watch != null) {
                watch.close();
            }
            // The channels are closed; the loops' threads wind down on their own (not awaited:
            // the user is waiting for the summary, not for threads to exit).
            if (group != sharedLoops) {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            }
        }
    }

    /** The digests and root the first SessionOpened carries, into the store. */
    static void takeHashes(PieceStore store, SessionOpened session, Path output) throws DownloadException {
        try {
            SessionKeeper.takeHashes(store, session.getHashes());
        } catch (IOException e) {
            throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage() + " (the file changed on the server;"
                    + " delete " + output + ".part and rerun)");
        }
    }

    /** A link could not write to the output: the download ends, its pieces kept. */
    static DownloadException localFailure(String reason) {
        return new DownloadException(ExitCodes.LOCAL_IO, reason + "; the verified pieces are kept: fix that"
                + " (free space), then rerun the same command to resume");
    }

    /** What a progress display shows of a download writing into {@code store} (null before it exists). */
    static Progress progressOf(Progress.Phase phase, PieceStore store, List<LinkStats> stats, List<LinkEvent> events) {
        if (store == null) {
            return new Progress(phase, 0, 0, 0, stats, events);
        }
        PieceLayout layout = store.layout();
        long verified = Math.min(layout.fileSize(), (long) store.verifiedCount() * layout.pieceSize());
        return new Progress(phase, layout.fileSize(), verified, layout.pieceSize(), stats, events);
    }

    /** Checks the whole file and renames it into place; returns its SHA-256. */
    static byte[] finish(PieceStore store, Path output) throws DownloadException {
        try {
            return store.finish();
        } catch (PieceStore.IntegrityException e) {
            // Every piece matched its hash yet the whole does not: the state must not make
            // the next run trust these pieces again.
            try {
                ResumeLog.deleteFor(output);
            } catch (IOException ignored) {
                // the rerun re-hashes the pieces and meets the same mismatch; it says so
            }
            throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage());
        } catch (IOException e) {
            throw DownloadException.localIo("cannot finish " + output, store.partPath(), e);
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
        SeveralServers many = several;
        if (many != null) {
            return many.progress();
        }
        LinkSet links = liveLinks;
        List<LinkStats> done = finalStats;
        List<LinkStats> stats = done != null ? done : links == null ? List.of() : links.stats();
        List<LinkEvent> events = links == null ? List.of() : links.events();
        return progressOf(phase, liveStore, stats, events);
    }

    /** What the links report, turned into the download's messages and exit codes. */
    private final class Owner implements LinkOwner {
        @Override
        public boolean over() {
            return over;
        }

        @Override
        public void localFailure(String reason) {
            fail(Download.localFailure(reason));
        }

        @Override
        public void refused(String reason) {
            fail(new DownloadException(ExitCodes.SERVER_REFUSED, reason + "; " + request.output()
                    + " was not written (rerun to start over)"));
        }

        @Override
        public void integrity(String reason) {
            fail(new DownloadException(ExitCodes.INTEGRITY, reason + " (the file changed on the server)"));
        }

        @Override
        public void warn(String message) {
            Download.this.warn(message);
        }

        /** A link joined, left, was rebound, took over or stood by (stamped by {@link LinkSet}): a line for the user. */
        @Override
        public void event(LinkEvent e) {
            console.line(String.format(java.util.Locale.ROOT, "%.1f s: %s", e.seconds(), e.text()));
        }

        @Override
        public void trace(String event) {
            Download.this.trace(event);
        }

        private void fail(DownloadException e) {
            fatal.complete(e);
        }
    }

    private void warn(String message) {
        console.warn(message);
    }

    private void trace(String event) {
        console.trace(event);
    }

    /** Every link reached its cap (or was lost) before the file was complete; {@code progress} says how far it came. */
    static DownloadException outOfCaps(String progress) {
        return new DownloadException(ExitCodes.NETWORK, "every link reached its data cap (or was lost) before the"
                + " download finished" + progress + "; raise a cap or add a link, then rerun");
    }

    /**
     * Waits until every piece is verified and the root is known. Fails on the first fatal
     * error a link reports, when every link has been down for the retry time, when every link
     * was dropped, or when every link is capped (or down) and the download has stopped moving.
     */
    private void awaitFinish(PieceStore store, LinkSet set) throws DownloadException, InterruptedException {
        CompletableFuture<Void> finished = CompletableFuture.allOf(store.allVerified(), store.rootKnown());
        int lastVerified = -1;
        long lastProgress = System.nanoTime();
        long downSince = 0;
        List<Link> links = set.all();
        while (true) {
            try {
                CompletableFuture.anyOf(finished, fatal).get(LinkSet.LOOK_MILLIS, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                long now = System.nanoTime();
                set.look(now, (now - start) / 1e9,
                        store.layout().fileSize() - (long) store.verifiedCount() * store.layout().pieceSize());
                int verified = store.verifiedCount();
                if (verified != lastVerified) {
                    lastVerified = verified;
                    lastProgress = now;
                }
                String progress = " (" + store.verifiedCount() + " of " + store.layout().pieceCount() + " pieces verified)";
                if (links.stream().allMatch(Link::dropped)) {
                    throw new DownloadException(ExitCodes.NETWORK, "every link was dropped for delivering pieces that"
                            + " failed their hash" + progress + "; " + request.output() + ".part is kept");
                }
                // Capped links may still be finishing pieces they started; only a download that
                // has stopped moving with every link capped (or lost) has run out of links.
                boolean stalled = now - lastProgress > TimeUnit.SECONDS.toNanos(2);
                if (stalled && links.stream().allMatch(l -> l.capReached() || !l.up() || l.dropped())
                        && links.stream().anyMatch(Link::capReached)) {
                    throw outOfCaps(progress);
                }
                if (links.stream().anyMatch(Link::up)) {
                    downSince = 0;
                } else if (downSince == 0) {
                    downSince = now;
                } else if (now - downSince > TimeUnit.SECONDS.toNanos(request.retrySeconds())) {
                    StringBuilder why = new StringBuilder("every link was lost for ").append(request.retrySeconds())
                            .append(" s").append(progress);
                    for (Link l : links) {
                        why.append("; ").append(l.spec().name()).append(": ").append(l.state());
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
}
