package dev.biternet.client;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * How one link's cap and rate ({@code --iface NAME:cap=SIZE,rate=RATE}) are shared by a
 * download's sources, judged again at each look from what each source carried on the link and
 * whether it is up there. Pure: no Netty, no clock of its own; one caller (the download's
 * supervising thread). The rules and why they are safe are in docs/DESIGN.md, "Caps and rates
 * across sources".
 *
 * <p>In short: each source starts with an even part. A source gone from the link (left out,
 * dropped, or no channel up there for {@link #GONE_NANOS}) keeps as cap what it carried, and
 * the rest of the link's cap and its rate go to the live sources that can take a change
 * ({@code raisable}); a live source's cap only ever grows, so whatever the messages' timing the
 * caps never sum past the link's. The rate is divided among the live sources each second, a
 * source held back elsewhere leaving what it does not use to those that would use more.
 */
final class LinkShares {
    /**
     * How long a source may have no channel up on the link before its part goes to the others:
     * longer than a lost connection takes to come back (the first four reconnects, 0.25 to 2 s
     * apart, take 3.75 s), so a blip shuffles nothing.
     */
    static final long GONE_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** How often the rate is divided again from what each source delivered. */
    static final long RATE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /**
     * A source that delivered this share of its rate or more is taken as held by it (it would
     * use more); a source below is held elsewhere and its unused rate goes to the others.
     */
    static final double USING = 0.7;

    private final long cap;
    private final long rate;
    private final long[] caps;
    private final long[] rates;
    /** When each source last had a channel up on the link (the start counts as up). */
    private final long[] lastUp;
    private final boolean[] gone;
    private final boolean[] up;
    /** Each source's payload on the link and the time at the last rate judgement, and its rate since the one before. */
    private final long[] lastCarried;
    private long lastRateNanos;
    private final double[] measured;
    /** Which sources took a part of the rate at the last division (a change divides again at once). */
    private final boolean[] lastTaking;

    /** Keeps a gone source's cap to what it carried, at the source's side (its link's next Attach). */
    interface Freeze {
        /**
         * Source {@code source} leaves the link: its cap becomes what it carried, at most
         * {@code cap}; returns that cap, or -1 if a channel of it attached meanwhile (it stays).
         */
        long at(int source, long cap);
    }

    /**
     * @param cap the link's cap over all sources, bytes (0: none)
     * @param rate the link's rate over all sources, bytes per second (0: none)
     * @param sources how many sources share the link
     * @param now System.nanoTime at the start
     */
    LinkShares(long cap, long rate, int sources, long now) {
        this.cap = cap;
        this.rate = rate;
        this.caps = new long[sources];
        this.rates = new long[sources];
        this.lastUp = new long[sources];
        this.gone = new boolean[sources];
        this.up = new boolean[sources];
        this.lastCarried = new long[sources];
        this.measured = new double[sources];
        this.lastTaking = new boolean[sources];
        this.lastRateNanos = now;
        Arrays.fill(caps, even(cap, sources));
        Arrays.fill(rates, even(rate, sources));
        Arrays.fill(lastUp, now);
    }

    /** A part of {@code total} for each of {@code n}: what every source starts with (0 stays 0: none). */
    static long even(long total, int n) {
        return total == 0 ? 0 : Math.max(1, total / n);
    }

    /**
     * One look.
     *
     * @param now System.nanoTime
     * @param carried per source, its payload over the link so far
     * @param up per source, whether a channel of the link to it holds a part of the link at
     *           its server (attached, or its Attach sent)
     * @param out per source, whether it is left out for good (refused, dropped): gone as soon as
     *            no channel of it is up, without waiting
     * @param raisable per source, whether it takes a new cap and rate while it runs (a server
     *                 whose Welcome says link_limits); another keeps its part
     * @param freeze keeps a leaving source's cap to what it carried
     */
    void judge(long now, long[] carried, boolean[] up, boolean[] out, boolean[] raisable, Freeze freeze) {
        int n = caps.length;
        for (int i = 0; i < n; i++) {
            this.up[i] = up[i];
            if (up[i]) {
                lastUp[i] = now;
                gone[i] = false; // back: live again, with the cap it kept
            } else if (!gone[i] && (out[i] || now - lastUp[i] >= GONE_NANOS)) {
                // Nothing more arrives from it: what it did not carry goes to the others.
                long kept = cap > 0 ? freeze.at(i, caps[i]) : 0;
                if (kept < 0) {
                    this.up[i] = true;
                    lastUp[i] = now;
                    continue;
                }
                gone[i] = true;
                if (cap > 0) {
                    caps[i] = Math.min(caps[i], kept);
                }
            }
        }
        int live = 0;
        long fixedRates = 0;
        long capsSum = 0;
        for (int i = 0; i < n; i++) {
            capsSum += caps[i];
            if (taking(i, raisable)) {
                live++;
            } else {
                // A gone source's rate: the least there is, for the moment it may come back; a
                // source that cannot change keeps its own.
                if (gone[i] && raisable[i]) {
                    rates[i] = rate == 0 ? 0 : 1;
                }
                fixedRates += rates[i];
            }
        }
        if (live == 0) {
            // None takes a part now: one that comes back is a change, and divides the rate again at once.
            Arrays.fill(lastTaking, false);
            return;
        }
        long pool = cap - capsSum;
        int k = 0;
        for (int i = 0; i < n && cap > 0 && pool > 0; i++) {
            if (taking(i, raisable)) {
                caps[i] += pool / live + (k++ < pool % live ? 1 : 0);
            }
        }
        if (rate > 0) {
            divideRate(now, carried, raisable, live, Math.max(live, rate - fixedRates));
        }
    }

    /**
     * The rate the live sources take ({@code avail}) divided among them: evenly, except that a
     * source that used less than {@link #USING} of its part over the last {@link #RATE_NANOS}
     * while another used its own whole (limited elsewhere: its uplink, its server) keeps twice
     * what it used (at least an eighth of an even part, at most one), and the others share the
     * rest. Judged once per {@link #RATE_NANOS}, and again at once when a source comes or goes.
     */
    private void divideRate(long now, long[] carried, boolean[] raisable, int live, long avail) {
        int n = rates.length;
        boolean fresh = now - lastRateNanos >= RATE_NANOS;
        boolean sameSet = true;
        for (int i = 0; i < n; i++) {
            sameSet &= lastTaking[i] == taking(i, raisable);
            lastTaking[i] = taking(i, raisable);
        }
        if (fresh) {
            for (int i = 0; i < n; i++) {
                measured[i] = (carried[i] - lastCarried[i]) * 1e9 / (now - lastRateNanos);
                lastCarried[i] = carried[i];
            }
            lastRateNanos = now;
        } else if (sameSet) {
            return; // the last division holds until a new measure
        }
        long even = avail / live;
        boolean[] using = new boolean[n];
        int usingCount = 0;
        for (int i = 0; i < n; i++) {
            // Measured under the parts it is judged against only if no source came or went.
            using[i] = taking(i, raisable) && (!(fresh && sameSet) || measured[i] >= USING * rates[i]);
            usingCount += using[i] ? 1 : 0;
        }
        long given = 0;
        if (usingCount > 0 && usingCount < live) {
            for (int i = 0; i < n; i++) {
                if (taking(i, raisable) && !using[i]) {
                    rates[i] = Math.max(Math.max(1, even / 8), Math.min(even, (long) (2 * measured[i])));
                    given += rates[i];
                }
            }
        } else {
            for (int i = 0; i < n; i++) {
                using[i] = taking(i, raisable);
            }
            usingCount = live;
        }
        long rest = avail - given;
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (using[i]) {
                rates[i] = rest / usingCount + (k++ < rest % usingCount ? 1 : 0);
            }
        }
    }

    private boolean taking(int i, boolean[] raisable) {
        return !gone[i] && raisable[i];
    }

    /** Source {@code i}'s cap on the link now (0: none). */
    long cap(int i) {
        return caps[i];
    }

    /** Source {@code i}'s rate on the link now (0: none). */
    long rate(int i) {
        return rates[i];
    }

    /** True once source {@code i} counts as gone from the link (its part handed on). */
    boolean gone(int i) {
        return gone[i];
    }

    /**
     * True while a source is down on the link but not gone yet: the cap it did not carry may go
     * to the others once it is, so the link is not out of cap before then.
     */
    boolean pending() {
        for (int i = 0; i < caps.length; i++) {
            if (!gone[i] && !up[i]) {
                return true;
            }
        }
        return false;
    }
}
