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
 * caps never sum past the link's.
 */
final class LinkShares {
    /**
     * How long a source may have no channel up on the link before its part goes to the others:
     * longer than a lost connection takes to come back (the first four reconnects, 0.25 to 2 s
     * apart, take 3.75 s), so a blip shuffles nothing.
     */
    static final long GONE_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final long cap;
    private final long rate;
    private final long[] caps;
    private final long[] rates;
    /** When each source last had a channel up on the link (the start counts as up). */
    private final long[] lastUp;
    private final boolean[] gone;
    private final boolean[] up;

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
     * @param up per source, whether a channel of the link to it holds a part of the link at
     *           its server (attached, or its Attach sent)
     * @param out per source, whether it is left out for good (refused, dropped): gone as soon as
     *            no channel of it is up, without waiting
     * @param raisable per source, whether it takes a new cap and rate while it runs (a server
     *                 whose Welcome says link_limits); another keeps its part
     * @param freeze keeps a leaving source's cap to what it carried
     */
    void judge(long now, boolean[] up, boolean[] out, boolean[] raisable, Freeze freeze) {
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
            return;
        }
        long pool = cap - capsSum;
        long rateLeft = Math.max(live, rate - fixedRates);
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (!taking(i, raisable)) {
                continue;
            }
            if (cap > 0 && pool > 0) {
                caps[i] += pool / live + (k < pool % live ? 1 : 0);
            }
            if (rate > 0) {
                rates[i] = rateLeft / live + (k < rateLeft % live ? 1 : 0);
            }
            k++;
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
