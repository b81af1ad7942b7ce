package dev.biternet.client.http;

import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * One link's channels to one mirror: as many connections (flows) as the link's
 * {@link FlowCount} finds pay, as for a biternet link. A lossy link under a loss-based
 * congestion control holds one connection far below its rate, which is why download managers
 * open several; whether it pays is measured on the bytes the whole download receives (the links'
 * connections to one mirror share its uplink: a flow that only takes from another link's share
 * must not count as a gain, or every link ends at 16 connections to the mirror). A flow too many
 * is retired ({@link MirrorChannel#retire}): it finishes what it asked for and closes.
 * Looked at by the download's supervising thread; the channels run on their event loops.
 */
public final class MirrorFlows {
    private final Mirror mirror;
    private final FlowCount count;
    /** A new channel of this link to this mirror on a connection, with its first depth; not started yet. */
    private final java.util.function.BiFunction<MirrorConnection, Integer, MirrorChannel> channel;
    private final MirrorConnection first;
    private final List<MirrorChannel> channels = new CopyOnWriteArrayList<>();
    private final java.util.function.Supplier<MirrorConnection> connections;
    /** How many more piece buffers the download's piece memory allows now ({@code HttpDownload.PIECE_MEMORY}). */
    private final java.util.function.IntSupplier room;
    private int peak = 1;
    private boolean whole;

    /**
     * @param first the connection the first channel uses (opened at the start); its link is this one's
     * @param connections a new connection of this link to this mirror, for each further flow
     * @param channel the channel to drive a connection, keeping so many requests in flight at first
     * @param room how many more piece buffers the download allows now: a flow opens only into one
     */
    public MirrorFlows(Mirror mirror, FlowCount count, MirrorConnection first,
                       java.util.function.Supplier<MirrorConnection> connections,
                       java.util.function.BiFunction<MirrorConnection, Integer, MirrorChannel> channel,
                       java.util.function.IntSupplier room) {
        this.room = room;
        this.mirror = mirror;
        this.count = count;
        this.first = first;
        this.connections = connections;
        this.channel = channel;
    }

    /**
     * Starts the first channel, and as many more as a fixed {@code flows=} asks for and the room
     * allows; after {@link #wholeFile}, the first channel only, fetching the whole file.
     */
    public void start() {
        if (whole) {
            startWhole();
            return;
        }
        MirrorChannel c = channel.apply(first, MirrorChannel.DEPTH);
        channels.add(c);
        c.start();
        adjust(0, Double.MAX_VALUE, 0, true, null);
    }

    /** {@link #start} starts the first channel only, fetching the whole file in one request (a mirror that ignores Range). */
    public MirrorFlows wholeFile() {
        whole = true;
        return this;
    }

    private void startWhole() {
        MirrorChannel c = channel.apply(first, 1);
        channels.add(c);
        c.startWhole();
    }

    /**
     * One look: the flows {@link FlowCount} wants now, opened or retired.
     *
     * @param seconds since the download started
     * @param secondsLeft the download's time left at its present rate
     * @param totalBytes body bytes every channel of the download received so far
     * @param othersTrying another (link, mirror) is trying a step now: no new one starts here
     * @param trace where a decision is told (--verbose); null: nowhere
     */
    public synchronized void adjust(double seconds, double secondsLeft, long totalBytes, boolean othersTrying,
                                    java.util.function.Consumer<String> trace) {
        List<MirrorChannel> active = channels.stream().filter(c -> !c.retired()).toList();
        if (active.isEmpty() || mirror.dropped() != null || active.stream().anyMatch(MirrorChannel::capped)
                || first.link().waiting()) {
            return; // a capped link passes no more bytes with more flows; a parked one none
        }
        double rtt = rtt();
        long bytes = channels.stream().mapToLong(MirrorChannel::arriving).sum();
        int want = count.sampleShared(seconds, bytes, Math.max(bytes, totalBytes), rtt, secondsLeft < Math.max(3, 20 * rtt),
                first.allowance().atRate(System.nanoTime()), othersTrying);
        if (count.event() != null && trace != null) {
            trace.accept(first.link().name() + " -> " + mirror + ": " + count.event());
        }
        int now = active.size();
        for (; now < want && room.getAsInt() >= MirrorChannel.DEPTH; now++) {
            // As many requests in flight as a first flow: with one, a flow idles a round trip
            // after each piece, and the link's other flows do not take that up (each is held to
            // its own window): on a 600 ms link 16 flows dipped to half the link's rate for
            // 0.3-0.9 s each time theirs ended together (bench/lab/RESULTS.md run 147).
            MirrorChannel c = channel.apply(connections.get(), MirrorChannel.DEPTH);
            channels.add(c);
            c.start();
        }
        for (int i = active.size() - 1; i >= Math.max(1, want); i--) {
            active.get(i).retire();
            now--;
        }
        peak = Math.max(peak, now);
    }

    /** True while this link tries a step in its flows to the mirror. */
    public synchronized boolean trying() {
        return count.trying();
    }

    /** Every channel this link had to the mirror, retired ones included. */
    public List<MirrorChannel> channels() {
        return channels;
    }

    /**
     * The link's counters for this mirror, all its flows together; {@code flows} is the number
     * working now, or at the end the most it had.
     */
    public LinkStats stats(boolean over) {
        long bytes = 0;
        long duplicateBytes = 0;
        int pieces = 0;
        int duplicates = 0;
        int failed = 0;
        long failedBytes = 0;
        int reconnects = 0;
        long firstNanos = Long.MAX_VALUE;
        long lastNanos = 0;
        int live = 0;
        for (MirrorChannel c : channels) {
            bytes += c.bytes();
            duplicateBytes += c.duplicateBytes();
            pieces += c.pieces();
            duplicates += c.duplicates();
            failed += c.failedPieces();
            failedBytes += c.failedBytes();
            reconnects += c.reconnects();
            if (c.lastNanos() != 0) {
                firstNanos = Math.min(firstNanos, c.firstNanos());
                lastNanos = Math.max(lastNanos, c.lastNanos());
            }
            live += c.retired() ? 0 : 1;
        }
        // From the first request of any flow to the last piece of any: the flows' spans overlap in part.
        double seconds = lastNanos == 0 ? 0 : (lastNanos - firstNanos) / 1e9;
        MirrorChannel head = channels.isEmpty() ? null : channels.get(0);
        String state = head == null ? "connecting" : head.state();
        LinkSpec link = first.link();
        return new LinkStats(link.name(), link.addressText(), bytes, pieces, duplicates, duplicateBytes, failed, failedBytes, seconds,
                state, link.options(), reconnects, mirror.dropped() != null, rtt() * 1e3,
                over ? peak : Math.max(1, live), mirror.url().hostHeader());
    }

    /**
     * The least round trip any of the channels' connections saw (its quickest TCP connect), in
     * seconds; 0 before one connected. The first connect of all comes while the JVM is still
     * warming up and reads slow.
     */
    private double rtt() {
        return channels.stream().mapToDouble(c -> c.connection().minRttSeconds()).filter(r -> r > 0).min().orElse(0);
    }
}
