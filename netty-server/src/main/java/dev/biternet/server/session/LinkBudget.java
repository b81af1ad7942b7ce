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
 * <p>Thread-safe: the channels of one link may live on different event loops.
 */
public final class LinkBudget {
    private final long capBytes;
    private final long rateLimit;
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
        this.capBytes = Math.max(0, capBytes);
        this.rateLimit = Math.max(0, rateLimit);
    }

    public long capBytes() {
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
        if (capBytes == 0) {
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
        if (capBytes == 0) {
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
            if (nowNanos < nextBlockNanos) {
                return nextBlockNanos - nowNanos;
            }
            nextBlockNanos = Math.max(nowNanos, nextBlockNanos) + (long) (bytes * 1e9 / rateLimit);
            return 0;
        }
    }

    synchronized void join() {
        members++;
    }

    /** True when the last member left. */
    synchronized boolean leave() {
        return --members == 0;
    }
}
