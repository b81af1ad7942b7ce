package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A download's links as a set that changes while it runs: the links it starts with and those
 * that join later ({@code --iface auto}), numbered in order (their flow groups); what users see
 * of their lives ({@link LinkEvent}s, stamped with the time into the download as each is
 * reported); and, at each of the download's looks ({@link #LOOK_MILLIS}), how many flows each
 * link uses and whether the backup links carry pieces ({@link BackupRule}). Any thread may read
 * it; the looks are the supervising thread's.
 */
public final class LinkSet {
    /** How often the download looks at its links. */
    public static final long LOOK_MILLIS = 200;

    private final Connector connector;
    private final ByteString token;
    private volatile int version = dev.biternet.common.wire.Frames.OLDEST_PROTOCOL_VERSION;
    private volatile PieceReceiver.RootSink roots;
    private final LinkOwner owner;
    private final long startNanos;
    private final List<Link> links = new CopyOnWriteArrayList<>();
    /** The links with their first flow, for {@link #stats} (progress displays read it from their own thread). */
    private volatile List<Link> published = List.of();
    private final List<LinkEvent> events = new CopyOnWriteArrayList<>();
    private final Link.RecentRate rate = new Link.RecentRate();
    /** What a link starts with; null until the session is open (no link joins before). */
    private volatile Start start;

    private record Start(SessionKeeper keeper, PieceStore store, boolean flowGroups, String congestion) {}

    /**
     * @param token the server's access token, sent in every connection's Hello (empty: none)
     * @param download where the links report; each {@link LinkEvent} reaches it stamped with its time
     * @param startNanos when the download started (System.nanoTime), the events' zero
     */
    public LinkSet(Connector connector, ByteString token, LinkOwner download, long startNanos) {
        this.connector = connector;
        this.token = token;
        this.owner = new Recording(download);
        this.startNanos = startNanos;
    }

    /**
     * A link the download starts with, numbered after those added before; the caller gives it
     * its first flow ({@link Link#connect} or {@link Link#park}), then {@link #publish}es.
     */
    public Link add(LinkSpec spec) {
        Link link = newLink(spec);
        links.add(link);
        return link;
    }

    private Link newLink(LinkSpec spec) {
        Link l = new Link(spec, links.size() + 1, connector, token, owner);
        l.speak(version);
        l.rootsTo(roots);
        return l;
    }

    /**
     * The download has several biternet servers, these links go to one of them: their
     * connections speak protocol 2 (client claims), and the server's root hash goes to
     * {@code roots} (which checks it against the others'). Before any link is added.
     */
    public void oneOfSeveral(PieceReceiver.RootSink roots) {
        version = dev.biternet.common.wire.Frames.PROTOCOL_VERSION;
        this.roots = roots;
    }

    /**
     * Sends a control message of the session (a Claim or Unclaim) on one attached connection;
     * false if no link has one now.
     */
    public boolean sendControl(dev.biternet.proto.Envelope e) {
        for (Link l : links) {
            if (l.sendControl(e)) {
                return true;
            }
        }
        return false;
    }

    /** Makes the links added so far (each with its first flow) visible to {@link #stats}. */
    public void publish() {
        published = List.copyOf(links);
    }

    /**
     * Starts each link once its {@code ready} completes (connected, its OpenSession queued), and
     * from now on takes links that join.
     *
     * @param ready one per link, in the order added
     * @param congestion Welcome.congestion_control ("" if the server did not say)
     */
    public void start(SessionKeeper keeper, PieceStore store, boolean flowGroups, String congestion,
                      List<CompletableFuture<Void>> ready) {
        Start s = new Start(keeper, store, flowGroups, congestion);
        for (int i = 0; i < ready.size(); i++) {
            Link l = links.get(i);
            ready.get(i).thenRun(() -> l.start(keeper, store, flowGroups, congestion));
        }
        start = s;
    }

    /**
     * Adds a link for an interface {@code --iface auto} took mid-download and starts it (it
     * connects from its flow's thread); ignored before {@link #start}.
     */
    public void join(LinkSpec spec) {
        Start s = start;
        if (s == null) {
            return;
        }
        Link l = newLink(spec);
        l.park();
        links.add(l);
        publish();
        owner.event(LinkEvent.of(spec.name(), "joined", spec.addressText(),
                "link " + spec.name() + " joined (" + spec.addressText() + ", --iface auto)"));
        l.start(s.keeper(), s.store(), s.flowGroups(), s.congestion());
    }

    /** Each link looks at its interface again ({@link Link#check}): an interface changed. */
    public void check(InetAddress server) {
        links.forEach(l -> l.check(server));
    }

    /** True if a link is bound to a named interface (whose address can change). */
    public boolean anyBound() {
        return links.stream().anyMatch(l -> l.spec().device() != null);
    }

    /** The links' names. */
    public Set<String> names() {
        return links.stream().map(l -> l.spec().name()).collect(Collectors.toSet());
    }

    /** Every link, joined ones included. */
    public List<Link> all() {
        return links;
    }

    /**
     * One look: each link's flows sized for the time left at the download's present rate, and
     * the backup links standing by or taking over.
     *
     * @param now System.nanoTime
     * @param seconds since the download started
     * @param bytesLeft what the download has still to verify
     */
    public void look(long now, double seconds, long bytesLeft) {
        double r = rate.rate(seconds, links.stream().mapToLong(Link::carried).sum());
        for (Link l : links) {
            l.adjust(seconds, r > 0 ? bytesLeft / r : Double.MAX_VALUE);
        }
        tiers(now);
    }

    /** The backup links, if any, as {@link BackupRule} has them. */
    private void tiers(long now) {
        if (links.stream().noneMatch(Link::backup)) {
            return;
        }
        long[] quiet = links.stream().filter(l -> !l.backup() && l.up()).mapToLong(l -> l.quietNanos(now)).toArray();
        BackupRule.Verdict verdict = BackupRule.judge(quiet);
        for (Link b : links) {
            Boolean standBy = b.backup() ? verdict.standBy(b.standingBy()) : null;
            if (standBy == null) {
                continue;
            }
            b.standBy(standBy);
            String name = b.spec().name();
            owner.event(standBy
                    ? LinkEvent.of(name, "stood_by", b.spec().addressText(), "link " + name + " stands by again (another link delivers)")
                    : LinkEvent.of(name, "took_over", b.spec().addressText(), "link " + name + " took over (no other link delivered for "
                    + TimeUnit.NANOSECONDS.toSeconds(BackupRule.TAKEOVER_NANOS) + " s)"));
        }
    }

    /** Stops every link's flows (the download is over). */
    public void stop() {
        links.forEach(Link::stop);
    }

    /**
     * After {@link #stop}: waits until every connection of every link is closed, so no byte
     * arrives after, and has counted the verdicts on the pieces it took, or until
     * {@code deadlineNanos} ({@link System#nanoTime}); false if the deadline came first. The
     * download's result reads the links' counters after this: the last verdicts are counted on
     * the threads that gave them, moments after the store has every piece ({@link PieceReceiver}),
     * and a busy event loop may not have run the close yet.
     */
    public boolean awaitFinalCounts(long deadlineNanos) throws InterruptedException {
        boolean all = true;
        for (Link l : links) {
            all &= l.awaitFinalCounts(deadlineNanos);
        }
        return all;
    }

    /** Each published link's counters; any thread. */
    public List<LinkStats> stats() {
        return published.stream().map(Link::stats).toList();
    }

    /** Links that joined, left, were rebound, took over or stood by so far, one each with its time. */
    public List<LinkEvent> events() {
        return List.copyOf(events);
    }

    /** The download, with each event stamped and kept on its way. */
    private final class Recording implements LinkOwner {
        private final LinkOwner download;

        Recording(LinkOwner download) {
            this.download = download;
        }

        @Override
        public boolean over() {
            return download.over();
        }

        @Override
        public void localFailure(String reason) {
            download.localFailure(reason);
        }

        @Override
        public void refused(String reason) {
            download.refused(reason);
        }

        @Override
        public void integrity(String reason) {
            download.integrity(reason);
        }

        @Override
        public void warn(String message) {
            download.warn(message);
        }

        @Override
        public void event(LinkEvent event) {
            LinkEvent e = event.at((System.nanoTime() - startNanos) / 1e9);
            events.add(e);
            download.event(e);
        }

        @Override
        public void trace(String event) {
            download.trace(event);
        }
    }
}
