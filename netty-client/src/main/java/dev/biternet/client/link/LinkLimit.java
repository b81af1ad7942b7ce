package dev.biternet.client.link;

import java.util.function.LongSupplier;

/**
 * The cap and rate one link has at one server now: the user's ({@code --iface}) for a download
 * from one server, its part of them with several sources, changed while the download runs
 * (docs/DESIGN.md, "Caps and rates across sources"). Every Attach of the link's connections
 * carries it ({@link #hold}); a server that honours LinkLimits gets each change as it is made.
 * It counts the connections whose Attach went out and that are not closed: while one is, the
 * server holds the link to what that Attach said, so the cap is not taken back ({@link #freeze}
 * then refuses). Thread-safe.
 */
public final class LinkLimit {
    /**
     * @param capBytes what the link may carry from this server over the download (0: no cap)
     * @param rateLimit bytes per second (0: no limit)
     * @param capAdded what {@link #set} added to the cap so far (LinkLimits.cap_added)
     */
    public record Now(long capBytes, long rateLimit, long capAdded) {
        /** True once a link that carried {@code carried} cannot take another piece of {@code pieceSize}. */
        public boolean capReached(long carried, long pieceSize) {
            return capBytes > 0 && carried + pieceSize > capBytes;
        }
    }

    private Now now;
    /** Connections whose Attach went out with a part of this cap and that are not closed. */
    private int holders;

    public LinkLimit(LinkOptions options) {
        this.now = new Now(options.capBytes(), options.rateLimit(), 0);
    }

    public synchronized Now now() {
        return now;
    }

    /** A connection attaches with the limit now; it holds it at the server until {@link #release}. */
    synchronized Now hold() {
        holders++;
        return now;
    }

    /** A connection that {@link #hold}s closed. */
    synchronized void release() {
        holders--;
    }

    /** True while a connection of the link holds a part of it at the server (attached, or attaching). */
    public synchronized boolean held() {
        return holders > 0;
    }

    /**
     * A new part: the cap only grows (a smaller one is ignored; none stays none), the rate is
     * replaced (0: unchanged). True if either changed.
     */
    public synchronized boolean set(long capBytes, long rateLimit) {
        long cap = now.capBytes() == 0 ? 0 : Math.max(now.capBytes(), capBytes);
        long rate = rateLimit == 0 ? now.rateLimit() : rateLimit;
        if (cap == now.capBytes() && rate == now.rateLimit()) {
            return false;
        }
        now = new Now(cap, rate, now.capAdded() + cap - now.capBytes());
        return true;
    }

    /**
     * The link leaves this server: unless a connection holds a part of it, its cap becomes what
     * it carried ({@code carried}, read now that nothing more arrives), at most {@code cap};
     * returns that cap, or -1 if a connection holds. A cap of 0 would mean none: 1 byte stands
     * for nothing.
     */
    public synchronized long freeze(long cap, LongSupplier carried) {
        if (holders > 0) {
            return -1;
        }
        long kept = Math.max(1, Math.min(Math.min(cap, now.capBytes()), carried.getAsLong()));
        now = new Now(kept, now.rateLimit(), now.capAdded());
        return kept;
    }
}
