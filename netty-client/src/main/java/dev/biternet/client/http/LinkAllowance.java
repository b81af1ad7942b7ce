package dev.biternet.client.http;

import dev.biternet.client.link.LinkOptions;

/**
 * What one link may carry in an HTTP download and how fast, counted over all its channels to
 * all mirrors. A biternet server holds a link to its cap and rate; a mirror does not, so the
 * client does: a range is asked for only if its bytes fit under the cap beside what the link
 * received and has asked for ({@link LinkOptions#capReached}), and the link's connections stop
 * reading while the link is ahead of its rate ({@link ReadPacer}). Beside biternet servers its cap
 * and rate are the mirrors' part of the link's, which the download changes as sources come and go
 * ({@link #limit}, {@link #freeze}). Thread-safe: a link's channels run on several event loops.
 */
public final class LinkAllowance {
    private final java.util.List<Runnable> raises = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile LinkOptions options;
    /** Response body bytes received plus those asked for and not received yet. */
    private long committed;
    /** The time (nanoTime) by which the bytes read so far are paid for at the rate; valid once reading started. */
    private long paidUntil;
    private boolean reading;

    public LinkAllowance(LinkOptions options) {
        this.options = options;
    }

    /** A link without cap or rate. */
    public static LinkAllowance unlimited() {
        return new LinkAllowance(LinkOptions.NONE);
    }

    public boolean paced() {
        return options.rateLimit() > 0;
    }

    /** Bytes per second the link may read now (0: no limit). */
    public long rateLimit() {
        return options.rateLimit();
    }

    /**
     * True while the rate holds the link back: its reads are paid for until after {@code now}
     * (more connections would not carry more).
     */
    public synchronized boolean atRate(long now) {
        return paced() && reading && paidUntil > now;
    }

    /** Takes {@code bytes} of the cap for a request; false (nothing taken) if they would pass it. */
    public synchronized boolean reserve(long bytes) {
        if (options.capReached(committed, bytes)) {
            return false;
        }
        committed += bytes;
        return true;
    }

    /**
     * A new part of the link: the cap only grows (none stays none; a range already refused is not
     * asked for again by its channel), the rate is replaced (0: unchanged).
     */
    public void limit(long capBytes, long rateLimit) {
        boolean raised;
        synchronized (this) {
            LinkOptions o = options;
            options = o.withCap(o.capBytes() == 0 ? 0 : Math.max(o.capBytes(), capBytes))
                    .withRate(rateLimit == 0 ? o.rateLimit() : rateLimit);
            raised = options.capBytes() > o.capBytes();
        }
        if (raised) {
            // Outside the lock: a channel taking pieces again reserves through it.
            raises.forEach(Runnable::run);
        }
    }

    /** Runs {@code r} each time {@link #limit} raises the cap (a channel stopped at the cap may go on). */
    public void onRaise(Runnable r) {
        raises.add(r);
    }

    /**
     * The mirrors leave the link: its cap becomes what they received and have asked for (what is
     * asked for may still come), at most {@code capBytes}; returns that cap (at least 1: 0 would
     * mean none).
     */
    public synchronized long freeze(long capBytes) {
        long kept = Math.max(1, Math.min(Math.min(capBytes, options.capBytes()), committed));
        options = options.withCap(kept);
        return kept;
    }

    /** The cap now (0: none). */
    public long capBytes() {
        return options.capBytes();
    }

    /** Gives back what a failed request asked for and did not receive. */
    public synchronized void giveBack(long bytes) {
        committed -= bytes;
    }

    /**
     * The link read {@code bytes} at {@code now}: how many nanoseconds its connections must wait
     * before reading again to stay within the rate (0: at once). Time spent idle is not saved up.
     */
    public synchronized long pace(long bytes, long now) {
        if (!paced()) {
            return 0;
        }
        paidUntil = (reading ? Math.max(paidUntil, now) : now) + bytes * 1_000_000_000L / options.rateLimit();
        reading = true;
        return Math.max(0, paidUntil - now);
    }
}
