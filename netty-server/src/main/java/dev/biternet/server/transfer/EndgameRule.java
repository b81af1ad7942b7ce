package dev.biternet.server.transfer;

/**
 * When an idle link should copy a piece still in flight on another link (the endgame): a pure
 * function of the piece's length, both links' delivery rates and how long the holder has had
 * the piece, so that it can be tested on its own.
 *
 * <p>The holder's time for a piece is modelled as (piece length + the socket's not-sent
 * low-water mark) / its rate: it claims a piece when what its socket still holds has drained
 * to that mark. A copy pays when:
 * <ul>
 *   <li>the holder's expected time left exceeds 1.5 times this link's time for the piece, plus
 *       the time this link needs for what it still has to deliver itself (a slow link's piece is
 *       copied early; one the holder has nearly delivered is left alone);
 *   <li>or the holder is late: past its expected time by more than this link's time for the
 *       piece and at least {@value #STALL_SECONDS} s (TCP's minimum retransmission timeout). A
 *       piece that late is most likely waiting on a retransmission timeout, whose backoff
 *       doubles: its remaining time is unknown, not small. Measured in the lab (40/20/2 Mbit/s,
 *       tbf): 1 to 6 timeouts per 128 MiB download, and a final piece on the 2 Mbit/s link
 *       acknowledged 1.3 s after its expected time while the other links idled.
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

    /**
     * @param length the piece's length in bytes
     * @param myRate this (idle) link's delivery rate, bytes/s; 0 if not measured yet
     * @param myBacklog what this link still has to deliver before a copy, bytes: the copy arrives
     *                  that much later. (Without it, on equal links the last piece was copied as
     *                  soon as it was claimed, by a link whose copy then queued behind a piece of
     *                  its own and arrived with the holder's: 128 KiB for nothing, in most lab
     *                  runs on 25/25/25.)
     * @param holderRate the holder's delivery rate, bytes/s; 0 if not measured yet
     * @param notSentLowat what the holder's socket may still hold when it claims a piece, bytes
     * @param ageSeconds how long the holder has had the piece
     */
    static boolean worthCopying(double length, double myRate, double myBacklog, double holderRate,
                                double notSentLowat, double ageSeconds) {
        if (myRate <= 0) {
            return true;
        }
        double mine = length / myRate;
        if (holderRate <= 0) {
            return ageSeconds >= 2 * mine;
        }
        double holderTime = (length + notSentLowat) / holderRate;
        double holderLeft = holderTime - ageSeconds;
        boolean late = -holderLeft > Math.max(mine, STALL_SECONDS);
        boolean overdue = ageSeconds > 2 * holderTime + OVERDUE_GRACE_SECONDS;
        return holderLeft > 1.5 * mine + myBacklog / myRate || late || overdue;
    }

    /**
     * Whether a link should leave the last {@code unclaimed} pieces to the others rather than
     * claim one: it refrains if, by list scheduling (each piece to the link that would deliver
     * it first), the last piece would be delivered later with this link taking one than with the
     * others taking them all. Each link first delivers its backlog; this link's claim waits
     * behind its own. Only the new pieces' delivery times count: what is in flight is delivered
     * (or copied) either way.
     *
     * @param otherRates the other links' rates, bytes/s (a link without one is left out)
     * @param otherBacklogs the bytes each other link still has to deliver, same order
     */
    static boolean refrain(double pieceBytes, double myRate, double myBacklog, double[] otherRates,
                           double[] otherBacklogs, int unclaimed) {
        if (unclaimed <= 0 || otherRates.length == 0) {
            return false;
        }
        double mine = (myBacklog + pieceBytes) / myRate;
        double with = Math.max(mine, lastDelivery(pieceBytes, otherRates, otherBacklogs, unclaimed - 1));
        double without = lastDelivery(pieceBytes, otherRates, otherBacklogs, unclaimed);
        return with > without;
    }

    /** When the last of {@code pieces} new pieces is delivered, each given to the link that delivers it first. */
    private static double lastDelivery(double pieceBytes, double[] rates, double[] backlogs, int pieces) {
        double[] free = new double[rates.length];
        for (int i = 0; i < rates.length; i++) {
            free[i] = backlogs[i] / rates[i];
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
