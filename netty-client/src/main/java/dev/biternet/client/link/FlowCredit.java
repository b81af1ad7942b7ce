package dev.biternet.client.link;

import dev.biternet.client.store.PieceBudget;
import dev.biternet.proto.Credit;
import java.util.concurrent.TimeUnit;

/**
 * The credit one connection grants the server, and the round trips it is sized from; no Netty in
 * it. Round trips come from the handshake (Hello to Welcome), Attach to Attached, and each block
 * header's echo of an ack's clock ({@link #micros}); they and each tick's delivery go into the
 * connection's {@link FlowWindow}, whose window, taken from the download's {@link PieceBudget}
 * above the connection's own pieces, is what a tick sends as {@link Credit} when it changed or
 * the round trip moved by more than an eighth. A connection standing by grants 0 (a keepalive
 * every {@link #STANDBY_KEEPALIVE_NANOS}), one retiring grants 0 once.
 *
 * <p>Confined to the connection's event loop, but for {@link #rtt} and {@link #minRtt}, which
 * stats read from other threads.
 */
final class FlowCredit {
    /**
     * The window's cap in bytes: 128 pieces of 256 KiB, 32 of 1 MiB. It bounds what a link
     * holds in memory waiting for the hasher and the disk, whatever the piece size.
     */
    static final long MAX_WINDOW_BYTES = 32L << 20;
    static final long STANDBY_KEEPALIVE_NANOS = TimeUnit.SECONDS.toNanos(20);
    /** The client's clock for round trips: microseconds since this class loaded, never 0. */
    private static final long CLOCK_ORIGIN = System.nanoTime();

    /** Null until the connection attaches (the window needs the session's piece size). */
    private FlowWindow flow;
    private PieceBudget.Share budget;
    private int window = FlowWindow.INITIAL_WINDOW;
    /** The round trip last told to the server, microseconds. */
    private long sentRttUs;
    private long lastTickNanos;
    /** The connection's byte count at the last tick. */
    private long lastTickBytes;
    private long lastKeepaliveNanos;
    /** When Hello or Attach went out (0: no answer awaited), and the Hello-Welcome round trip in seconds. */
    private long requestNanos;
    private double handshakeRtt;
    /** The smoothed and the least round trip in seconds, for stats (other threads); 0 until measured. */
    private volatile double rtt;
    private volatile double minRtt;

    /** The client's clock, microseconds, as acks carry it and headers echo it. */
    static long micros() {
        return (System.nanoTime() - CLOCK_ORIGIN) / 1000 + 1;
    }

    /** Hello or Attach went out at {@code now}: its answer is a round-trip sample. */
    void asked(long now) {
        requestNanos = now;
    }

    /** Welcome came: the handshake's round trip, a sample now if attached, else the first at attach. */
    void welcomed(long now) {
        handshakeRtt = answered(now);
        if (flow != null) {
            // Attached before Welcome came (a flow's Attach follows its Hello at once): the
            // handshake is its first round trip all the same.
            sample(handshakeRtt);
        }
    }

    /** Attached came (an Attach's answer). */
    void attachAnswered(long now) {
        if (flow != null) {
            sample(answered(now));
        }
    }

    /** A block header echoed an ack's clock ({@code echoUs}) after holding it {@code heldUs}. */
    void echoed(long echoUs, long heldUs) {
        sample((micros() - echoUs - heldUs) / 1e6);
    }

    /** Seconds since the request now answered went out (0 if none was awaited). */
    private double answered(long now) {
        double seconds = requestNanos == 0 ? 0 : (now - requestNanos) / 1e9;
        requestNanos = 0;
        return seconds;
    }

    /** One round-trip sample, seconds, into the window and the stats (impossible ones are ignored). */
    private void sample(double seconds) {
        flow.rttSample(seconds);
        rtt = flow.rtt();
        minRtt = flow.minRtt();
    }

    /**
     * The connection attaches at {@code now}: its window starts, with the handshake's round trip
     * (a long link's window opens from the first tick).
     *
     * @param asked true if it asks with an Attach (its answer is a sample), false if the server
     *              attached it as it opened the session
     */
    void attach(int pieceSize, PieceBudget.Share share, long now, boolean asked) {
        flow = new FlowWindow(pieceSize, MAX_WINDOW_BYTES);
        budget = share;
        sample(handshakeRtt);
        lastTickNanos = now;
        requestNanos = asked ? now : 0;
    }

    /** True once attached. */
    boolean attached() {
        return flow != null;
    }

    /** The window granted now, pieces. */
    int window() {
        return window;
    }

    /**
     * One tick at {@code now}, the connection having received {@code bytes} in all: the Credit to
     * send, or null. Standing by, only a keepalive, every {@link #STANDBY_KEEPALIVE_NANOS}.
     *
     * @param flows the flows the link has now: they share its window's byte cap
     */
    Credit tick(long now, long bytes, boolean standby, int flows) {
        if (standby) {
            lastTickNanos = now;
            lastTickBytes = bytes;
            if (now - lastKeepaliveNanos > STANDBY_KEEPALIVE_NANOS) {
                lastKeepaliveNanos = now;
                return credit(0, sentRttUs);
            }
            return null;
        }
        flow.maxBytes(MAX_WINDOW_BYTES / Math.max(1, flows));
        int wanted = budget.afford(flow.tick(bytes - lastTickBytes, (now - lastTickNanos) / 1e9));
        lastTickBytes = bytes;
        lastTickNanos = now;
        long rttUs = (long) (flow.rtt() * 1e6);
        // The server hears of a new round trip when it moved by more than an eighth.
        boolean rttMoved = Math.abs(rttUs - sentRttUs) * 8 > sentRttUs;
        if (wanted == window && !rttMoved) {
            return null;
        }
        window = wanted;
        sentRttUs = rttUs;
        return credit(window, rttUs);
    }

    /**
     * Stands by (window 0) or sets to work again (the window FlowWindow has, at least the one
     * it attached with) at {@code now}; attached only. With the round trip: a Credit without
     * one would leave the server's at 0.
     */
    Credit standBy(boolean on, long now, long bytes) {
        if (!on) {
            lastTickNanos = now;
            lastTickBytes = bytes;
        }
        window = on ? 0 : Math.max(FlowWindow.INITIAL_WINDOW, flow.window());
        sentRttUs = (long) (flow.rtt() * 1e6);
        return credit(window, sentRttUs);
    }

    /** Retiring: no new piece. */
    Credit retire() {
        window = 0;
        return Credit.newBuilder().setWindow(0).build();
    }

    /** How long a retiring connection stays quiet before it closes: two round trips, at least half a second. */
    long retireQuietNanos() {
        return Math.max(TimeUnit.MILLISECONDS.toNanos(500), (long) (2e9 * flow.rtt()));
    }

    /** An ack went out: the budget hears of the window it went out under. */
    void acked() {
        budget.acked(window);
    }

    /** The connection closed: its part of the budget goes back. */
    void close() {
        if (budget != null) {
            budget.close();
        }
    }

    /** The smoothed round trip, seconds (0 until measured); any thread. */
    double rtt() {
        return rtt;
    }

    /** The least round trip, seconds (0 until measured); any thread. */
    double minRtt() {
        return minRtt;
    }

    private static Credit credit(int window, long rttUs) {
        return Credit.newBuilder().setWindow(window).setRttUs((int) Math.min(rttUs, Integer.MAX_VALUE)).build();
    }
}
