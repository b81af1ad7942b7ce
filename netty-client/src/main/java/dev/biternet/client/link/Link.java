package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.proto.OpenSession;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One {@code --iface} over the whole download: its {@link Flow}s (one TCP flow, or several when
 * they carry more together: {@link FlowCount}, judged from the link's bytes every look), all
 * attached with the link's flow group so that the server holds them to the link's one cap and
 * rate. It owns what counts for the whole link: the bytes of every flow and connection (its cap),
 * its stats, and dropping it: a link whose pieces keep failing their hash stops all its flows.
 */
public final class Link {
    /** The link as now bound: a named interface's address changes with {@link #check}. */
    private volatile LinkSpec spec;
    /** Counts the changes {@link #check} found: a flow waiting to connect again wakes on one. */
    private long changes;
    /** A backup link not carrying pieces now (it starts so); always false for a normal link. */
    private volatile boolean standingBy;
    /** The link's payload at the last look, and when it last grew (System.nanoTime; 0: never looked). */
    private long lastCarried;
    private long lastGrowthNanos;
    /** The link's Attach.flow_group: its number among the links, from 1. */
    private final int group;
    /**
     * Which of the server's addresses the link's flows connect to ({@link ServerAddresses}): its
     * number among the links at first, the next one after a connect there failed.
     */
    private final java.util.concurrent.atomic.AtomicInteger turn;
    private final Connector connector;
    private final ByteString token;
    /** The protocol its connections speak (2 when the download has several servers). */
    private volatile int version = dev.biternet.common.wire.Frames.OLDEST_PROTOCOL_VERSION;
    /** Where its connections' root hashes go (null: the store). */
    private volatile PieceReceiver.RootSink roots;
    private final LinkOwner owner;
    private final List<Flow> flows = new CopyOnWriteArrayList<>();
    private final RecentRate rate = new RecentRate();
    /** Set by {@link #start}, last: {@link #adjust} leaves a link alone until then. */
    private volatile FlowCount count;
    private volatile boolean dropped;
    /** The most flows the link had at once. */
    private volatile int peakFlows = 1;
    private SessionKeeper keeper;
    private PieceStore store;
    /** The server holds a link's flows to one cap and rate: more than one flow is safe. */
    private boolean flowGroups;
    /** The link's cap and rate at this server now, which every connection's Attach carries. */
    private final LinkLimit limit;

    /**
     * @param group the link's number among the download's links, from 1
     * @param token the server's access token, sent in every connection's Hello (empty: none)
     */
    public Link(LinkSpec spec, int group, Connector connector, ByteString token, LinkOwner owner) {
        this.spec = spec;
        this.standingBy = spec.options().backup();
        this.group = group;
        this.turn = new java.util.concurrent.atomic.AtomicInteger(group - 1);
        this.connector = connector;
        this.token = token;
        this.owner = owner;
        this.limit = new LinkLimit(spec.options());
    }

    public LinkSpec spec() {
        return spec;
    }

    int group() {
        return group;
    }

    Connector connector() {
        return connector;
    }

    /** The server address the link's flows connect to now, as a turn of {@link ServerAddresses}. */
    int turn() {
        return turn.get();
    }

    /**
     * A connect on turn {@code failed} failed (the node there is dead or unreachable): the link
     * moves on to the next address, once however many of its flows saw it fail.
     */
    void failedAt(int failed) {
        turn.compareAndSet(failed, failed + 1);
    }

    /** How many of the server's addresses the link can try. */
    int addresses() {
        return connector.addresses(spec);
    }

    LinkOwner owner() {
        return owner;
    }

    /** A connection of this link, counting for its cap whatever the link's flows carried. */
    LinkHandler handler(OpenSession open) {
        LinkHandler h = new LinkHandler(spec, open, token, version);
        h.rootsTo(roots);
        h.partOf(this::carried, this::activeFlows);
        h.limitedBy(limit);
        h.standBy(standingBy);
        return h;
    }

    /** The link's cap and rate at this server, shared by its connections (the user's unless changed). */
    public LinkLimit limit() {
        return limit;
    }

    /** Tells the server the link's limits where they changed since it was told ({@link LinkHandler#sendLimits}); any thread. */
    public void sendLimits() {
        for (Flow f : flows) {
            f.current().sendLimits();
        }
    }

    /** Its connections speak {@code v} from the next one on (2: one of several servers). */
    void speak(int v) {
        version = v;
    }

    /** Its connections' root hashes go to {@code sink} (one of several servers: checked before the store takes one). */
    void rootsTo(PieceReceiver.RootSink sink) {
        roots = sink;
    }

    /** Sends a session's control message on one attached connection of this link; false if none is. */
    boolean sendControl(dev.biternet.proto.Envelope e) {
        for (Flow f : flows) {
            LinkHandler h = f.current();
            if (h != null && h.sendControl(e)) {
                return true;
            }
        }
        return false;
    }

    /** True for a backup link ({@code :backup}). */
    public boolean backup() {
        return spec.options().backup();
    }

    /** True while a backup link carries no piece (it stands by for the others). */
    public boolean standingBy() {
        return standingBy;
    }

    /**
     * A backup link stands by (no new piece on any of its flows; the pieces under way still
     * come) or takes over (its flows take pieces again). Any thread.
     */
    public void standBy(boolean on) {
        if (standingBy == on) {
            return;
        }
        standingBy = on;
        for (Flow f : flows) {
            f.current().standBy(on);
        }
    }

    /**
     * Nanoseconds from the link's last delivery (its payload growing) to {@code now}, as seen at
     * these looks; the first look counts as a delivery, so a link is given time for its first
     * piece. One caller: the download's supervising thread.
     */
    public long quietNanos(long now) {
        long c = carried();
        if (lastGrowthNanos == 0 || c != lastCarried) {
            lastCarried = c;
            lastGrowthNanos = now;
        }
        return now - lastGrowthNanos;
    }

    private int activeFlows() {
        return (int) Math.max(1, flows.stream().filter(f -> !f.retired()).count());
    }

    /**
     * Looks at the link's interface again (a named one; others never change): when its address
     * changed, the link binds to the new one and its connections, bound to the old one, are
     * closed at once (their flows connect again without waiting for silence); when it has none
     * (gone, down), the link is parked until it has one. Any thread.
     *
     * @return true if the link's address changed
     */
    public boolean check(java.net.InetAddress server) {
        LinkSpec was = spec;
        if (was.device() == null) {
            return false;
        }
        java.net.InetAddress now;
        try {
            now = LinkResolver.address(was.device(), server);
        } catch (LinkResolver.LinkException e) {
            now = null;
        }
        if (java.util.Objects.equals(now, was.localAddress())) {
            return false;
        }
        spec = was.at(now);
        String name = was.name();
        if (now == null) {
            owner.event(LinkEvent.of(name, "left", "", "link " + name
                    + " left (its interface is gone, down or without an address); it rejoins when it returns"));
        } else if (was.localAddress() == null) {
            owner.event(LinkEvent.of(name, "joined", spec.addressText(), "link " + name + " joined (" + spec.addressText() + ")"));
        } else {
            owner.event(LinkEvent.of(name, "rebound", spec.addressText(), "link " + name + " rebound to "
                    + spec.addressText() + " (was " + was.addressText() + ")"));
        }
        if (was.localAddress() != null) {
            for (Flow f : flows) {
                f.current().close();
            }
        }
        synchronized (this) {
            changes++;
            notifyAll();
        }
        return true;
    }

    /** The changes {@link #check} found so far. */
    synchronized long changes() {
        return changes;
    }

    /** Waits up to {@code millis} or until a change after the {@code seen}-th. */
    synchronized void awaitChange(long seen, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(millis);
        long left;
        while (changes == seen && (left = deadline - System.nanoTime()) > 0) {
            java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    /** True while the link's interface has no usable address: it waits for one. */
    public boolean waiting() {
        return spec.waiting();
    }

    /**
     * Connects the link's first flow, whose connection may open the session ({@link #handler()}):
     * each of the server's addresses tried once, from the link's turn on, until one connects.
     */
    public CompletableFuture<Void> connect() {
        Flow f = new Flow(this, handler(null));
        flows.add(f);
        return f.redial(null);
    }

    /**
     * Gives a link that waits for its interface its first flow, not connected: {@link #start}
     * connects it once the interface is up with an address.
     */
    public void park() {
        flows.add(new Flow(this, handler(null)));
    }

    /**
     * Opens the session on the link's first flow and has the server attach it at once
     * ({@link LinkHandler#openAndAttach}), as the link's flow group; once connected.
     */
    public void openAndAttach(OpenSession request) {
        handler().openAndAttach(request, group);
    }

    /** The first flow's connection now. */
    public LinkHandler handler() {
        return primary().current();
    }

    /** Replaces the first flow's connection with a new one that sends {@code open}, as {@link #connect}; completes when connected. */
    public CompletableFuture<Void> redial(OpenSession open) {
        return primary().redial(open);
    }

    private Flow primary() {
        return flows.get(0);
    }

    List<Flow> flows() {
        return flows;
    }

    /**
     * Attaches the first flow (connected) and keeps the link up: reconnecting lost flows, and
     * opening as many as {@code flowCount} wants. Several flows only with a server that holds a
     * link's flows to one cap ({@code flowGroups}, Welcome.flow_groups).
     *
     * @param serverCongestion Welcome.congestion_control ("" if the server did not say)
     */
    public void start(SessionKeeper keeper, PieceStore store, boolean flowGroups, String serverCongestion) {
        this.keeper = keeper;
        this.store = store;
        this.flowGroups = flowGroups;
        // A parked link (its interface missing at the start) connects from its flow's thread.
        primary().start(keeper, store, !primary().current().dialed());
        this.count = spec.options().flowCount(serverCongestion);
        adjust(0, Double.MAX_VALUE); // a fixed number of flows opens now
    }

    /**
     * One look (the download's supervising thread): the flows {@link FlowCount} wants now,
     * opened or retired. Only with a server that shares a cap over a flow group.
     *
     * @param seconds since the download started
     * @param secondsLeft the download's time left at its present rate
     */
    public synchronized void adjust(double seconds, double secondsLeft) {
        if (dropped || !flowGroups || count == null) {
            return;
        }
        double rtt = handler().minRttSeconds();
        long bytes = carried();
        long rateLimit = limit.now().rateLimit();
        boolean atLimit = rateLimit > 0 && rate.rate(seconds, bytes) >= 0.9 * rateLimit;
        boolean nearEnd = secondsLeft < Math.max(3, 20 * rtt);
        int want = count.sample(seconds, bytes, retransmitted(), rtt, nearEnd, atLimit);
        if (count.event() != null) {
            owner.trace("link " + spec.name() + ": " + count.event());
        }
        List<Flow> active = flows.stream().filter(f -> !f.retired()).toList();
        for (int i = active.size(); i < want && !owner.over(); i++) {
            Flow f = new Flow(this, handler(null));
            flows.add(f);
            f.start(keeper, store, true);
            owner.trace("link " + spec.name() + ": flow " + flows.size() + " opened (" + want + " flows)");
        }
        peakFlows = Math.max(peakFlows, want);
        for (int i = active.size() - 1; i >= Math.max(1, want); i--) {
            active.get(i).retire();
            owner.trace("link " + spec.name() + ": a flow retired (" + want + " flows)");
        }
    }

    /** True while a flow of the link has a live connection attached to the session. */
    public boolean up() {
        return flows.stream().anyMatch(Flow::up);
    }

    /** True once the link's flows were stopped for delivering pieces that failed their hash. */
    public boolean dropped() {
        return dropped;
    }

    /** True once the link cannot take another piece without passing its cap. */
    public boolean capReached() {
        return store != null && limit.now().capReached(carried(), store.layout().pieceSize());
    }

    /**
     * What the server retransmitted over all the link's connections so far, retired flows and
     * closed connections included (a count that falls when a flow retires would read as a
     * clean link), bytes; -1 when none of them said (a server without TCP_INFO, or nothing
     * received yet).
     */
    long retransmitted() {
        long n = -1;
        for (Flow f : flows) {
            long r = f.retransmitted();
            n = r < 0 ? n : Math.max(0, n) + r;
        }
        return n;
    }

    /** Payload over all of the link's flows and connections. */
    public long carried() {
        long n = 0;
        for (Flow f : flows) {
            n += f.carried();
        }
        return n;
    }

    /** Stops every flow of the link for good. */
    void drop() {
        if (!dropped) {
            dropped = true;
            flows.forEach(Flow::stop);
        }
    }

    /** Stops every flow (the download is over). */
    public void stop() {
        flows.forEach(Flow::stop);
    }

    /** See {@link LinkSet#awaitFinalCounts}: over every flow of the link. */
    boolean awaitFinalCounts(long deadlineNanos) throws InterruptedException {
        boolean all = true;
        for (Flow f : flows) {
            all &= f.awaitFinalCounts(deadlineNanos);
        }
        return all;
    }

    /** Why the link is down, for the message when every link is lost. */
    public String state() {
        return handler().closed().getNow("up");
    }

    /** The link's counters over all its flows: while it runs, the flows it has; once over, the most it had. */
    public LinkStats stats() {
        LinkStats s = null;
        int live = 0;
        for (Flow f : flows) {
            LinkStats one = f.stats();
            s = s == null ? one : s.alongside(one);
            live += f.live() ? 1 : 0;
        }
        return s.withFlows(owner.over() ? peakFlows : Math.max(1, live));
    }

    /** A rate over the last second or so, for "is it at its rate limit" and the download's time left. */
    public static final class RecentRate {
        private double lastSeconds;
        private long lastBytes;
        private double rate;

        /** Bytes per second, updated once a second has passed since the last update. */
        public double rate(double seconds, long bytes) {
            if (seconds - lastSeconds >= 1) {
                rate = (bytes - lastBytes) / (seconds - lastSeconds);
                lastSeconds = seconds;
                lastBytes = bytes;
            }
            return rate;
        }
    }
}
