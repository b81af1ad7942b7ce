package dev.biternet.client;

import static dev.biternet.common.cli.Causes.rootMessage;

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
import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.route.LinkWatch;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The HTTP(S) mirrors of a download that also has biternet servers ({@link SeveralServers}): one
 * more source of its {@link ClaimPlan}, whose grants go to one pooled {@link PieceScheduler} that
 * the mirrors' channels (one {@link MirrorChannel} per (link, mirror), with flows as for an HTTP
 * download) claim from. Every piece they bring is judged against the servers' digests, which it
 * asks the reference server for ({@code DigestRequest}). It opens every (link, mirror) connection
 * at the start and asks each mirror's size on the first usable link's while the servers'
 * sessions open; a mirror whose file is another size, that ignores Range or that fails is left
 * out in one line. Its links come and go as an HTTP download's do ({@link HttpLinks}).
 */
final class MirrorSide {
    private final List<MirrorUrl> urls;
    private final Console console;
    private final Consumer<String> trace;
    private final CompletableFuture<DownloadException> fatal;
    private final HttpDialer dialer;
    private final int probeMillis;
    private final ExecutorService workers;
    private final ScheduledExecutorService timer;
    /** The links, each with its connection to every mirror opened at construction (waiting ones: once up). */
    private final HttpLinks links;
    private final List<CompletableFuture<RangeRequest.Answer>> asked = new ArrayList<>();
    private final List<LinkEvent> events = new CopyOnWriteArrayList<>();
    /** The events' zero (System.nanoTime); the watch's --iface auto value and what a joining link becomes ({@link #watching}). */
    private volatile long startNanos = System.nanoTime();
    private volatile UnaryOperator<String> autoValue;
    private volatile UnaryOperator<LinkSpec> joining = UnaryOperator.identity();
    private LinkWatch watch;
    private volatile PieceScheduler scheduler;
    private volatile PieceStore store;
    private boolean stopped;

    /**
     * @param specs the links, their cap and rate already this source's share ({@link SeveralServers#share});
     *              one waiting for its interface ({@link LinkSpec#waiting}) joins once it is up
     */
    MirrorSide(List<MirrorUrl> urls, List<LinkSpec> specs, Transport transport, EventLoopGroup group,
               SslContext tls, int connectTimeoutMillis, Console console, Consumer<String> trace,
               CompletableFuture<DownloadException> fatal) {
        this.urls = urls;
        this.console = console;
        this.trace = trace;
        this.fatal = fatal;
        this.probeMillis = connectTimeoutMillis + HttpDownload.STALL_SECONDS * 1000;
        this.dialer = new HttpDialer(transport, group, tls, connectTimeoutMillis, HttpDownload.STALL_SECONDS, console::warn);
        this.workers = Executors.newFixedThreadPool(2, HttpDownload.daemon("biternet-http-writer"));
        this.timer = Executors.newSingleThreadScheduledExecutor(HttpDownload.daemon("biternet-http-timer"));
        this.links = new HttpLinks(specs, this::event, spec -> joining.apply(spec));
        links.all().forEach(l -> l.connectNow(dialer, urls));
        HttpLink first = links.firstUsable();
        for (MirrorUrl url : first == null ? List.<MirrorUrl>of() : urls) {
            asked.add(first.opened(url).fetch(0, 1, -1, Validators.NONE, (o, d) -> { }));
        }
    }

    /**
     * How the links are watched once the channels start (before {@link #start}): named
     * interfaces always (rebound, parked, joining once up); with {@code autoValue}, an interface
     * that comes up later and reaches the first mirror joins, as {@code joining} makes it (its
     * share of the options).
     *
     * @param startNanos the download's start (System.nanoTime), the zero of the events' times
     * @param autoValue the --iface value for an interface {@code auto} takes, or null without auto
     */
    void watching(long startNanos, UnaryOperator<String> autoValue, UnaryOperator<LinkSpec> joining) {
        this.startNanos = startNanos;
        this.autoValue = autoValue;
        this.joining = joining;
    }

    /** A mirror link joined, left or was rebound: one line, and an entry in {@link #events}. */
    private void event(LinkEvent event) {
        LinkEvent e = event.at((System.nanoTime() - startNanos) / 1e9);
        events.add(e);
        console.line(String.format(java.util.Locale.ROOT, "%.1f s: HTTP mirrors: %s", e.seconds(), e.text()));
    }

    /** Link {@code name}'s cap and rate over its channels to every mirror, or null if it has none here. */
    dev.biternet.client.http.LinkAllowance allowance(String name) {
        return links.all().stream().filter(l -> l.spec().name().equals(name)).map(HttpLink::allowance).findFirst().orElse(null);
    }

    /** The mirror links' events so far, each with its time. */
    List<LinkEvent> events() {
        return List.copyOf(events);
    }

    /**
     * The mirrors whose file is {@code size} bytes and that serve ranges; each other one is left
     * out with one line naming it. Waits for the mirrors' first answers, or until {@code over}
     * (then quietly none).
     */
    List<Mirror> usable(long size, String reference, java.util.function.BooleanSupplier over) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(probeMillis);
        List<Mirror> usable = new ArrayList<>();
        for (int i = 0; i < asked.size(); i++) {
            MirrorUrl url = urls.get(i);
            String why;
            try {
                while (!asked.get(i).isDone() && !over.getAsBoolean() && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                if (over.getAsBoolean()) {
                    return List.of();
                }
                RangeRequest.Answer a = asked.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                why = a.size() == size ? null : "its file is " + a.size() + " bytes, not " + size + " as on " + reference;
                if (why == null) {
                    usable.add(new Mirror(url, a.size(), a.validators()));
                }
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                why = cause instanceof HttpFailure f && f.kind() == HttpFailure.Kind.IGNORES_RANGE
                        ? "the mirror ignores Range requests (a mirror used with a biternet server must serve ranges)"
                        : cause instanceof IOException && cause.getMessage() != null ? cause.getMessage() : rootMessage(cause);
            } catch (TimeoutException e) {
                why = "no answer within " + probeMillis / 1000 + " s";
            }
            if (why != null) {
                console.warn(url + ": " + why + "; the mirror is not used");
            }
        }
        return usable;
    }

    /**
     * Starts the channels of {@code mirrors} (from {@link #usable}) into {@code store}; closes the
     * connections of the others. False if {@link #stop} came first (nothing started).
     */
    synchronized boolean start(PieceStore store, List<Mirror> mirrors) {
        if (stopped) {
            return false;
        }
        this.store = store;
        PieceScheduler pool = PieceScheduler.pooled(store.layout().pieceCount());
        scheduler = pool;
        MirrorChannel.Events owner = new MirrorChannel.Events() {
            @Override
            public void dropped(Mirror mirror, String why) {
                console.warn(why + "; the mirror is not used any more");
            }

            @Override
            public void localFailure(String why) {
                fatal.complete(Download.localFailure(why));
            }

            @Override
            public void trace(String event) {
                trace.accept(event);
            }
        };
        links.start(l -> mirrors.stream().map(m -> new MirrorFlows(m, l.spec().options().flowCount("", false),
                l.connection(dialer, m.url()), () -> new MirrorConnection(dialer, l, m.url()),
                (conn, depth) -> new MirrorChannel(conn, m, pool, store, workers, timer, owner, depth,
                        this::pieceSlots).judgedByHashes(), this::pieceSlots)).toList());
        links.closeUnused();
        try {
            watch = LinkWatch.start(links, InetAddress.getByName(urls.get(0).host()), Download.AUTO_LINKS, autoValue);
        } catch (UnknownHostException e) {
            // the mirrors' host resolved for the probe moments ago; without it, nothing is watched
        }
        return true;
    }

    /** The pieces the mirrors' channels claim from (null before {@link #start}). */
    PieceScheduler scheduler() {
        return scheduler;
    }

    /**
     * The channels that may take pieces now, for the plan (its "links"): one still connecting,
     * or trying again after a lost connection, counts, or it would never be granted a piece;
     * one waiting out its backoff does not, so its pieces go to the other sources meanwhile.
     */
    int channelsUp() {
        return (int) channels().stream().filter(MirrorChannel::ready).count();
    }

    /** A mirror asked for bytes that sent none for this long is not up on that link, for its part of the link's cap. */
    static final long SILENT_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(2);

    /**
     * True while a channel of link {@code name} to some mirror is up and answering
     * ({@link MirrorChannel#answering}): one trying to connect again is not (a mirror that died
     * keeps its channels trying), nor one whose requests get no byte (a dead one that accepts
     * and never answers would hold them for a stall's length).
     */
    boolean upOn(String name) {
        long now = System.nanoTime();
        return links.all().stream().filter(l -> l.spec().name().equals(name)).flatMap(l -> l.flows().stream())
                .flatMap(f -> f.channels().stream()).anyMatch(c -> c.answering(now, SILENT_NANOS));
    }

    /** Pieces the mirrors delivered first. */
    long delivered() {
        return channels().stream().mapToLong(MirrorChannel::pieces).sum();
    }

    /** True if some channel is capped and none can take a piece. */
    boolean outOfCaps() {
        return channels().stream().anyMatch(MirrorChannel::capped) && channelsUp() == 0;
    }

    /**
     * Each (link, mirror)'s flows, opened or retired as {@code FlowCount} finds they pay: on what
     * all the mirrors' channels receive, one (link, mirror) trying at a time (the links'
     * connections to a mirror share its uplink).
     */
    void look(double seconds, double secondsLeft) {
        long total = arriving();
        List<MirrorFlows> flows = links.flows();
        for (MirrorFlows f : flows) {
            f.adjust(seconds, secondsLeft, total, flows.stream().anyMatch(o -> o != f && o.trying()), trace);
        }
    }

    /** Body bytes received so far, all channels. */
    long arriving() {
        return channels().stream().mapToLong(MirrorChannel::arriving).sum();
    }

    List<LinkStats> stats(boolean over) {
        return links.flows().stream().map(f -> f.stats(over)).toList();
    }

    /** Pieces given back after a failed copy since the last call: for the plan to give elsewhere. */
    BitSet returned() {
        PieceScheduler s = scheduler;
        return s == null ? new BitSet() : s.returned();
    }

    synchronized void stop() {
        stopped = true;
        if (watch != null) {
            watch.close();
        }
        channels().forEach(MirrorChannel::stop);
        links.closeUnused();
        workers.shutdownNow();
        timer.shutdownNow();
    }

    /** As {@code HttpDownload.pieceSlots}: piece buffers left under {@link HttpDownload#PIECE_MEMORY}. */
    private int pieceSlots() {
        PieceStore s = store;
        long most = HttpDownload.PIECE_MEMORY / (s == null ? HttpDownload.MAX_PIECE : s.layout().pieceSize());
        return (int) (most - MirrorChannel.piecesHeld(channels()));
    }

    private List<MirrorChannel> channels() {
        return links.channels();
    }
}
