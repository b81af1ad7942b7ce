package dev.biternet.server.session;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * The in-process {@link PieceAllocator}: a small state machine per piece under one lock. Claims
 * are O(1) amortised (a cursor over never-claimed pieces plus a queue of released ones); the
 * endgame scans only the pieces in flight, which are bounded by the links' windows. In
 * client-claims mode ({@link #useClientClaims}) the pieces it may hand out are a bit set the
 * client's grants fill and its withdrawals and the claims empty.
 */
public final class LocalPieceAllocator implements PieceAllocator {
    private static final byte UNCLAIMED = 0;
    private static final byte CLAIMED = 1;
    private static final byte DONE = 2;
    /** At most this many links hold the same piece at once (the original plus one endgame copy). */
    private static final int MAX_HOLDERS = 2;

    private final int pieceCount;
    private final byte[] state;
    /** In-flight pieces and their holders, oldest claim first. */
    private final LinkedHashMap<Integer, InFlight> inFlight = new LinkedHashMap<>();
    private final PriorityQueue<Integer> released = new PriorityQueue<>();
    private int cursor;
    private int available;
    private int remaining;
    private long duplicates;
    private final Listener listener;
    /** Client-claims mode: what the client granted and did not withdraw (null: the allocator's own choice). */
    private java.util.BitSet granted;
    /** Client-claims mode: granted pieces no link holds and not done, the ones a claim may take. */
    private java.util.BitSet claimable;
    /** Client-claims mode: the client's last grant said no piece is left unassigned, so copies may be made. */
    private boolean clientEndgame;

    public LocalPieceAllocator(int pieceCount) {
        this(pieceCount, Listener.NONE);
    }

    public LocalPieceAllocator(int pieceCount, Listener listener) {
        this.listener = listener;
        this.pieceCount = pieceCount;
        this.state = new byte[pieceCount];
        this.remaining = pieceCount;
    }

    @Override
    public synchronized int claim(int linkId, EndgamePolicy endgame) {
        if (granted != null) {
            int index = claimable.nextSetBit(0);
            if (index >= 0 && index < available) {
                return take(index, linkId, ClaimKind.NEW);
            }
            if (!clientEndgame) {
                return NONE;
            }
            return copy(linkId, endgame);
        }
        while (!released.isEmpty()) {
            int index = released.poll();
            if (state[index] == UNCLAIMED) {
                return take(index, linkId, ClaimKind.RECLAIMED);
            }
        }
        while (cursor < available) {
            int index = cursor++;
            if (state[index] == UNCLAIMED) {
                return take(index, linkId, ClaimKind.NEW);
            }
        }
        return copy(linkId, endgame);
    }

    /** The endgame: a second copy of the oldest in-flight piece {@code endgame} accepts, or NONE. */
    private int copy(int linkId, EndgamePolicy endgame) {
        if (available < pieceCount) {
            return NONE;
        }
        long now = System.nanoTime();
        for (Map.Entry<Integer, InFlight> e : inFlight.entrySet()) {
            InFlight f = e.getValue();
            if (f.holders.length < MAX_HOLDERS && !contains(f.holders, linkId)
                    && endgame.worthCopying(e.getKey(), f.holders[0], now - f.claimedAt)) {
                int[] more = Arrays.copyOf(f.holders, f.holders.length + 1);
                more[f.holders.length] = linkId;
                f.holders = more;
                duplicates++;
                listener.claimed(ClaimKind.COPY);
                return e.getKey();
            }
        }
        return NONE;
    }

    private int take(int index, int linkId, ClaimKind kind) {
        listener.claimed(kind);
        state[index] = CLAIMED;
        if (claimable != null) {
            claimable.clear(index);
        }
        inFlight.put(index, new InFlight(new int[] {linkId}, System.nanoTime()));
        return index;
    }

    @Override
    public synchronized boolean complete(int index) {
        checkIndex(index);
        if (state[index] == DONE) {
            return false;
        }
        state[index] = DONE;
        if (claimable != null) {
            claimable.clear(index);
        }
        inFlight.remove(index);
        remaining--;
        listener.done();
        return true;
    }

    @Override
    public synchronized void markDone(java.util.BitSet pieces) {
        if (pieces.length() > pieceCount) {
            throw new IndexOutOfBoundsException("piece " + (pieces.length() - 1) + " of " + pieceCount);
        }
        for (int i = pieces.nextSetBit(0); i >= 0; i = pieces.nextSetBit(i + 1)) {
            if (state[i] == UNCLAIMED) {
                state[i] = DONE;
                if (claimable != null) {
                    claimable.clear(i);
                }
                remaining--;
            }
        }
    }

    @Override
    public synchronized void release(int linkId, int index) {
        checkIndex(index);
        InFlight f = inFlight.get(index);
        if (f == null || !contains(f.holders, linkId)) {
            return;
        }
        int[] fewer = Arrays.stream(f.holders).filter(h -> h != linkId).toArray();
        if (fewer.length > 0) {
            f.holders = fewer;
        } else {
            inFlight.remove(index);
            state[index] = UNCLAIMED;
            if (granted == null) {
                released.add(index);
            } else if (granted.get(index)) {
                claimable.set(index);
            }
        }
    }

    @Override
    public synchronized void releaseAll(int linkId) {
        ArrayDeque<Integer> held = new ArrayDeque<>();
        for (Iterator<Map.Entry<Integer, InFlight>> it = inFlight.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Integer, InFlight> e = it.next();
            if (contains(e.getValue().holders, linkId)) {
                held.add(e.getKey());
            }
        }
        for (int index : held) {
            release(linkId, index);
        }
    }

    @Override
    public synchronized boolean inEndgame() {
        if (granted != null) {
            return clientEndgame && available == pieceCount && claimable.isEmpty() && remaining > 0;
        }
        return available == pieceCount && cursor >= pieceCount && released.isEmpty() && remaining > 0;
    }

    @Override
    public synchronized boolean isDone(int index) {
        checkIndex(index);
        return state[index] == DONE;
    }

    @Override
    public synchronized void setAvailable(int count) {
        if (count < available || count > pieceCount) {
            throw new IllegalArgumentException("available " + count + " after " + available + " of " + pieceCount);
        }
        available = count;
    }

    @Override
    public synchronized int remaining() {
        return remaining;
    }

    @Override
    public synchronized int unclaimed() {
        if (granted != null) {
            return claimable.cardinality();
        }
        return remaining - inFlight.size();
    }

    @Override
    public synchronized int inFlight() {
        return inFlight.size();
    }

    @Override
    public synchronized long duplicateClaims() {
        return duplicates;
    }

    @Override
    public synchronized boolean useClientClaims() {
        if (granted == null) {
            granted = new java.util.BitSet(pieceCount);
            claimable = new java.util.BitSet(pieceCount);
        }
        return true;
    }

    @Override
    public synchronized void grant(int first, int count, boolean endgame) {
        checkMode(first, count);
        for (int i = first; i < first + count; i++) {
            if (state[i] != DONE) {
                granted.set(i);
                if (state[i] == UNCLAIMED) {
                    claimable.set(i);
                }
            }
        }
        clientEndgame = endgame;
    }

    @Override
    public synchronized void withdraw(int first, int count) {
        checkMode(first, count);
        granted.clear(first, first + count);
        claimable.clear(first, first + count);
        for (int i = first; i < first + count; i++) {
            if (state[i] == CLAIMED) {
                // Its holders stop at their next block (wanted); a later grant makes it claimable again.
                inFlight.remove(i);
                state[i] = UNCLAIMED;
            }
        }
    }

    @Override
    public synchronized boolean wanted(int index) {
        checkIndex(index);
        return state[index] != DONE && (granted == null || granted.get(index));
    }

    private void checkMode(int first, int count) {
        if (granted == null) {
            throw new IllegalStateException("not in client-claims mode");
        }
        if (first < 0 || count < 0 || (long) first + count > pieceCount) {
            throw new IndexOutOfBoundsException("pieces " + first + " + " + count + " of " + pieceCount);
        }
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= pieceCount) {
            throw new IndexOutOfBoundsException("piece " + index + " of " + pieceCount);
        }
    }

    /** Who holds an in-flight piece, and since when (the first claim). */
    private static final class InFlight {
        int[] holders;
        final long claimedAt;

        InFlight(int[] holders, long claimedAt) {
            this.holders = holders;
            this.claimedAt = claimedAt;
        }
    }

    private static boolean contains(int[] holders, int linkId) {
        for (int h : holders) {
            if (h == linkId) {
                return true;
            }
        }
        return false;
    }
}
