package dev.biternet.client;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.client.http.FirstBytes;
import dev.biternet.client.http.HttpDialer;
import dev.biternet.client.http.HttpFailure;
import dev.biternet.client.http.HttpLink;
import dev.biternet.client.http.HttpLinks;
import dev.biternet.client.http.Mirror;
import dev.biternet.client.http.MirrorChannel;
import dev.biternet.client.http.MirrorConnection;
import dev.biternet.client.http.MirrorFlows;
import dev.biternet.client.http.MirrorUrl;
import dev.biternet.client.http.PieceScheduler;
import dev.biternet.client.http.RangeRequest;
import dev.biternet.client.http.Validators;
import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.route.LinkWatch;
import dev.biternet.client.store.OutputLock;
import dev.biternet.client.store.PieceStore;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.UnaryOperator;

/**
 * One download from plain HTTP(S) mirrors over the links: it takes the output's lock, asks each
 * mirror for the file's size and validators (a one-byte range on the first link), resumes a
 * previous run if the first mirror's file is the same version, then runs one
 * {@link MirrorChannel} per (link, mirror) under one {@link PieceScheduler} into the same
 * {@link PieceStore} a biternet download uses, and supervises them until every piece is in and
 * the whole file checked against {@code --checksum} (or plainly reported unverified). A mirror
 * that ignores Range is used alone, on one channel, for the whole file, when it is the only one.
 */
public final class HttpDownload {
    /** What to fetch from where, over which links; {@code checksum} null: none given. */
    public record Request(List<MirrorUrl> mirrors, Path output, List<String> ifaces, int connectTimeoutMillis,
                          boolean verbose, int retrySeconds, byte[] checksum, SslContext tls, int stallSeconds) {}

    public static final int STALL_SECONDS = 20;
    /** Pieces for HTTP: at least 256 to a file, 256 KiB to 4 MiB (larger only past MAX_PIECES); see DESIGN.md. */
    static final int MAX_PIECE = 4 << 20;
    static final int MIN_PIECE = 256 << 10;
    /**
     * The piece buffers all channels together may have asked for: flows past it are not opened
     * (under the launcher's 512 MiB of direct memory, with room for Netty's own buffers).
     */
    static final long PIECE_MEMORY = 192L << 20;

    private final Request request;
    private final Console console;
    private final List<LinkEvent> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> underway = new CompletableFuture<>();
    private final CompletableFuture<DownloadException> fatal = new CompletableFuture<>();
    /** The links and their channels to every mirror; null before the channels start. */
    private volatile HttpLinks liveLinks;
    private volatile PieceStore liveStore;
    private volatile Progress.Phase phase = Progress.Phase.CONNECTING;
    private long start;
    /** The first mirror's first bytes, which the probe asked for; null if it asked for one byte. */
    private FirstBytes firstBytes;

    public HttpDownload(Request request, PrintWriter err) {
        this.request = request;
        this.console = new Console(err, request.verbose());
    }

    /** The piece size for a file of {@code size} bytes fetched by ranges. */
    static int pieceSize(long size) {
        int piece = MAX_PIECE;
        while (piece > MIN_PIECE && size / piece < 256) {
            piece /= 2;
        }
        while ((size + piece - 1) / piece > PieceStore.MAX_PIECES) {
            piece *= 2;
        }
        return piece;
    }

    public DownloadResult run() throws DownloadException, InterruptedException {
        start = System.nanoTime();
        console.started(start);
        MirrorUrl first = request.mirrors().get(0);
        InetAddress host;
        try {
            host = InetAddress.getByName(first.host());
        } catch (UnknownHostException e) {
            throw new DownloadException(ExitCodes.NETWORK, "cannot resolve host " + first.host());
        }
        List<LinkSpec> specs;
        List<String> waiting = new ArrayList<>();
        AutoIfaces auto = new AutoIfaces(request.ifaces());
        try {
            // auto: the interfaces it takes now; one that comes up later joins (LinkWatch).
            specs = LinkResolver.resolveWaiting(auto.expandNow(Download.AUTO_LINKS, host), host, waiting);
        } catch (LinkResolver.LinkException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
        for (LinkSpec s : specs) {
            if (s.options().backup()) {
                // Not silently ignored: cap, rate and flows are held per link here, backup tiers only on biternet links.
                throw new DownloadException(ExitCodes.USAGE, "--iface " + s.name() + ": the per-link option backup is"
                        + " not supported with http[s]:// URLs yet (cap, rate and flows are); drop it");
            }
        }
        for (String why : waiting) {
            warn(why + "; the link joins when it is up with an address");
        }
        OutputLock lock = OutputFiles.lock(request.output());
        try {
            return fetch(specs, host, auto);
        } finally {
            try {
                lock.close();
            } catch (IOException e) {
                // the lock goes with the process; a stale lock file is taken over by the next run
            }
        }
    }

    private DownloadResult fetch(List<LinkSpec> specs, InetAddress host, AutoIfaces auto)
            throws DownloadException, InterruptedException {
        Transport transport = Transport.best();
        // The loops EarlyStart made while the command line was read (one per --iface), as Download takes them.
        EventLoopGroup group = EarlyStart.group(transport, specs.size());
        ExecutorService workers = Executors.newFixedThreadPool(Math.max(1, Math.min(2, specs.size())), daemon("biternet-http-writer"));
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(daemon("biternet-http-timer"));
        HttpDialer dialer = new HttpDialer(transport, group, request.tls(), request.connectTimeoutMillis(),
                request.stallSeconds(), this::warn);
        PieceStore store = null;
        HttpLinks links = new HttpLinks(specs, this::event, UnaryOperator.identity());
        LinkWatch watch = null;
        try {
            // Every (link, mirror) connection is made now, beside the probe, which asks on the
            // link whose connection to the first mirror opens first (the shortest round trip):
            // the channels start on open connections when the size is known.
            links.all().forEach(l -> l.connectNow(dialer, request.mirrors()));
            HttpLink prober = firstConnected(links, request.mirrors().get(0));
            List<Mirror> mirrors = probe(prober);
            boolean whole = mirrors.size() == 1 && mirrors.get(0).validators() == null;
            long size = mirrors.get(0).size();
            PieceLayout layout = new PieceLayout(size, pieceSize(size));
            trace(mirrors.size() + " mirror(s), " + size + " bytes in " + layout.pieceCount() + " pieces of "
                    + layout.pieceSize() + (whole ? " (the whole file on one channel: the mirror ignores Range)" : ""));
            store = openStore(mirrors.get(0), layout);
            liveStore = store;
            phase = Progress.Phase.DOWNLOADING;
            PieceScheduler scheduler = new PieceScheduler(layout.pieceCount(), BitSet.valueOf(store.haveBitmap()));
            MirrorChannel.Events owner = new Owner();
            PieceStore into = store;
            liveLinks = links;
            // The probe's first bytes go to the probing link's first channel to their mirror, as
            // the start of piece 0: that link starts first, so piece 0 is still free for it.
            java.util.concurrent.atomic.AtomicReference<FirstBytes> head = new java.util.concurrent.atomic.AtomicReference<>(
                    whole || firstBytes == null || !firstBytes.url().equals(mirrors.get(0).url()) ? null : firstBytes);
            // A mirror that ignores Range: the whole file on the probing link's one channel.
            links.start(prober, l -> whole && l != prober ? List.of() : mirrors.stream().map(m -> {
                MirrorConnection c = l.connection(dialer, m.url());
                MirrorFlows f = new MirrorFlows(m, whole ? FlowCount.fixed(1) : l.spec().options().flowCount(""), c,
                        () -> new MirrorConnection(dialer, l, m.url()),
                        (conn, depth) -> {
                            MirrorChannel channel = new MirrorChannel(conn, m, scheduler, into, workers, timer, owner, depth,
                                    this::pieceSlots);
                            FirstBytes h = l == prober && m == mirrors.get(0) ? head.getAndSet(null) : null;
                            return h == null ? channel : channel.withHead(h);
                        }, this::pieceSlots);
                return whole ? f.wholeFile() : f;
            }).toList());
            // The connections no channel took (a mirror left out, the links a whole-file mirror does not use).
            links.closeUnused();
            if (!whole) {
                // Named interfaces are watched (a link whose address changes rebinds, one whose
                // interface goes is parked, one that was missing joins when it is up), and with
                // --iface auto, an interface that comes up later and reaches the first mirror joins.
                watch = LinkWatch.start(links, host, Download.AUTO_LINKS, auto.auto() ? auto::value : null);
            }
            underway.complete(null);
            awaitFinish(store, mirrors);
            phase = Progress.Phase.VERIFYING;
            byte[] sha;
            try {
                sha = store.finishUnhashed(request.checksum());
            } catch (PieceStore.IntegrityException e) {
                throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage());
            } catch (IOException e) {
                throw new DownloadException(ExitCodes.LOCAL_IO, "cannot finish " + request.output() + ": " + e.getMessage());
            }
            phase = Progress.Phase.DONE;
            channels().forEach(MirrorChannel::stop);
            return new DownloadResult(request.output(), size, (System.nanoTime() - start) / 1e9, Digests.hex(sha), "",
                    layout.pieceSize(), layout.pieceCount(), stats(), store.resumedCount(), true, List.copyOf(events),
                    request.checksum() == null ? DownloadResult.NOTHING : DownloadResult.CHECKSUM);
        } finally {
            underway.complete(null);
            if (watch != null) {
                watch.close();
            }
            channels().forEach(MirrorChannel::stop);
            links.closeUnused();
            if (store != null) {
                try {
                    store.close();
                } catch (IOException ignored) {
                    // the part file and its state stay for a later resume
                }
            }
            workers.shutdownNow();
            timer.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * The usable link whose connection to {@code url} opened first, or the first usable link if
     * none opens in the connect timeout. On the satellite mix the first link given is the 500 ms
     * one: the probe over it cost a round trip of 500 ms before any range was asked, against
     * 20 ms over the other.
     */
    private HttpLink firstConnected(HttpLinks links, MirrorUrl url) throws InterruptedException {
        List<HttpLink> usable = links.all().stream().filter(l -> !l.waiting() && l.opened(url) != null).toList();
        CompletableFuture<HttpLink> first = new CompletableFuture<>();
        java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        for (HttpLink l : usable) {
            l.opened(url).opening().whenComplete((c, e) -> {
                if (e == null) {
                    first.complete(l);
                } else if (failed.incrementAndGet() == usable.size()) {
                    first.complete(links.firstUsable()); // the probe on it says why
                }
            });
        }
        if (usable.isEmpty()) {
            return links.firstUsable();
        }
        try {
            return first.get(request.connectTimeoutMillis() + 1000L, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return links.firstUsable();
        }
    }

    /**
     * Asks every mirror on {@code first}'s connection to it, all at once, for its size and
     * validators: the first mirror for the file's first bytes ({@link FirstBytes}, kept for piece
     * 0: the probe's round trip then brings data), the others for one byte; each answer's header
     * is enough. A mirror that fails, or whose file is not the size of the first usable one
     * (in the order given), is left out with a warning; one that ignores Range is used (for the
     * whole file: validators null) only when it is the only mirror. None usable: the download
     * fails with the (first) reason. The connections stay open for the channels.
     */
    private List<Mirror> probe(HttpLink first) throws DownloadException, InterruptedException {
        List<CompletableFuture<RangeRequest.Answer>> asked = new ArrayList<>();
        for (MirrorUrl url : request.mirrors()) {
            // The first bytes only if the link's cap has room for them (they count in it).
            FirstBytes f = asked.isEmpty() ? FirstBytes.ask(first.opened(url), url) : null;
            if (f != null) {
                firstBytes = f;
                asked.add(f.heard());
            } else {
                asked.add(first.opened(url).fetch(0, 1, -1, Validators.NONE, (o, d) -> { }));
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(request.connectTimeoutMillis()
                + request.stallSeconds() * 1000L);
        List<Mirror> usable = new ArrayList<>();
        String firstWhy = null;
        int code = ExitCodes.NETWORK;
        for (int i = 0; i < asked.size(); i++) {
            MirrorUrl url = request.mirrors().get(i);
            String why;
            try {
                RangeRequest.Answer a = asked.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                long size = usable.isEmpty() ? a.size() : usable.get(0).size();
                why = a.size() == size ? null : "its file is " + a.size() + " bytes, not " + size + " as on "
                        + usable.get(0).url();
                if (why == null) {
                    usable.add(new Mirror(url, a.size(), a.validators()));
                }
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof HttpFailure f && f.kind() == HttpFailure.Kind.IGNORES_RANGE) {
                    if (request.mirrors().size() == 1 && f.size() > 0) {
                        warn(url + ": the mirror ignores Range requests; the whole file comes over one link");
                        usable.add(new Mirror(url, f.size(), null));
                        why = null;
                    } else {
                        why = "the mirror ignores Range requests (a mirror used with others must serve ranges)";
                    }
                } else {
                    why = cause instanceof IOException && cause.getMessage() != null ? cause.getMessage() : rootMessage(cause);
                    if (cause instanceof HttpFailure f && f.kind() != HttpFailure.Kind.LOST) {
                        code = ExitCodes.SERVER_REFUSED;
                    }
                }
            } catch (TimeoutException e) {
                why = "no answer within " + (request.connectTimeoutMillis() / 1000 + request.stallSeconds()) + " s";
            }
            if (why != null) {
                firstWhy = firstWhy == null ? url + ": " + why : firstWhy;
                if (request.mirrors().size() > 1) {
                    warn(url + ": " + why + "; not used");
                }
            }
        }
        if (usable.isEmpty()) {
            throw new DownloadException(code, firstWhy + (request.mirrors().size() > 1 ? " (no mirror is usable)" : ""));
        }
        return usable;
    }

    /**
     * The store, resuming the previous run's pieces if its state is of this URL and the same
     * version of the file (the size and the validators the first mirror answers with now).
     */
    private PieceStore openStore(Mirror first, PieceLayout layout) throws DownloadException {
        Path out = request.output();
        ResumeLog.Identity now = new ResumeLog.Identity(stateKey(first), layout.fileSize(), layout.pieceSize(),
                version(first.validators()));
        try {
            Optional<ResumeLog.Contents> old = ResumeLog.read(out);
            Map<Integer, byte[]> pieces = Map.of();
            if (old.isPresent() && old.get().identity().equals(now)) {
                pieces = PieceStore.recheck(out, layout, old.get().pieces());
            } else if (old.isPresent() && old.get().identity().path().equals(now.path())) {
                warn("the file changed on " + first.url() + " since " + out + ".part was started (now "
                        + (first.validators() == null ? "no validators" : first.validators()) + ", "
                        + layout.fileSize() + " bytes); the download starts over");
            } else if (old.isPresent()) {
                warn(ResumeLog.pathFor(out) + " belongs to another download; the download starts over");
            }
            boolean resuming = !pieces.isEmpty();
            if (resuming) {
                console.line("resuming " + out + ".part: " + pieces.size() + " of " + layout.pieceCount()
                        + " pieces already there");
            }
            ResumeLog log = resuming ? ResumeLog.reopen(out, old.get()) : ResumeLog.create(out, now);
            return new PieceStore(out, layout, log, pieces, true);
        } catch (IOException e) {
            throw new DownloadException(ExitCodes.LOCAL_IO, "cannot create " + out + ".part and its state: " + e.getMessage());
        }
    }

    /** What the resume state names the download by: the first mirror's URL. */
    private static String stateKey(Mirror first) {
        return first.url().toString();
    }

    /** The validators as the state's file version: a 64-bit digest of the ETag and Last-Modified. */
    private static long version(Validators v) {
        String text = v == null ? "" : v.etag() + "\n" + v.lastModified();
        byte[] d = Digests.sha256().digest(text.getBytes(StandardCharsets.UTF_8));
        return java.nio.ByteBuffer.wrap(d).getLong();
    }

    /**
     * Waits until every piece is in; fails on a disk failure, when every mirror is dropped, every
     * channel lost for the retry time, or every channel capped (or lost) and the download stopped moving.
     */
    private void awaitFinish(PieceStore store, List<Mirror> mirrors) throws DownloadException, InterruptedException {
        long downSince = 0;
        int lastIn = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            try {
                CompletableFuture.anyOf(store.allVerified(), fatal).get(200, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                String progress = " (" + store.verifiedCount() + " of " + store.layout().pieceCount() + " pieces in)";
                lookAtFlows(store);
                if (store.verifiedCount() != lastIn) {
                    lastIn = store.verifiedCount();
                    lastProgress = System.nanoTime();
                }
                // As for biternet links: capped channels may still finish pieces they asked for.
                if (System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(2)
                        && channels().stream().allMatch(c -> c.capped() || !c.up() || c.mirror().dropped() != null)
                        && channels().stream().anyMatch(MirrorChannel::capped)) {
                    throw Download.outOfCaps(progress);
                }
                if (mirrors.stream().allMatch(m -> m.dropped() != null)) {
                    boolean changed = mirrors.stream().anyMatch(Mirror::changed);
                    throw new DownloadException(ExitCodes.SERVER_REFUSED, String.join("; ",
                            mirrors.stream().map(Mirror::dropped).toList()) + progress + "; " + request.output()
                            + ".part is kept" + (changed ? " (a rerun starts over with the new file)" : ""));
                }
                long now = System.nanoTime();
                if (channels().stream().anyMatch(MirrorChannel::up)) {
                    downSince = 0;
                } else if (downSince == 0) {
                    downSince = now;
                } else if (now - downSince > TimeUnit.SECONDS.toNanos(request.retrySeconds())) {
                    StringBuilder why = new StringBuilder("every mirror was lost for ").append(request.retrySeconds())
                            .append(" s").append(progress);
                    for (MirrorChannel c : channels()) {
                        why.append("; ").append(c.connection().link().name()).append('>').append(c.mirror().url().hostHeader())
                                .append(": ").append(c.state());
                    }
                    throw new DownloadException(ExitCodes.NETWORK, why.append("; rerun the same command to resume").toString());
                }
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }
        if (fatal.isDone()) {
            throw fatal.join();
        }
    }

    /** Each (link, mirror)'s flows, opened or retired as {@code FlowCount} finds they pay. */
    private void lookAtFlows(PieceStore store) {
        double seconds = (System.nanoTime() - start) / 1e9;
        long arrived = channels().stream().mapToLong(MirrorChannel::arriving).sum();
        long left = store.layout().fileSize() - (long) store.verifiedCount() * store.layout().pieceSize();
        double secondsLeft = arrived == 0 ? Double.MAX_VALUE : left / (arrived / seconds);
        List<MirrorFlows> flows = flows();
        for (MirrorFlows f : flows) {
            f.adjust(seconds, secondsLeft, arrived, flows.stream().anyMatch(o -> o != f && o.trying()), this::trace);
        }
    }

    private List<LinkStats> stats() {
        boolean over = phase == Progress.Phase.DONE || phase == Progress.Phase.VERIFYING;
        return flows().stream().map(f -> f.stats(over)).toList();
    }

    /**
     * How many more piece buffers the channels may ask for: each open channel may hold as many
     * as its depth (requests in flight), and together they are held to {@link #PIECE_MEMORY}. A
     * link's first channel to each mirror opens whatever this says.
     */
    private int pieceSlots() {
        PieceStore s = liveStore;
        long most = PIECE_MEMORY / (s == null ? MAX_PIECE : s.layout().pieceSize());
        return (int) (most - MirrorChannel.piecesHeld(channels()));
    }

    /** Per (link, mirror): its channels, one a flow; none before the channels start. */
    private List<MirrorFlows> flows() {
        HttpLinks l = liveLinks;
        return l == null ? List.of() : l.flows();
    }

    /** Every channel, retired ones included. */
    private List<MirrorChannel> channels() {
        return flows().stream().flatMap(f -> f.channels().stream()).toList();
    }

    /** A link joined, left or was rebound: one line, and an entry in the result's events. */
    private void event(LinkEvent event) {
        LinkEvent e = event.at((System.nanoTime() - start) / 1e9);
        events.add(e);
        console.line(String.format(java.util.Locale.ROOT, "%.1f s: %s", e.seconds(), e.text()));
    }

    /** Completes once the channels have started (or the download ended before that). */
    public CompletableFuture<Void> underway() {
        return underway;
    }

    /** A live view for progress displays; any thread. */
    public Progress progress() {
        PieceStore s = liveStore;
        if (s == null) {
            return new Progress(phase, 0, 0, 0, stats(), List.copyOf(events));
        }
        PieceLayout layout = s.layout();
        long verified = Math.min(layout.fileSize(), (long) s.verifiedCount() * layout.pieceSize());
        return new Progress(phase, layout.fileSize(), verified, layout.pieceSize(), stats(), List.copyOf(events));
    }

    private final class Owner implements MirrorChannel.Events {
        @Override
        public void dropped(Mirror mirror, String why) {
            warn(why + "; the mirror is not used any more");
        }

        @Override
        public void localFailure(String why) {
            fatal.complete(new DownloadException(ExitCodes.LOCAL_IO, why + "; the pieces written are kept: fix that"
                    + " (free space), then rerun the same command to resume"));
        }

        @Override
        public void trace(String event) {
            HttpDownload.this.trace(event);
        }
    }

    private void warn(String message) {
        console.warn(message);
    }

    private void trace(String event) {
        console.trace(event);
    }

    static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
