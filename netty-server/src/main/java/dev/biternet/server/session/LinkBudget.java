package dev.biternet.server.session;

/**
 * The data cap and the rate limit of one client link, shared by every channel the link opened
 * to a session. A client may carry one link (one interface) over several TCP connections
 * (Attach.flow_group): on a lossy path several flows together get more than one, and the
 * user's cap and rate are the interface's, not each connection's.
 *
 * <p>The cap is booked when a channel starts a piece, for the whole piece, so no piece starts
 * that could take the link past its cap; bytes a channel did not send after all (the piece was
 * verified elsewhere, the channel closed) are given back. The rate is one pacing clock: each
 * block books its transmission time at the limit, whichever channel sends it.
 *
 * <p>A client with several sources moves a link's cap and rate between them while they run
 * (LinkLimits, PROTOCOL.md section 9): the cap only grows, by how much the client's running
 * total of what it added passes the largest total seen, so a repeated or late message adds
 * nothing twice; the rate is replaced. A link without a cap keeps none.
 *
 * <p>Thread-safe: the channels of one link may live on different event loops.
 */
public final class LinkBudget {
    /** Set at construction: a link without a cap never gets one (no lock on its claim path). */
    private final boolean capped;
    private long capBytes;
    /** The largest LinkLimits.cap_added seen (the creating Attach's first), for {@link #limit}. */
    private long capAdded;
    private volatile long rateLimit;
    /** Bytes of pieces started by the link's channels, minus what was given back. */
    private long booked;
    /** When the link's next block may go (System.nanoTime), with a rate limit. */
    private long nextBlockNanos;
    /** Channels attached with this budget; the session forgets it when the last one leaves. */
    private int members;

    /**
     * @param capBytes at most this much piece payload over the link (0: no cap)
     * @param rateLimit at most this many bytes per second over the link (0: no limit)
     */
    public LinkBudget(long capBytes, long rateLimit) {
        this(capBytes, rateLimit, 0);
    }

    /** @param capAdded the Attach's cap_added: what {@code capBytes} already includes of the client's raises */
    public LinkBudget(long capBytes, long rateLimit, long capAdded) {
        this.capBytes = Math.max(0, capBytes);
        this.capped = this.capBytes > 0;
        this.rateLimit = Math.max(0, rateLimit);
        this.capAdded = unsigned(capAdded);
    }

    /** A uint64 from the wire as a long: past Long.MAX_VALUE is Long.MAX_VALUE. */
    private static long unsigned(long wire) {
        return wire < 0 ? Long.MAX_VALUE : wire;
    }

    public boolean capped() {
        return capped;
    }

    public synchronized long capBytes() {
        return capBytes;
    }

    public long rateLimit() {
        return rateLimit;
    }

    /**
     * Books a piece of {@code length} bytes if the link may still carry a piece of
     * {@code pieceSize} (every piece but the last has that size: the check is the same for all).
     */
    public boolean book(long length, long pieceSize) {
        if (!capped) {
            return true; // no cap: nothing to count, no lock on the claim path
        }
        synchronized (this) {
            if (booked + pieceSize > capBytes) {
                return false;
            }
            booked += length;
            return true;
        }
    }

    /** Gives back {@code bytes} booked but never sent. */
    public void giveBack(long bytes) {
        if (!capped) {
            return;
        }
        synchronized (this) {
            booked = Math.max(0, booked - bytes);
        }
    }

    /**
     * Books the transmission of a block of {@code bytes} at the link's rate: 0 if it may go now
     * (booked), else the nanoseconds to wait before asking again (nothing booked).
     */
    public long pace(long nowNanos, long bytes) {
        if (rateLimit == 0) {
            return 0; // no limit: no lock on the per-block path
        }
        synchronized (this) {
            long rateLimit = this.rateLimit;
            if (nowNanos < nextBlockNanos) {
                return nextBlockNanos - nowNanos;
            }
            nextBlockNanos = Math.max(nowNanos, nextBlockNanos) + (long) (bytes * 1e9 / rateLimit);
            return 0;
        }
    }

    /**
     * LinkLimits (uint64s as they came): the cap grows by what {@code capAdded} passes the largest
     * seen (saturating; nothing for a link without a cap), and a nonzero {@code rateLimit} is the
     * link's rate from now on (its next block may go at once: a block booked at a rate of a few
     * bytes a second must not hold the link for hours). True if either changed (flows held back
     * may send again).
     */
    public synchronized boolean limit(long capAdded, long rateLimit) {
        boolean changed = false;
        long rate = unsigned(rateLimit);
        if (rate != 0 && rate != this.rateLimit) {
            this.rateLimit = rate;
            nextBlockNanos = Math.min(nextBlockNanos, System.nanoTime());
            changed = true;
        }
        long added = unsigned(capAdded);
        if (capped && added > this.capAdded) {
            long raise = added - this.capAdded;
            this.capAdded = added;
            capBytes = capBytes > Long.MAX_VALUE - raise ? Long.MAX_VALUE : capBytes + raise;
            changed = true;
        }
        return changed;
    }

    synchronized void join() {
        members++;
    }

    /** True when the last member left. */
    synchronized boolean leave() {
        return --members == 0;
    }
}
