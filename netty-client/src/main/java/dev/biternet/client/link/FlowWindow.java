package dev.biternet.client.link;

/**
 * How many pieces one link may have unacknowledged (the credit it grants the server), from
 * what the link delivers and its round trip: a pure calculation, fed a tick at a time, with no
 * Netty in it.
 *
 * <p>The window is the link's delivery rate times its round trip plus {@value #HEADROOM_SECONDS}
 * s (hashing, the disk, jitter), plus two pieces, so a link keeps at least its bandwidth-delay
 * product in flight. While the window is what limits the link (the rate times the round trip
 * leaves less than half the headroom and a piece of the window free) it doubles each tick, as
 * TCP's slow start does, until the link and not the window is the limit: a window sized from the measured rate alone could never open up on a
 * link whose round trip is longer than its headroom, since the rate it measures is then set by
 * the window itself. It shrinks only on evidence, a tick that delivered data at a lower rate,
 * and then by at most a quarter a tick; a tick that delivered nothing (a stall, a link waiting
 * at the end) changes nothing. It stays between {@value #MIN_WINDOW} pieces and the byte cap,
 * which bounds what a link can hold in the client's memory.
 */
final class FlowWindow {
    static final int MIN_WINDOW = 3;
    /** The window a connection attaches with: the pieces it may always have out, budget or not. */
    static final int INITIAL_WINDOW = dev.biternet.client.store.PieceBudget.OWN_PIECES;
    static final double HEADROOM_SECONDS = 0.25;
    /** Weight of a new round-trip sample in the smoothed round trip (TCP's 1/8). */
    private static final double RTT_GAIN = 0.125;
    /** Longest round trip believed (a minute); longer samples are ignored. */
    static final double MAX_RTT_SECONDS = 60;

    private final long pieceSize;
    private int maxWindow;
    private int window = INITIAL_WINDOW;
    private double rate;
    private double srtt;
    private double minRtt;

    /**
     * @param pieceSize the session's piece size in bytes
     * @param maxBytes the most this link may hold unacknowledged, bytes
     */
    FlowWindow(long pieceSize, long maxBytes) {
        this.pieceSize = pieceSize;
        this.maxWindow = (int) Math.max(MIN_WINDOW, Math.min(Integer.MAX_VALUE, maxBytes / pieceSize));
    }

    /** A new byte cap (a link's flows share one); the window comes down to it at the next tick. */
    void maxBytes(long maxBytes) {
        this.maxWindow = (int) Math.max(MIN_WINDOW, Math.min(Integer.MAX_VALUE, maxBytes / pieceSize));
    }

    int window() {
        return window;
    }

    /** The smoothed delivery rate, bytes/s (0 until a tick delivered something). */
    double rate() {
        return rate;
    }

    /** The smoothed round trip, seconds (0 until a sample came). */
    double rtt() {
        return srtt;
    }

    /** The least round trip seen, seconds (0 until a sample came): the path's, without queues and repairs. */
    double minRtt() {
        return minRtt;
    }

    /** One round-trip measurement, seconds; an impossible one (not positive, over a minute) is ignored. */
    void rttSample(double seconds) {
        if (!(seconds > 0) || seconds > MAX_RTT_SECONDS) {
            return;
        }
        srtt = srtt == 0 ? seconds : (1 - RTT_GAIN) * srtt + RTT_GAIN * seconds;
        minRtt = minRtt == 0 ? seconds : Math.min(minRtt, seconds);
    }

    /**
     * What the link delivered during one tick.
     *
     * @return the window from now on, in pieces
     */
    int tick(long bytes, double seconds) {
        if (bytes <= 0 || seconds <= 0) {
            return window; // a stall or an idle spell says nothing about the link's capacity
        }
        double instant = bytes / seconds;
        rate = rate == 0 ? instant : 0.5 * rate + 0.5 * instant;
        double target = Math.ceil(rate * (srtt + HEADROOM_SECONDS) / pieceSize) + 2;
        // Not limited, the window leaves the headroom and two pieces over rate x round trip;
        // limited, only the piece in transmission and the processing time.
        boolean limited = srtt > 0 && rate * (srtt + HEADROOM_SECONDS / 2) + pieceSize >= (double) window * pieceSize;
        double next;
        if (limited || target >= window) {
            next = limited ? Math.max(target, 2.0 * window) : target;
        } else {
            next = Math.max(target, Math.floor(0.75 * window));
        }
        window = (int) Math.max(MIN_WINDOW, Math.min(maxWindow, next));
        return window;
    }
}
