package dev.biternet.client;

import dev.biternet.client.link.Link;
import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkOptions;
import dev.biternet.client.link.LinkOwner;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.client.link.LinkSet;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.link.NettyConnector;
import dev.biternet.client.link.ServerAddresses;
import dev.biternet.client.link.SessionKeeper;
import dev.biternet.client.store.OutputLock;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import dev.biternet.proto.Claim;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Unclaim;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One download of one file from several biternet servers (protocol 2): each server is a source
 * with its own links (a {@link LinkSet} per server over the same {@code --iface} list, so each
 * (link, server) pair is a channel), all writing into one store. The first server to answer sets
 * the layout; another whose file differs (size, piece size, root hash), that speaks protocol 1,
 * or that refuses the file is left out with one line and the others go on. Which server sends
 * which piece is {@link ClaimPlan}'s, applied every {@link #PLAN_MILLIS} as Claim and Unclaim
 * messages; a server whose links are all down gives its pieces back to the others. HTTP(S)
 * mirrors beside the servers are one more source of the plan ({@link MirrorSide}), their pieces
 * judged against the servers' digests. A link's cap and rate hold over all the sources, each
 * source's part moved as sources come and go ({@link LinkShares}, applied each look). A download
 * from one server alone is {@link Download}'s own path and never comes here.
 */
final class SeveralServers {
    static final long PLAN_MILLIS = 10;
    private static final int COUNT_SECONDS = 10;

    private final Download.Request request;
    private final Console console;
    private final LinkSecurity security;
    private final PrintWriter err;
    private final Consumer<String> trace;
    private final List<Source> sources = new ArrayList<>();
    private final CompletableFuture<DownloadException> fatal = new CompletableFuture<>();
    private volatile PieceStore liveStore;
    /** The server whose file the others must match (the first given that opened), and its root once known. */
    private volatile Source reference;
    private volatile byte[] referenceRoot;
    private volatile Progress.Phase phase = Progress.Phase.CONNECTING;
    private volatile List<LinkStats> finalStats;
    private volatile boolean over;
    private long start;
    /** The HTTP(S) mirrors besides the servers (null: none), from the start, for stopping. */
    private volatile MirrorSide mirrorSide;
    /** The same once its channels started: one more source of the plan (null until then, or never). */
    private volatile MirrorSide mirrorsLive;
    /** The plan's number for the mirrors: after the servers'. */
    private int mirrorsIndex;
    /** When to ask the servers again for digests the store lacks (for the mirrors' pieces). */
    private final DigestAsks digestAsks = new DigestAsks();
    /** Per link with a cap or a rate (by name), how its sources share them; the supervising thread's. */
    private final java.util.Map<String, LinkShares> shares = new java.util.LinkedHashMap<>();
    /** The --iface values ({@code auto} among them or not); set when the download starts. */
    private AutoIfaces auto;
    /** The mirrors will fetch nothing: none usable, or no server to judge their pieces. */
    private volatile boolean mirrorsOut;

    /** One server: its links, its session, and whether it is still used. */
    private final class Source implements LinkOwner {
        final int index;
        final Target target;
        final String name;
        LinkSet links;
        SessionOpening opening;
        final CompletableFuture<SessionOpened> opened = new CompletableFuture<>();
        volatile boolean started;
        /** Why it is left out (null: used). */
        volatile String refused;
        /** Its root hash once it sent one. */
        volatile byte[] root;
        /** Its root is the reference's (the reference itself: from the start): pieces may be granted to it. */
        volatile boolean sameFile;
        /** A Claim could not be sent: the plan takes its pieces back at the next look. */
        volatile boolean lostClaims;

        Source(int index, Target target) {
            this.index = index;
            this.target = target;
            this.name = target.host() + ":" + target.port();
        }

        /** Leaves this server out, in one line, unless it is the last one: then the download fails. */
        void refuse(String why) {
            synchronized (SeveralServers.this) {
                if (refused != null || over) {
                    return;
                }
                refused = why;
                if (sources.stream().allMatch(s -> s.refused != null)) {
                    fatal.complete(new DownloadException(ExitCodes.SERVER_REFUSED, why + "; no server is left"));
                    return;
                }
            }
            console.warn(why + "; going on with the other server(s)");
            if (links != null) {
                links.stop();
            }
        }

        int linksUp() {
            if (refused != null || !started || lostClaims || !sameFile) {
                return 0;
            }
            // A capped or dropped link takes no more from this server: its pieces are better elsewhere.
            return (int) links.all().stream().filter(l -> l.up() && !l.capReached() && !l.dropped()).count();
        }

        /** True while a link to it is attached, capped or not: it can take a control message for the session. */
        boolean attached() {
            return refused == null && started && sameFile && links.all().stream().anyMatch(l -> l.up() && !l.dropped());
        }

        long delivered() {
            return links == null ? 0 : links.stats().stream().mapToLong(LinkStats::pieces).sum();
        }

        List<LinkStats> stats() {
            return links == null ? List.of() : links.stats().stream().map(l -> l.from(name)).toList();
        }

        @Override
        public boolean over() {
            return over || refused != null;
        }

        @Override
        public void localFailure(String reason) {
            fatal.complete(Download.localFailure(reason));
        }

        @Override
        public void refused(String reason) {
            refuse("server " + name + " refused " + target.path() + ": " + reason);
        }

        @Override
        public void integrity(String reason) {
            refuse("server " + name + ": " + reason + " (its file differs from the first server's)");
        }

        @Override
        public void warn(String message) {
            console.warn(name + ": " + message);
        }

        @Override
        public void event(LinkEvent e) {
            console.line(String.format(Locale.ROOT, "%.1f s: %s: %s", e.seconds(), name, e.text()));
        }

        @Override
        public void trace(String event) {
            SeveralServers.this.trace.accept(name + ": " + event);
        }
    }

    SeveralServers(Download.Request request, Console console, LinkSecurity security, PrintWriter err,
                   Consumer<String> trace) {
        this.request = request;
        this.console = console;
        this.security = security;
        this.err = err;
        this.trace = trace;
        sources.add(new Source(0, request.target()));
        for (Target t : request.others()) {
            sources.add(new Source(sources.size(), t));
        }
    }

    DownloadResult run(CompletableFuture<Void> underway) throws DownloadException, InterruptedException {
        start = System.nanoTime();
        console.started(start);
        AutoIfaces auto = new AutoIfaces(request.ifaces());
        this.auto = auto;
        List<ServerAddresses> addresses = new ArrayList<>();
        List<List<LinkSpec>> specs = new ArrayList<>();
        for (Source s : sources) {
            ServerAddresses servers;
            List<LinkSpec> own;
            try {
                servers = new ServerAddresses(List.of(request.resolver().resolve(s.target.host())), s.target.port());
                List<String> waiting = new ArrayList<>();
                own = LinkResolver.resolveWaiting(auto.expandNow(Download.AUTO_LINKS, servers.first()), servers.first(), waiting)
                        .stream().peek(this::shared).map(spec -> share(spec, sourceCount())).toList();
                for (String why : waiting) {
                    console.warn(why + "; the link joins when it is up with an address");
                }
            } catch (UnknownHostException | IllegalArgumentException e) {
                s.refuse("cannot resolve host " + s.target.host());
                servers = null;
                own = List.of();
            } catch (LinkResolver.LinkException e) {
                throw new DownloadException(ExitCodes.USAGE, e.getMessage());
            }
            addresses.add(servers);
            specs.add(own);
        }
        if (fatal.isDone()) {
            throw fatal.join();
        }
        List<LinkSpec> mirrorSpecs = request.mirrors().isEmpty() ? List.of() : mirrorLinks(auto);
        OutputLock lock = OutputFiles.lock(request.output());
        try {
            return fetch(addresses, specs, mirrorSpecs, underway);
        } finally {
            try {
                lock.close();
            } catch (IOException e) {
                // the lock goes with the process; a stale lock file is taken over by the next run
            }
        }
    }

    private DownloadResult fetch(List<ServerAddresses> addresses, List<List<LinkSpec>> specs, List<LinkSpec> mirrorSpecs,
                                 CompletableFuture<Void> underway) throws DownloadException, InterruptedException {
        Resume resume = Resume.load(request.output(), request.target().path(), request.verifyDisk(), err, trace);
        Transport transport = Transport.best();
        EventLoopGroup group = EarlyStart.group(transport, specs.stream().mapToInt(List::size).sum() + mirrorSpecs.size());
        PieceStore store = null;
        Thread planner = null;
        try {
            mirrorsOut = mirrorSpecs.isEmpty();
            if (!mirrorSpecs.isEmpty()) {
                // The mirrors' connections and their size questions go out while the sessions open.
                mirrorSide = new MirrorSide(request.mirrors(), mirrorSpecs, transport, group, mirrorTls(), request.connectTimeoutMillis(),
                        console, trace, fatal);
                // Waiting links join the mirrors once up, and with --iface auto so does a link that comes up later.
                mirrorSide.watching(start, auto.auto() ? auto::value : null, spec -> {
                    shared(spec);
                    return share(spec, sourceCount());
                });
            }
            for (Source s : sources) {
                if (s.refused != null) {
                    continue;
                }
                NettyConnector dialer = new NettyConnector(transport, group, addresses.get(s.index), s.target.host(),
                        request.connectTimeoutMillis(), security.tls(), s::warn);
                s.links = new LinkSet(dialer, security.token(), s, start);
                s.links.oneOfSeveral((root, sha) -> onRoot(s, root, sha));
                s.opening = SessionOpening.connect(s.target, request.retrySeconds(), s::trace, s.links, specs.get(s.index),
                        resume.request().toBuilder().setPath(s.target.path()).setClientClaims(true).build());
                Thread t = new Thread(() -> {
                    try {
                        s.opened.complete(s.opening.session(s.links));
                    } catch (DownloadException e) {
                        s.opened.completeExceptionally(e);
                    } catch (InterruptedException e) {
                        s.opened.cancel(false);
                    }
                }, "biternet-open-" + s.name);
                t.setDaemon(true);
                t.start();
            }
            Source first = firstAnswer();
            SessionOpened session = first.opened.join();
            trace.accept("session opened on " + first.name + ": " + session.getFileSize() + " bytes, "
                    + session.getPieceCount() + " pieces of " + session.getPieceSize());
            store = resume.openStore(resume.asLogged(session));
            reference = first;
            first.sameFile = true;
            Download.takeHashes(store, session, request.output());
            if (!session.getHashes().getRootHash().isEmpty()) {
                referenceRoot = session.getHashes().getRootHash().toByteArray();
            }
            liveStore = store;
            phase = Progress.Phase.DOWNLOADING;
            PieceStore the = store;
            for (Source s : sources) {
                s.opened.whenComplete((opened, failed) -> join(s, first, session, opened, failed, the));
            }
            mirrorsIndex = sources.size();
            ClaimPlan plan = new ClaimPlan(store.layout().pieceCount(), verified(store), sourceCount());
            plan.startedBy((server, piece) -> server == mirrorsIndex && mirrorsLive != null
                    && mirrorsLive.scheduler().holders(piece) > 0);
            if (mirrorSide != null) {
                // The servers start now; the mirrors join once they answered (a silent one holds up nothing).
                Thread t = new Thread(() -> startMirrors(first, session, the), "biternet-mirrors");
                t.setDaemon(true);
                t.start();
            }
            planner = new Thread(() -> plan(plan, the), "biternet-claims");
            planner.setDaemon(true);
            planner.start();
            underway.complete(null);
            awaitFinish(store);
            trace.accept("all pieces verified");
            phase = Progress.Phase.VERIFYING;
            byte[] sha = Download.finish(store, request.output());
            phase = Progress.Phase.DONE;
            double seconds = (System.nanoTime() - start) / 1e9;
            over = true;
            stopAll();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(COUNT_SECONDS);
            for (Source s : sources) {
                if (s.links != null && !s.links.awaitFinalCounts(deadline)) {
                    trace.accept(s.name + ": links not closed after " + COUNT_SECONDS + " s; the summary shows what was");
                }
            }
            List<LinkStats> stats = allStats();
            finalStats = stats;
            List<LinkEvent> events = events();
            PieceLayout layout = store.layout();
            trace.accept("tail copies across servers: " + plan.copies());
            return new DownloadResult(request.output(), layout.fileSize(), seconds, Digests.hex(sha), store.rootHex(),
                    layout.pieceSize(), layout.pieceCount(), stats, store.resumedCount(), store.verifiesDisk(), events);
        } finally {
            over = true;
            if (planner != null) {
                planner.interrupt();
            }
            stopAll();
            if (store != null) {
                try {
                    store.close();
                } catch (IOException ignored) {
                    // the part file and its state stay for a later resume
                }
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * The server whose file the others must match: the first given whose session opened (a later
     * one is taken only when the ones before it failed to open). All failing fails the download
     * with the first's reason.
     */
    private Source firstAnswer() throws DownloadException {
        DownloadException firstFailure = null;
        for (Source s : sources) {
            if (s.refused != null) {
                continue;
            }
            try {
                s.opened.join();
                return s;
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                if (firstFailure == null && e.getCause() instanceof DownloadException d) {
                    firstFailure = d;
                }
            }
        }
        throw firstFailure != null ? firstFailure
                : new DownloadException(ExitCodes.NETWORK, "no server opened " + request.target().path());
    }

    /** A server's session, once it answered: checked against the first's, then its links start. */
    private void join(Source s, Source first, SessionOpened firstSession, SessionOpened opened, Throwable failed,
                      PieceStore store) {
        if (failed != null) {
            Throwable why = failed instanceof java.util.concurrent.CompletionException c ? c.getCause() : failed;
            s.refuse(why instanceof DownloadException d ? d.getMessage() : s.name + ": " + why);
            return;
        }
        String differs = differs(firstSession, opened);
        if (s != first && differs != null) {
            s.refuse("server " + s.name + " serves another file at " + s.target.path() + " (unlike " + first.name
                    + "'s: " + differs + ")");
            return;
        }
        if (s != first) {
            console.trace("session opened on " + s.name);
        }
        SessionKeeper keeper = new SessionKeeper(s.target.path(), opened, store, (root, sha) -> onRoot(s, root, sha));
        if (s != first && !opened.getHashes().getRootHash().isEmpty()) {
            onRoot(s, opened.getHashes().getRootHash().toByteArray(), opened.getHashes().getFileSha256().toByteArray());
        }
        s.links.start(keeper, store, s.opening.opener().flowGroups(), s.opening.opener().congestionControl(),
                s.opening.ready());
        s.started = true;
    }

    /**
     * A server's root hash, from its SessionOpened or once it has hashed the file: the
     * reference's goes into the store; another server is granted pieces only once its root is
     * known to be the reference's, and is left out if it differs.
     */
    private void onRoot(Source s, byte[] root, byte[] fileSha256) {
        List<Source> toCheck;
        synchronized (this) {
            if (s == reference) {
                if (referenceRoot == null) {
                    referenceRoot = root.clone();
                    liveStore.setRoot(root, fileSha256);
                }
                toCheck = sources;
            } else {
                s.root = root.clone();
                toCheck = List.of(s);
            }
        }
        byte[] ref = referenceRoot;
        for (Source o : toCheck) {
            byte[] r = o.root;
            if (o == reference || ref == null || r == null || o.sameFile || o.refused != null) {
                continue;
            }
            if (java.util.Arrays.equals(ref, r)) {
                o.sameFile = true;
                trace.accept(o.name + ": the same root hash as " + reference.name + "'s");
            } else {
                o.refuse("server " + o.name + " serves another file at " + o.target.path() + " (unlike "
                        + reference.name + "'s: " + rootDiffers(ref, r) + ")");
            }
        }
    }

    private static String rootDiffers(byte[] reference, byte[] other) {
        return "root hash " + Digests.hex(other).substring(0, 16) + "... rather than " + Digests.hex(reference).substring(0, 16)
                + "...";
    }

    /** Counts {@code spec}'s cap and rate across the sources from now on (one {@link LinkShares} a link name). */
    private void shared(LinkSpec spec) {
        LinkOptions o = spec.options();
        if (o.capBytes() > 0 || o.rateLimit() > 0) {
            shares.computeIfAbsent(spec.name(), n -> new LinkShares(o.capBytes(), o.rateLimit(), sourceCount(), start));
        }
    }

    /**
     * One look at the links' caps and rates across the sources ({@link LinkShares}): each
     * source's part applied to its link (the next Attach carries it) and told to the servers
     * that take it live (LinkLimits), the mirrors' to their allowance.
     */
    private void shareLinks(long now) {
        int n = sourceCount();
        int m = n > sources.size() ? sources.size() : -1; // the mirrors' number, if any
        MirrorSide http = mirrorsLive;
        for (java.util.Map.Entry<String, LinkShares> e : shares.entrySet()) {
            String name = e.getKey();
            LinkShares ls = e.getValue();
            boolean[] up = new boolean[n];
            boolean[] out = new boolean[n];
            boolean[] raisable = new boolean[n];
            long[] carried = new long[n];
            Link[] links = new Link[n];
            for (Source s : sources) {
                Link l = s.links == null ? null : s.links.all().stream().filter(x -> x.spec().name().equals(name))
                        .findFirst().orElse(null);
                links[s.index] = l;
                carried[s.index] = l == null ? 0 : l.carried();
                up[s.index] = l != null && l.limit().held();
                out[s.index] = s.refused != null || l == null || l.dropped();
                raisable[s.index] = s.started && s.opening.opener().linkLimits();
            }
            dev.biternet.client.http.LinkAllowance allowance = null;
            if (m >= 0) {
                allowance = mirrorAllowance(http, name);
                up[m] = !mirrorsOut && (http == null || http.upOn(name));
                out[m] = mirrorsOut;
                raisable[m] = allowance != null;
            }
            dev.biternet.client.http.LinkAllowance mirrors = allowance;
            ls.judge(now, carried, up, out, raisable, (i, cap) -> {
                if (i == m) {
                    // Mirrors that never started received nothing; live ones are frozen at what they asked for.
                    return mirrors != null ? mirrors.freeze(cap) : mirrorsOut && http == null ? 1 : -1;
                }
                Link l = links[i];
                return l == null ? 1 : l.limit().freeze(cap, l::carried);
            });
            for (int i = 0; i < n; i++) {
                if (i == m) {
                    if (mirrors != null) {
                        mirrors.limit(ls.cap(i), ls.rate(i));
                    }
                } else if (links[i] != null) {
                    if (links[i].limit().set(ls.cap(i), ls.rate(i))) {
                        trace.accept(sources.get(i).name + ": link " + name + " now " + links[i].limit().now());
                    }
                    // Each look: a connection that attached as the change was made is told now. A
                    // no-op where the server does not take it live: its next Attach carries it.
                    links[i].sendLimits();
                }
            }
        }
    }

    /**
     * The mirrors' allowance on link {@code name}, to share its cap and rate with the servers
     * while they run; null while {@link MirrorSide} does not give it (then the mirrors keep their
     * even part unless none of them started).
     */
    private static dev.biternet.client.http.LinkAllowance mirrorAllowance(MirrorSide http, String name) {
        return http == null ? null : http.allowance(name);
    }

    /** True while a link's cap may still grow: a source down on it is not gone yet ({@link LinkShares#pending}). */
    private boolean sharesPending() {
        return shares.values().stream().anyMatch(LinkShares::pending);
    }

    /** The plan's sources: the servers, and the mirrors together as one more. */
    private int sourceCount() {
        return sources.size() + (request.mirrors().isEmpty() ? 0 : 1);
    }

    /**
     * The links as channels to the first mirror's host, each with the mirrors' share of its cap
     * and rate (one waiting for an address joins once up); no backup link.
     */
    private List<LinkSpec> mirrorLinks(AutoIfaces auto) throws DownloadException {
        dev.biternet.client.http.MirrorUrl url = request.mirrors().get(0);
        try {
            java.net.InetAddress host = java.net.InetAddress.getByName(url.host());
            // A backup link stands by for the servers only: a mirror's channels would use it as any other.
            List<LinkSpec> links = LinkResolver.resolveWaiting(auto.expandNow(Download.AUTO_LINKS, host), host,
                    new ArrayList<>()).stream().filter(spec -> !spec.options().backup())
                    .peek(this::shared).map(spec -> share(spec, sourceCount())).toList();
            if (links.isEmpty()) {
                console.warn("no link for the HTTP mirrors (a :backup link carries only biternet traffic); they are not used");
            }
            return links;
        } catch (UnknownHostException e) {
            console.warn("cannot resolve host " + url.host() + "; the HTTP mirrors are not used");
            return List.of();
        } catch (LinkResolver.LinkException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /** The context for https mirrors: the JDK's CAs and the host-name check. */
    private static io.netty.handler.ssl.SslContext mirrorTls() throws DownloadException {
        try {
            return dev.biternet.client.link.ClientTls.context(null, false);
        } catch (IOException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
    }

    /**
     * Starts the mirrors of the same size as {@code first}'s file, if {@code first} gives its
     * digests on request (the mirrors' pieces are judged by them); else, or with none usable,
     * the download goes on from the servers with one line saying so.
     */
    private void startMirrors(Source first, SessionOpened session, PieceStore store) {
        MirrorSide http = mirrorSide;
        String unused = null;
        List<dev.biternet.client.http.Mirror> usable = List.of();
        try {
            if (!first.opening.opener().digestsOnRequest()) {
                unused = "server " + first.name + " does not give piece hashes for other sources' pieces (an older"
                        + " biternet-serve): the HTTP mirrors are not used";
            } else {
                usable = http.usable(session.getFileSize(), first.name, () -> over);
                unused = usable.isEmpty() ? "no HTTP mirror is usable; going on from the biternet server(s)" : null;
            }
        } catch (InterruptedException e) {
            return;
        }
        if (over) {
            return;
        }
        if (unused != null) {
            console.warn(unused);
            http.stop();
            mirrorsOut = true; // their part of the links goes to the servers
            return;
        }
        if (http.start(store, usable)) {
            mirrorsLive = http;
        }
    }

    /**
     * Asks a server of the file for the digests the store lacks, when {@link DigestAsks} says:
     * a server still hashing sends those it has.
     */
    private void askDigests(PieceStore store) {
        int known = store.firstUnknownHash(); // digests below it are all known
        long now = System.nanoTime();
        if (known >= store.layout().pieceCount() || !digestAsks.due(known, now)) {
            return;
        }
        Envelope ask = Envelope.newBuilder().setDigestRequest(dev.biternet.proto.DigestRequest.newBuilder().setFirst(known)
                .setCount(store.layout().pieceCount() - known)).build();
        for (Source s : sources) {
            // A capped link still carries the question and its answer (they are not pieces).
            if (s.attached() && s.opening.opener().digestsOnRequest() && s.links.sendControl(ask)) {
                digestAsks.asked(known, now);
                return;
            }
        }
    }

    /**
     * A link's channel to one of {@code sources}: the part of its cap and rate each starts with
     * ({@link LinkShares#even}), which {@link #shareLinks} moves as sources come and go.
     */
    static LinkSpec share(LinkSpec spec, int sources) {
        LinkOptions o = spec.options();
        return spec.with(o.withCap(LinkShares.even(o.capBytes(), sources)).withRate(LinkShares.even(o.rateLimit(), sources)));
    }

    /** What differs between two servers' files, or null: size, piece size, root hash (when both know it). */
    static String differs(SessionOpened a, SessionOpened b) {
        if (a.getFileSize() != b.getFileSize()) {
            return Long.toUnsignedString(b.getFileSize()) + " bytes rather than " + Long.toUnsignedString(a.getFileSize());
        }
        if (a.getPieceSize() != b.getPieceSize() || a.getPieceCount() != b.getPieceCount()) {
            return "pieces of " + Integer.toUnsignedString(b.getPieceSize()) + " bytes rather than " + a.getPieceSize();
        }
        if (!a.getHashes().getRootHash().isEmpty() && !b.getHashes().getRootHash().isEmpty()
                && !a.getHashes().getRootHash().equals(b.getHashes().getRootHash())) {
            return rootDiffers(a.getHashes().getRootHash().toByteArray(), b.getHashes().getRootHash().toByteArray());
        }
        return null;
    }

    private static BitSet verified(PieceStore store) {
        BitSet have = new BitSet();
        for (int i = 0; i < store.layout().pieceCount(); i++) {
            if (store.isVerified(i)) {
                have.set(i);
            }
        }
        return have;
    }

    /**
     * The planner's loop: what the sources are granted (the servers by Claim and Unclaim, the
     * mirrors through their pool), as pieces are verified and links come and go.
     */
    private void plan(ClaimPlan plan, PieceStore store) {
        int n = sourceCount();
        try {
            while (!over) {
                int[] links = new int[n];
                long[] delivered = new long[n];
                for (Source s : sources) {
                    links[s.index] = s.linksUp();
                    delivered[s.index] = s.delivered();
                    s.lostClaims = false;
                }
                MirrorSide http = mirrorsLive;
                if (http != null) {
                    links[mirrorsIndex] = http.channelsUp();
                    delivered[mirrorsIndex] = http.delivered();
                    if (links[mirrorsIndex] == 0) {
                        // The plan frees their pieces now: no channel may start one when it tries again.
                        http.scheduler().withdraw(0, store.layout().pieceCount());
                    }
                    BitSet back = http.returned();
                    for (int p = back.nextSetBit(0); p >= 0; p = back.nextSetBit(p + 1)) {
                        if (!store.isVerified(p)) {
                            plan.giveBack(mirrorsIndex, p);
                        }
                    }
                    askDigests(store);
                }
                for (ClaimPlan.Action a : plan.tick((System.nanoTime() - start) / 1e9, store::isVerified, links, delivered)) {
                    if (a.server() == mirrorsIndex && http != null) {
                        if (a.claim()) {
                            http.scheduler().offer(a.first(), a.count());
                        } else {
                            http.scheduler().withdraw(a.first(), a.count());
                        }
                        continue;
                    }
                    Source s = sources.get(a.server());
                    Envelope e = a.claim()
                            ? Envelope.newBuilder().setClaim(Claim.newBuilder().setFirst(a.first()).setCount(a.count())
                                    .setEndgame(a.endgame())).build()
                            : Envelope.newBuilder().setUnclaim(Unclaim.newBuilder().setFirst(a.first())
                                    .setCount(a.count())).build();
                    if (!s.links.sendControl(e) && a.claim()) {
                        s.lostClaims = true;
                    }
                }
                if (http != null) {
                    http.scheduler().endgame(plan.allGranted());
                }
                Thread.sleep(PLAN_MILLIS);
            }
        } catch (InterruptedException e) {
            // the download ended
        }
    }

    private void stopAll() {
        for (Source s : sources) {
            if (s.links != null) {
                s.links.stop();
            }
        }
        MirrorSide http = mirrorSide;
        if (http != null) {
            http.stop();
        }
    }

    private List<LinkStats> allStats() {
        List<LinkStats> servers = sources.stream().flatMap(s -> s.stats().stream()).toList();
        MirrorSide http = mirrorsLive;
        if (http == null) {
            return servers;
        }
        List<LinkStats> all = new ArrayList<>(servers);
        all.addAll(http.stats(phase == Progress.Phase.DONE));
        return all;
    }

    /** What the links to every source did (joined, left, rebound), the mirrors' after the servers'. */
    private List<LinkEvent> events() {
        List<LinkEvent> all = new ArrayList<>();
        sources.stream().filter(s -> s.links != null).forEach(s -> all.addAll(s.links.events()));
        MirrorSide http = mirrorSide;
        if (http != null) {
            all.addAll(http.events());
        }
        return all;
    }

    /** A live view for progress displays; any thread. */
    Progress progress() {
        List<LinkStats> done = finalStats;
        List<LinkStats> stats = done != null ? done : allStats();
        List<LinkEvent> events = events();
        return Download.progressOf(phase, liveStore, stats, events);
    }

    /**
     * Waits until every piece is verified and the root is known. Fails on a fatal error, when
     * every server is left out, or when no link to any server was up for the retry time.
     */
    private void awaitFinish(PieceStore store) throws DownloadException, InterruptedException {
        CompletableFuture<Void> finished = CompletableFuture.allOf(store.allVerified(), store.rootKnown());
        long downSince = 0;
        long serversDownSince = 0;
        int lastVerified = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            try {
                CompletableFuture.anyOf(finished, fatal).get(LinkSet.LOOK_MILLIS, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                long now = System.nanoTime();
                long left = store.layout().fileSize() - (long) store.verifiedCount() * store.layout().pieceSize();
                boolean anyUp = false;
                for (Source s : sources) {
                    if (s.started && s.refused == null) {
                        s.links.look(now, (now - start) / 1e9, left);
                        anyUp |= s.linksUp() > 0;
                    }
                }
                boolean serverUp = anyUp;
                MirrorSide http = mirrorsLive;
                if (http != null) {
                    double seconds = (now - start) / 1e9;
                    long arrived = http.arriving();
                    http.look(seconds, arrived == 0 ? Double.MAX_VALUE : left / (arrived / seconds));
                    anyUp |= http.channelsUp() > 0;
                }
                String progress = " (" + store.verifiedCount() + " of " + store.layout().pieceCount() + " pieces verified)";
                if (store.verifiedCount() != lastVerified) {
                    lastVerified = store.verifiedCount();
                    lastProgress = now;
                }
                List<Link> all = sources.stream().filter(s -> s.started && s.refused == null)
                        .flatMap(s -> s.links.all().stream()).toList();
                shareLinks(now);
                boolean mirrorsIdle = http == null || http.channelsUp() == 0;
                if (now - lastProgress > TimeUnit.SECONDS.toNanos(2) && mirrorsIdle && !sharesPending()
                        && (all.stream().anyMatch(Link::capReached) || http != null && http.outOfCaps())
                        && all.stream().allMatch(l -> l.capReached() || !l.up() || l.dropped())) {
                    throw Download.outOfCaps(progress);
                }
                if (serverUp) {
                    serversDownSince = 0;
                } else if (serversDownSince == 0) {
                    serversDownSince = now;
                } else if (http != null && now - serversDownSince > TimeUnit.SECONDS.toNanos(request.retrySeconds())
                        && (store.firstUnknownHash() < store.layout().pieceCount() || !store.rootKnown().isDone())) {
                    throw new DownloadException(ExitCodes.NETWORK, "no biternet server was up for " + request.retrySeconds()
                            + " s, and it had not given every piece's hash: the mirrors' pieces cannot be checked"
                            + progress + "; rerun the same command to resume");
                }
                if (anyUp) {
                    downSince = 0;
                } else if (downSince == 0) {
                    downSince = now;
                } else if (now - downSince > TimeUnit.SECONDS.toNanos(request.retrySeconds())) {
                    throw new DownloadException(ExitCodes.NETWORK, "no link to any server was up for "
                            + request.retrySeconds() + " s" + progress + "; rerun the same command to resume");
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
