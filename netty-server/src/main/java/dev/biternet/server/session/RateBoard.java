package dev.biternet.server.session;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * What every link of one session last reported about itself: its delivery rate, the pieces it
 * still has to deliver and its round trip. The tail rules ({@code transfer.EndgameRule}) weigh a
 * link against the others with these figures; each link's pusher reports as it claims and gets
 * acks, and reads the others' reports here. A report older than {@value #FRESH_SECONDS} seconds
 * (a stalled or silent link) no longer counts among the others.
 *
 * <p>One per {@link Session}, written and read by the event loops of all its links: each report
 * is an immutable snapshot in a concurrent map, so no lock; a reader sees each link's latest.
 */
public final class RateBoard {
    static final int FRESH_SECONDS = 3;
    private static final long FRESH_NANOS = TimeUnit.SECONDS.toNanos(FRESH_SECONDS);

    private final long pieceSize;
    private final LongSupplier clock;
    private final Map<Integer, Report> reports = new ConcurrentHashMap<>();

    /**
     * A link's delivery rate, and what it still has to deliver: {@code unacked} pieces, being
     * delivered since {@code sinceNanos} (its last ack, or the claim that ended an idle spell;
     * 0: nothing outstanding); and its round trip in seconds as the client measured it (0: unknown).
     */
    private record Report(double bytesPerSecond, long atNanos, int unacked, long sinceNanos, double rttSeconds) {
        boolean fresh(long now) {
            return now - atNanos < FRESH_NANOS;
        }

        /** Bytes still to deliver, estimated: the outstanding pieces less what the rate has carried since. */
        double backlog(long now, long pieceSize) {
            if (unacked == 0 || sinceNanos == 0) {
                return 0;
            }
            return Math.max(0, unacked * (double) pieceSize - bytesPerSecond * (now - sinceNanos) / 1e9);
        }
    }

    /** The others' figures for the tail rules: one entry per link with a fresh report, in the same order in each array. */
    public record Others(double[] bytesPerSecond, double[] backlogBytes, double[] rttSeconds) {}

    /** A board for a session of {@code pieceSize}-byte pieces. */
    public RateBoard(long pieceSize) {
        this(pieceSize, System::nanoTime);
    }

    /** As {@link #RateBoard(long)}, with the time (nanoseconds, as {@link System#nanoTime}) from {@code clock}. */
    RateBoard(long pieceSize, LongSupplier clock) {
        this.pieceSize = pieceSize;
        this.clock = clock;
    }

    /**
     * A link's delivery rate in bytes/s (0: unknown or gone, forget the link) with its
     * outstanding pieces, since when it has been delivering them (nanoTime, 0: nothing
     * outstanding) and its round trip (seconds, 0: unknown).
     */
    public void report(int linkId, double bytesPerSecond, int unacked, long sinceNanos, double rttSeconds) {
        if (bytesPerSecond > 0) {
            reports.put(linkId, new Report(bytesPerSecond, clock.getAsLong(), unacked, sinceNanos, rttSeconds));
        } else {
            reports.remove(linkId);
        }
    }

    /** The link is gone: it no longer counts anywhere. */
    public void forget(int linkId) {
        reports.remove(linkId);
    }

    /** The links other than {@code linkId} with a fresh report. */
    public Others others(int linkId) {
        long now = clock.getAsLong();
        List<Report> others = new ArrayList<>();
        reports.forEach((id, r) -> {
            if (id != linkId && r.fresh(now)) {
                others.add(r);
            }
        });
        int n = others.size();
        Others out = new Others(new double[n], new double[n], new double[n]);
        for (int i = 0; i < n; i++) {
            out.bytesPerSecond()[i] = others.get(i).bytesPerSecond();
            out.backlogBytes()[i] = others.get(i).backlog(now, pieceSize);
            out.rttSeconds()[i] = others.get(i).rttSeconds();
        }
        return out;
    }

    /** The bytes a link still has to deliver, estimated from its last report (0 if unknown). */
    public double backlog(int linkId) {
        Report r = reports.get(linkId);
        return r == null ? 0 : r.backlog(clock.getAsLong(), pieceSize);
    }

    /** A link's last reported round trip in seconds (0 if unknown). */
    public double rtt(int linkId) {
        Report r = reports.get(linkId);
        return r == null ? 0 : r.rttSeconds();
    }

    /** A link's last reported rate in bytes/s, even if stale (0 if unknown). */
    public double rate(int linkId) {
        Report r = reports.get(linkId);
        return r == null ? 0 : r.bytesPerSecond();
    }

    /**
     * The shortest time in which a link with a fresh report, idle, would deliver a piece of
     * {@code bytes}: its round trip plus the piece at its rate (infinite if none is known).
     */
    public double soonestDelivery(double bytes) {
        long now = clock.getAsLong();
        double min = Double.POSITIVE_INFINITY;
        for (Report r : reports.values()) {
            if (r.fresh(now)) {
                min = Math.min(min, r.rttSeconds() + bytes / r.bytesPerSecond());
            }
        }
        return min;
    }

    /** Sum of the fresh reports' rates, bytes/s. */
    public double totalRate() {
        long now = clock.getAsLong();
        double sum = 0;
        for (Report r : reports.values()) {
            if (r.fresh(now)) {
                sum += r.bytesPerSecond();
            }
        }
        return sum;
    }
}
