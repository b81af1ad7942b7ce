package dev.biternet.client.link;

/**
 * How many TCP flows one link uses: a pure calculation, fed the link's byte count over time,
 * with no Netty in it.
 *
 * <p>One TCP flow fills a clean link, however long its round trip, but on a lossy one a
 * loss-based congestion control (cubic, reno: what most desktops run) holds each flow far
 * below the link's rate: its window halves at every loss. Several flows over the same
 * interface then carry several times more, which is why download managers open many
 * connections. Whether a link is such a link is not known beforehand, so it is measured: once
 * the link's first flow is past its start, the link's rate over a period is the baseline; the
 * flows are then doubled, and after they have settled the rate is measured again. A step
 * that raised the rate by at least {@value #MIN_GAIN} of the baseline, and above the best of the
 * link's last {@value #RECENT} baselines by as much (a baseline may have been a dip; without
 * the server's word on loss the first step waits for two), stays and the next one is
 * tried (a quadrupling when the new flows carried nearly as much as the old ones: the link is
 * far from full), up to {@link #maxFlows}; one that did not is undone (the added flows are
 * retired) and tried again after a pause that doubles with each failure, since links change.
 *
 * <p>Periods scale with the round trip (a satellite link settles in seconds, not in a fraction
 * of one). No step is tried near the end of the download (a new flow would not settle before
 * it), on a link held at its rate limit (more flows cannot pass the limit), nor on one whose
 * server says it retransmits almost nothing there (a full link, not a lossy one: a trial would
 * only crowd it).
 *
 * <p>Links that share a bottleneck (several links' connections to one HTTP mirror, whose
 * uplink is the limit) are looked at with {@link #sampleShared}: a step pays only if the whole
 * download gained {@value #MIN_GAIN} of this link's rate, since flows that only take from the
 * other links' share of the mirror raise this link's rate and nothing else; and one such link
 * tries a step at a time, so a gain is the step's own.
 */
public final class FlowCount {
    public static final int MAX_FLOWS = 16;
    /** A doubling must raise the link's rate by this fraction to stay. */
    static final double MIN_GAIN = 0.2;
    /**
     * Retransmitted over carried, over a baseline period, below which a link is taken as not
     * losing packets at random (a loss-based flow filling a queue loses far less than this once
     * past its start), so no step is tried. Random loss of 0.1 % already holds a cubic flow to
     * about 11 Mbit/s on a 40 ms round trip.
     */
    static final double MIN_LOSS = 0.001;
    /**
     * Under {@link #lossTolerant}, the least round trip below which a link keeps one flow however
     * much it retransmits: a loss costs a flow about a round trip, nothing on a LAN or loopback
     * (where a busy machine drops from its queues, and each flow costs 4 pieces of memory).
     */
    static final double SECOND_FLOW_MIN_RTT = 0.01;
    /** {@link #unknownSender}'s flows from the start on a link with a round trip. */
    static final int FIRST_WITH_RTT = 4;
    /**
     * {@link #unknownSender}'s flows from the start on a link whose round trip is at least
     * {@link #LONG_RTT} (a geostationary satellite's): each flow leaves its sender's start (ten
     * segments, doubling each round trip) seconds later there, and sixteen together reach the
     * link's rate about two round trips sooner than four. One 600 ms link, 16 MiB: 11.4 s
     * against 12.0 s (bench/lab/RESULTS.md run 156).
     */
    static final int FIRST_WITH_LONG_RTT = 16;
    static final double LONG_RTT = 0.2;
    /** New flows that each carry this share of what an old one does: the next step quadruples. */
    static final double FAST_GAIN = 0.6;
    /** After the first byte, the first flow's start (slow start, the window opening) is left alone this long. */
    static final double WARMUP_SECONDS = 0.5;
    static final double WARMUP_RTTS = 8;
    /** A rate is measured over this long. */
    static final double MEASURE_SECONDS = 0.5;
    static final double MEASURE_RTTS = 8;
    /** New flows connect, handshake, attach and leave slow start within this long. */
    static final double SETTLE_SECONDS = 0.3;
    static final double SETTLE_RTTS = 6;
    /**
     * After a step that did not pay, the next try waits this long, or this many round trips,
     * doubling with each failure up to a minute: on a lossy link one unlucky trial (a
     * retransmission timeout in the measuring period) must not end the ramp for good, while a
     * full link is asked again less and less often.
     */
    static final double FIRST_PAUSE_SECONDS = 2;
    static final double PAUSE_RTTS = 30;
    static final double MAX_PAUSE_SECONDS = 60;
    /** How many of the link's latest baseline rates a step must beat. */
    static final int RECENT = 3;

    private enum Phase { WARMUP, BASELINE, SETTLE, TRIAL, PAUSE, DONE }

    private final int maxFlows;
    /** {@link #lossTolerant}: a second flow once the server reports random loss, no trial, no more. */
    private final boolean secondOnLoss;
    /** {@link #unknownSender}: {@link #FIRST_WITH_RTT} flows at least, once the round trip is known to be one. */
    private boolean wideWithRtt;
    private Phase phase = Phase.WARMUP;
    private int flows = 1;
    private int before = 1;
    private double phaseStart = -1;
    private long phaseBytes;
    /** The download's bytes (all links) when the phase began; = {@link #phaseBytes} unless shared. */
    private long phaseTotal;
    /** The download's rate over the baseline period. */
    private double totalBaseline;
    private long phaseRetransmitted = -1;
    private double baseline;
    /**
     * The link's last {@value #RECENT} baseline rates with the flows it has (0: none yet): a step
     * must beat the best of them, not only the last, which may have been a dip.
     */
    private final double[] recent = new double[RECENT];
    private int recentNext;
    /** The next pause in first pauses: 1, 2, 4, ... */
    private double pause = 1;
    /** What the last look decided, for the verbose trace; null when it changed nothing. */
    private String event;

    /** Measured, from one flow up to {@code maxFlows}; 1: one flow, nothing to measure. */
    public FlowCount(int maxFlows) {
        this(maxFlows, false);
    }

    private FlowCount(int maxFlows, boolean secondOnLoss) {
        this.maxFlows = Math.max(1, Math.min(MAX_FLOWS, maxFlows));
        this.secondOnLoss = secondOnLoss;
        if (this.maxFlows == 1) {
            phase = Phase.DONE;
        }
    }

    /**
     * For a server whose congestion control random loss does not hold down (BBR): one flow fills
     * even a lossy link, nearly. Nearly: on 1 % loss one BBR flow carried 2.4 % less than on a
     * clean link of the same rate, and a second flow gave back a fifth of that, faster in every
     * round (bench/lab/RESULTS.md runs 108, 110). A gain that small cannot be judged in a trial
     * of half a second, so it is not tried: once the server says it retransmits at least
     * {@value #MIN_LOSS} of what the link carries over a baseline period, the link gets a second
     * flow and keeps it. A clean link, one without a round trip to speak of
     * ({@value #SECOND_FLOW_MIN_RTT} s), or a server that does not say, keeps one.
     */
    public static FlowCount lossTolerant() {
        return new FlowCount(2, true);
    }

    /** Exactly {@code n} flows from the start, nothing measured. */
    public static FlowCount fixed(int n) {
        FlowCount c = new FlowCount(n);
        c.flows = c.maxFlows;
        c.phase = Phase.DONE;
        return c;
    }

    /**
     * For a sender that does not say how it sends (a web server; an older biternet server): as
     * many flows as pay, and on a link with a round trip of {@value #SECOND_FLOW_MIN_RTT} s or
     * more, {@value #FIRST_WITH_RTT} from the start rather than one ({@value #FIRST_WITH_LONG_RTT}
     * from {@value #LONG_RTT} s, a satellite's round trip). More flows lose nothing
     * where one fills the link, and gain where loss holds one back under any congestion control
     * (BBR too, a little, see {@link #lossTolerant}); a trial cannot see a gain of a few percent,
     * and nothing tells the client whether the mirror's link loses packets. From one nginx over
     * the lossy mix under bbr: 10.11 s with two connections a link against 10.46 s measuring
     * from one (bench/lab/RESULTS.md run 116); on 256 MiB, four a link 38.42 s against two
     * 38.93 s and aria2c -x16's eight 38.47 s (runs 137, 140).
     */
    public static FlowCount unknownSender() {
        FlowCount c = new FlowCount(MAX_FLOWS);
        c.wideWithRtt = true;
        return c;
    }

    /**
     * One look at the link.
     *
     * @param seconds time since the download started
     * @param bytes payload the link received so far, all flows together
     * @param rtt the link's least round trip in seconds (0: not known yet)
     * @param nearEnd true when the rest of the file would be done before a step could be judged
     * @param atRateLimit true when the link runs at the rate limit the user set for it
     * @return the flows the link should use from now on
     */
    public int sample(double seconds, long bytes, double rtt, boolean nearEnd, boolean atRateLimit) {
        return sample(seconds, bytes, -1, rtt, nearEnd, atRateLimit);
    }

    /**
     * One look at the link, with what the server's TCP retransmitted on it so far
     * ({@code retransmitted}, all flows together; -1 where the server cannot tell). A link
     * that retransmits less than {@value #MIN_LOSS} of what it carries is not losing packets at
     * random: its one flow is held back by the link, not by losses, and no step is tried.
     */
    public int sample(double seconds, long bytes, long retransmitted, double rtt, boolean nearEnd, boolean atRateLimit) {
        return look(seconds, bytes, bytes, retransmitted, rtt, nearEnd, atRateLimit, true);
    }

    /**
     * One look at a link that shares its bottleneck with the download's other links (HTTP
     * mirrors): {@code totalBytes} is what every link of the download received so far; a step
     * is kept only if the download's rate rose by {@value #MIN_GAIN} of this link's, and none
     * is started while {@code othersTrying} (another link's step is being judged).
     */
    public int sampleShared(double seconds, long bytes, long totalBytes, double rtt, boolean nearEnd, boolean atRateLimit,
                            boolean othersTrying) {
        return look(seconds, bytes, totalBytes, -1, rtt, nearEnd, atRateLimit, !othersTrying);
    }

    /** True while a step is being tried: its flows settling or being measured. */
    public boolean trying() {
        return phase == Phase.SETTLE || phase == Phase.TRIAL;
    }

    /** The link's recent baselines were of another number of flows: none from now on. */
    private void forgetRecent() {
        java.util.Arrays.fill(recent, 0);
        recentNext = 0;
    }

    private int look(double seconds, long bytes, long total, long retransmitted, double rtt, boolean nearEnd,
                     boolean atRateLimit, boolean mayTry) {
        event = null;
        if (phase == Phase.DONE) {
            return flows;
        }
        if (wideWithRtt && rtt >= SECOND_FLOW_MIN_RTT && !nearEnd && !atRateLimit
                && (phase == Phase.WARMUP || phase == Phase.BASELINE)) {
            wideWithRtt = false;
            int first = rtt >= LONG_RTT ? FIRST_WITH_LONG_RTT : FIRST_WITH_RTT;
            if (flows < first) {
                flows = Math.min(maxFlows, first);
                before = flows;
                forgetRecent(); // rates of fewer flows
                event = String.format(java.util.Locale.ROOT, "%d flows (a round trip of %.0f ms)", flows, rtt * 1e3);
                return flows;
            }
        }
        if (phaseStart < 0) {
            if (bytes == 0) {
                return flows; // the warm-up starts with the first byte
            }
            enter(Phase.WARMUP, seconds, bytes, total, retransmitted);
        }
        double elapsed = seconds - phaseStart;
        double rate = elapsed > 0 ? (bytes - phaseBytes) / elapsed : 0;
        double totalRate = elapsed > 0 ? (total - phaseTotal) / elapsed : 0;
        switch (phase) {
            case WARMUP -> {
                if (elapsed >= Math.max(WARMUP_SECONDS, WARMUP_RTTS * rtt)) {
                    enter(Phase.BASELINE, seconds, bytes, total, retransmitted);
                }
            }
            case BASELINE -> {
                if (elapsed >= measureSeconds(rtt)) {
                    recent[recentNext++ % RECENT] = rate;
                    // Without the server's word on loss, the first step waits for a second
                    // baseline: one may be a dip. (A link the server says is lossy gains far
                    // more than a dip from its steps; one it says is clean is never tried.)
                    boolean once = recentNext < 2 && retransmitted < 0;
                    boolean clean = retransmitted >= 0 && phaseRetransmitted >= 0 && bytes > phaseBytes
                            && retransmitted - phaseRetransmitted < MIN_LOSS * (bytes - phaseBytes);
                    if (nearEnd || atRateLimit || rate <= 0 || clean || !mayTry || once
                            || secondOnLoss && (retransmitted < 0 || phaseRetransmitted < 0 || rtt < SECOND_FLOW_MIN_RTT)) {
                        enter(Phase.BASELINE, seconds, bytes, total, retransmitted); // look again later
                    } else if (secondOnLoss) {
                        flows = maxFlows;
                        phase = Phase.DONE;
                        event = String.format(java.util.Locale.ROOT, "%d flows (the server retransmits %.1f %% here)",
                                flows, 100.0 * (retransmitted - phaseRetransmitted) / (bytes - phaseBytes));
                    } else {
                        baseline = rate;
                        totalBaseline = totalRate;
                        before = flows;
                        flows = Math.min(maxFlows, 2 * flows);
                        event = String.format(java.util.Locale.ROOT, "trying %d flows (%d carry %.1f Mbit/s, round trip %.0f ms)",
                                flows, before, rate * 8 / 1e6, rtt * 1e3);
                        enter(Phase.SETTLE, seconds, bytes, total, retransmitted);
                    }
                }
            }
            case SETTLE -> {
                if (elapsed >= Math.max(SETTLE_SECONDS, SETTLE_RTTS * rtt)) {
                    enter(Phase.TRIAL, seconds, bytes, total, retransmitted);
                }
            }
            case TRIAL -> {
                if (elapsed >= measureSeconds(rtt)) {
                    // What the step added to the download (for a link alone: to the link).
                    double gain = totalRate - totalBaseline;
                    double best = baseline;
                    for (double r : recent) {
                        best = Math.max(best, r);
                    }
                    // And the link itself must carry MIN_GAIN more than its best recent
                    // baseline: a full link's rate moves by a tenth or more from one half second
                    // to the next (pieces, the other links), and a step judged against a dip
                    // was kept on a clean link, then the next, up to 16 flows (run 133).
                    if (gain >= MIN_GAIN * baseline && rate >= (1 + MIN_GAIN) * best) {
                        // It paid: keep the flows, and try the next step from this rate. New
                        // flows that carried nearly as much as the old ones each (a link far
                        // from full) make it a quadrupling.
                        double perOld = baseline / before;
                        double perNew = gain / (flows - before);
                        int factor = perNew >= FAST_GAIN * perOld ? 4 : 2;
                        event = String.format(java.util.Locale.ROOT, "%d flows kept (%.1f Mbit/s, +%.0f %%)",
                                flows, rate * 8 / 1e6, 100 * gain / baseline);
                        baseline = rate;
                        totalBaseline = totalRate;
                        forgetRecent();
                        recent[recentNext++] = rate;
                        if (flows >= maxFlows) {
                            phase = Phase.DONE;
                        } else if (!nearEnd) {
                            before = flows;
                            flows = Math.min(maxFlows, factor * flows);
                            enter(Phase.SETTLE, seconds, bytes, total, retransmitted);
                        } else {
                            phase = Phase.DONE;
                        }
                    } else {
                        event = String.format(java.util.Locale.ROOT, "back to %d flows (%d carried %.1f Mbit/s, %+.0f %%)",
                                before, flows, rate * 8 / 1e6, 100 * gain / baseline);
                        flows = before;
                        enter(Phase.PAUSE, seconds, bytes, total, retransmitted);
                    }
                }
            }
            case PAUSE -> {
                if (elapsed >= Math.min(MAX_PAUSE_SECONDS, Math.max(FIRST_PAUSE_SECONDS, PAUSE_RTTS * rtt) * pause)) {
                    pause *= 2;
                    enter(Phase.BASELINE, seconds, bytes, total, retransmitted);
                }
            }
            default -> { }
        }
        return flows;
    }

    /** What the last {@code sample} decided, in words (null: nothing changed). */
    public String event() {
        return event;
    }

    private static double measureSeconds(double rtt) {
        return Math.max(MEASURE_SECONDS, MEASURE_RTTS * rtt);
    }

    private void enter(Phase next, double seconds, long bytes, long total, long retransmitted) {
        phaseTotal = total;
        phase = next;
        phaseStart = seconds;
        phaseBytes = bytes;
        phaseRetransmitted = retransmitted;
    }
}
