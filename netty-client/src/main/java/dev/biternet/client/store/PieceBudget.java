package dev.biternet.client.store;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many pieces a download's connections may hold in the client's memory beyond their own:
 * one budget shared by every link and flow of the download, as Flink's floating buffers are
 * shared by an input gate's channels. Each connection may always have {@value #OWN_PIECES}
 * pieces unacknowledged (its exclusive credit, the window it attaches with); a window above
 * that is granted to the server only for pieces taken from here first ({@link Share#afford}). A
 * connection that finds the budget spent keeps the window it has and asks again at its next
 * tick: it waits, nothing is allocated. What a connection takes comes back once the server can
 * no longer use it ({@link Share#acked}, {@link Share#close}).
 *
 * <p>So the pieces in memory (being gathered, hashed or written, each in one piece buffer)
 * never exceed {@value #OWN_PIECES} per connection plus {@link #capacity()}, whatever the
 * number of links, their round trips or the file size (docs/DESIGN.md, "What bounds the
 * client's memory").
 */
public final class PieceBudget {
    /** Bytes of pieces the connections share beyond their own. */
    public static final long SHARED_BYTES = 24L << 20;
    /** The pieces each connection may have unacknowledged without taking from the budget. */
    public static final int OWN_PIECES = 4;

    private final int capacity;
    private final AtomicInteger taken = new AtomicInteger();
    private final AtomicInteger peak = new AtomicInteger();

    /** A budget of {@link #SHARED_BYTES} in pieces of {@code pieceSize} bytes (at least one). */
    public static PieceBudget forPieceSize(int pieceSize) {
        return new PieceBudget((int) Math.max(1, SHARED_BYTES / pieceSize));
    }

    /** A budget of {@code pieces} shared pieces. */
    public PieceBudget(int pieces) {
        if (pieces < 0) {
            throw new IllegalArgumentException("negative budget " + pieces);
        }
        this.capacity = pieces;
    }

    /** The shared pieces, in all. */
    public int capacity() {
        return capacity;
    }

    /** Shared pieces taken now; any thread. */
    public int taken() {
        return taken.get();
    }

    /** The most shared pieces ever taken at once; any thread. */
    public int peak() {
        return peak.get();
    }

    /** A connection's part of the budget, confined to its event loop. */
    public Share share() {
        return new Share();
    }

    /** Takes up to {@code wanted} shared pieces; returns how many it got (0 when the budget is spent). */
    int take(int wanted) {
        while (true) {
            int now = taken.get();
            int got = Math.min(wanted, capacity - now);
            if (got <= 0) {
                return 0;
            }
            if (taken.compareAndSet(now, now + got)) {
                peak.accumulateAndGet(now + got, Math::max);
                return got;
            }
        }
    }

    /** Gives back {@code n} shared pieces. */
    void give(int n) {
        if (n > 0) {
            taken.addAndGet(-n);
        }
    }

    /**
     * What one connection holds of the budget. The window it grants the server is at most
     * {@value #OWN_PIECES} plus what it holds. A window lowered below that does not free the
     * difference at once: the server may still have that many pieces unacknowledged (it has
     * not read the new window yet, or sent under the old one). Each ack written after the new
     * window returns one piece to the server's window accounting, so each gives one back here
     * until what is held fits the window again.
     */
    public final class Share {
        private int held;

        private Share() {}

        /** The window this connection may grant when it wants {@code wanted}: takes what it lacks, if there is any. */
        public int afford(int wanted) {
            int lacking = wanted - OWN_PIECES - held;
            if (lacking > 0) {
                held += take(lacking);
            }
            return Math.min(wanted, OWN_PIECES + held);
        }

        /** An ack went out while the granted window was {@code window}. */
        public void acked(int window) {
            if (held > Math.max(0, window - OWN_PIECES)) {
                held--;
                give(1);
            }
        }

        /** The connection is closed: the server sends it nothing more. */
        public void close() {
            give(held);
            held = 0;
        }

        /** Shared pieces this connection holds. */
        public int held() {
            return held;
        }
    }
}
