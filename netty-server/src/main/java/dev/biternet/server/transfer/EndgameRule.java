package dev.biternet.server.transfer;

/**
 * The end-of-download rules, as pure functions of the links' delivery rates, round trips and
 * backlogs, so that they can be tested on their own: when an idle link should copy a piece
 * still in flight on another link ({@link #worthCopying}), and when a link should leave the last
 * pieces to the others ({@link #refrain}).
 *
 * <p>A link delivers a piece claimed now once what it still has outstanding has drained, or
 * one round trip from now if that is longer (the piece must cross the link and its ack come
 * back, however empty the link is), plus the piece's own transmission time:
 * {@code max(backlog / rate, rtt) + length / rate}. The round trip is the client's smoothed
 * measurement, queueing included, so a long link or one behind a deep queue is seen to deliver
 * late even when idle; on a link with a full pipe the backlog term already holds the round trip.
 *
 * <p>The holder's expected time for a piece is its round trip plus (piece length + the socket's
 * not-sent low-water mark) / its rate: it claims a piece when what its socket still holds has
 * drained to that mark. A copy pays when:
 * <ul>
 *   <li>the holder's expected time left exceeds 1.5 times this link's time for the piece plus
 *       the time before this link could start delivering it (a slow link's piece is copied
 *       early; one the holder has nearly delivered is left alone);
 *   <li>or the holder is late: past its expected time by more than this link would need for the
 *       piece, and at least {@value #STALL_SECONDS} s (TCP's minimum retransmission timeout). A
 *       piece that late is most likely waiting on a retransmission timeout, whose backoff
 *       doubles: its remaining time is unknown, not small;
 *   <li>or the holder is overdue: past twice its expected time and another
 *       {@value #OVERDUE_GRACE_SECONDS} s (a link gone silent), even if this link is slower
 *       than the holder was.
 * </ul>
 * Without the holder's rate the piece must have been in flight for twice this link's time for
 * it; without this link's rate any piece is worth copying.
 */
final class EndgameRule {
    /** A holder this far past its expected time (at least) is taken to have stalled. */
    static final double STALL_SECONDS = 0.2;
    /** Past twice its expected time and this, a holder has stalled even for a much slower copier. */
    static final double OVERDUE_GRACE_SECONDS = 0.5;

    private EndgameRule() {}

    /** Seconds before a link could start delivering a piece claimed now (see the class doc). */
    static double start(double rate, double backlog, double rtt) {
        return Math.max(backlog / rate, rtt);
    }

    /**
     * @param length the piece's length in bytes
     * @param myRate this (idle) link's delivery rate, bytes/s; 0 if not measured yet
     * @param myBacklog what this link still has to deliver before a copy, bytes: the copy arrives
     *                  that much later (without it, on equal links the last piece was copied as
     *                  soon as it was claimed, by a link whose copy then arrived with the holder's)
     * @param myRtt this link's round trip, seconds (0: unknown)
     * @param holderRate the holder's delivery rate, bytes/s; 0 if not measured yet
     * @param holderRtt the holder's round trip, seconds (0: unknown)
     * @param notSentLowat what the holder's socket may still hold when it claims a piece, bytes
     * @param ageSeconds how long the holder has had the piece
     */
    static boolean worthCopying(double length, double myRate, double myBacklog, double myRtt, double holderRate,
                                double holderRtt, double notSentLowat, double ageSeconds) {
        if (myRate <= 0) {
            return true;
        }
        double mine = length / myRate;
        double myDelivery = start(myRate, myBacklog, myRtt) + mine;
        if (holderRate <= 0) {
            return ageSeconds >= 2 * myDelivery;
        }
        double holderTime = holderRtt + (length + notSentLowat) / holderRate;
        double holderLeft = holderTime - ageSeconds;
        boolean late = -holderLeft > Math.max(myDelivery, STALL_SECONDS);
        boolean overdue = ageSeconds > 2 * holderTime + OVERDUE_GRACE_SECONDS;
        return holderLeft > myDelivery + 0.5 * mine || late || overdue;
    }

    /**
     * Whether a link should leave the last {@code unclaimed} pieces to the others rather than
     * claim one: it refrains if, by list scheduling (each piece to the link that would deliver
     * it first), the last piece would be delivered later with this link taking one than with the
     * others taking them all. Each link first delivers its backlog (or waits a round trip); this
     * link's claim waits behind its own. Only the new pieces' delivery times count: what is in
     * flight is delivered (or copied) either way.
     *
     * @param otherRates the other links' rates, bytes/s (a link without one is left out)
     * @param otherBacklogs the bytes each other link still has to deliver, same order
     * @param otherRtts each other link's round trip in seconds (0: unknown), same order
     */
    static boolean refrain(double pieceBytes, double myRate, double myBacklog, double myRtt, double[] otherRates,
                           double[] otherBacklogs, double[] otherRtts, int unclaimed) {
        if (unclaimed <= 0 || otherRates.length == 0) {
            return false;
        }
        double mine = start(myRate, myBacklog, myRtt) + pieceBytes / myRate;
        double with = Math.max(mine, lastDelivery(pieceBytes, otherRates, otherBacklogs, otherRtts, unclaimed - 1));
        double without = lastDelivery(pieceBytes, otherRates, otherBacklogs, otherRtts, unclaimed);
        return with > without;
    }

    /** When the last of {@code pieces} new pieces is delivered, each given to the link that delivers it first. */
    private static double lastDelivery(double pieceBytes, double[] rates, double[] backlogs, double[] rtts, int pieces) {
        double[] free = new double[rates.length];
        for (int i = 0; i < rates.length; i++) {
            free[i] = start(rates[i], backlogs[i], rtts[i]);
        }
        double last = 0;
        for (int n = 0; n < pieces; n++) {
            int best = 0;
            for (int i = 1; i < rates.length; i++) {
                if (free[i] + pieceBytes / rates[i] < free[best] + pieceBytes / rates[best]) {
                    best = i;
                }
            }
            free[best] += pieceBytes / rates[best];
            last = Math.max(last, free[best]);
        }
        return last;
    }
}
