package dev.biternet.server.cluster;

import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.StoreException;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@link PieceAllocator} whose state lives in Redis, shared by every node serving the session:
 * each operation is one run of {@code allocator.lua}, atomic in Redis, so a piece is claimed
 * once whichever node's link asks. A node's claims are held under its lease
 * ({@link ClusterStore}); a node that stops renewing it loses them to the others. Links are
 * named {@code node:link} in the store; to an {@link EndgamePolicy} a holder on another node is
 * link {@link #REMOTE_LINK}.
 *
 * <p>Round trips are what a claim costs (docs/DESIGN.md, issue 20, "Claim throughput"), so
 * while many pieces are unclaimed a link's claim takes up to {@link #AHEAD} pieces for it in one
 * call (held by that link in the store like any claim, under this node's lease; the rest are
 * handed to the same link's next claims, and go back to the pool with its {@link #releaseAll}),
 * and a completion is carried by this node's next call to the store instead of a call of its
 * own (in the endgame, when other nodes decide on copies by it, it is sent at once).
 *
 * <p>The counts (remaining, in flight, endgame) are those of this node's latest answer from the
 * store, less the completions not sent yet, at most {@link #FRESH_NANOS} old (exact near the
 * end); pieces known done stay known. A link that found nothing to claim goes on that answer for
 * {@link #IDLE_NANOS} rather than asking again at each look.
 */
public final class RedisPieceAllocator implements PieceAllocator {
    /** The holder link an endgame policy is told of for a piece held by another node. */
    public static final int REMOTE_LINK = -1;
    private static final long FRESH_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    /**
     * How long a link that found nothing to claim goes on the store's answer: a link near the end
     * of a download looks again every few ms (PiecePusher), each look otherwise a round trip.
     */
    static final long IDLE_NANOS = FRESH_NANOS;
    /** A link that finds nothing time after time looks at most this long apart (doubling from {@link #IDLE_NANOS}). */
    static final long IDLE_MAX_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final ClaimKind[] KINDS = ClaimKind.values();
    /** The most pieces one claim takes for a link. */
    static final int AHEAD = 8;
    /** Pieces claimed ahead only while more than this many times {@link #AHEAD} are unclaimed. */
    private static final int AHEAD_MARGIN = 64;
    /** Completions carried at most before one is sent on its own; also: below this many remaining, exact counts. */
    private static final int CARRIED_MAX = 64;

    private final ClusterStore store;
    private final String name;
    private final String[] keys;
    private final int pieceCount;
    private final Listener listener;
    private final String leaseMillis;
    private final BitSet done = new BitSet();
    /**
     * The pieces whose digests this node has: it claims none beyond, whatever the other nodes
     * made available (the store keeps the highest count of all, for the endgame).
     */
    private volatile int available;
    private volatile Counts counts;
    /** Pieces claimed ahead for each link, as index * 4 + kind, in claim order. */
    private final java.util.Map<Integer, java.util.ArrayDeque<Integer>> ahead = new java.util.concurrent.ConcurrentHashMap<>();
    /** Completions not sent to the store yet: the next call carries them. */
    private final java.util.concurrent.ConcurrentLinkedQueue<Integer> carried = new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** The store no longer has this session's state. */
    private volatile boolean lost;
    /**
     * Each link's last claim that found nothing new to claim, with the endgame's candidates then:
     * the link's next claims within {@link #IDLE_NANOS} weigh those (aged since) instead of asking
     * the store again. Emptied by every change this node makes; other nodes' changes are seen
     * {@link #IDLE_NANOS} later at most.
     */
    private final java.util.Map<Integer, Idle> idle = new java.util.concurrent.ConcurrentHashMap<>();

    /** An answer with nothing to claim, taken as it is for {@code forNanos}. */
    private record Idle(List<Object> answer, long atNanos, long forNanos) { }

    /** Links waiting for a place on the node's connection ({@link ClusterStore#place}). */
    private final java.util.Set<Integer> waitingForPlace = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Changes this node made to the session's state, counted: an answer asked before one is not kept in {@link #idle}. */
    private final java.util.concurrent.atomic.AtomicLong changes = new java.util.concurrent.atomic.AtomicLong();
    /** Links whose claim ({@link #claimOrWake}) is on its way. */
    private final java.util.Set<Integer> claiming = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** A link's claim that failed on its way, thrown by its next {@link #claimOrWake}. */
    private final java.util.Map<Integer, StoreException> claimFailed = new java.util.concurrent.ConcurrentHashMap<>();

    /** This node changed the session's state: answers kept for idle links may be out of date. */
    /** A releaseAll went out: the counts are asked again before they are read. */
    private volatile boolean released;
    /** Counts are being asked of the store without waiting. */
    private final java.util.concurrent.atomic.AtomicBoolean statsAsked = new java.util.concurrent.atomic.AtomicBoolean();

    private void changed() {
        changes.incrementAndGet();
        idle.clear();
    }

    /** What the store said last, and when. */
    private record Counts(int remaining, int inFlight, long duplicates, boolean endgame, long atNanos) {
        /** These counts once {@code completed} more in-flight pieces are done (carried, not sent yet). */
        Counts less(int completed) {
            return completed == 0 ? this : new Counts(remaining - completed, Math.max(0, inFlight - completed), duplicates,
                    endgame, atNanos);
        }
    }

    /**
     * The allocator of session {@code name} ({@code pieceCount} pieces), created in the store if
     * no node has yet, joined as it is otherwise.
     */
    public RedisPieceAllocator(ClusterStore store, String name, int pieceCount, Listener listener) {
        this.store = store;
        this.name = name;
        this.pieceCount = pieceCount;
        this.listener = listener;
        this.leaseMillis = Long.toString(store.lease().toMillis());
        this.keys = new String[] {key(name, "st"), key(name, "m"), key(name, "rel"), key(name, "fl"), key(name, "h"),
                key(name, "nodes"), key(name, RedisSessions.RECORD)};
        List<Object> r = run("init", 0, Integer.toString(pieceCount), Long.toString(ClusterStore.SESSION_TTL.toMillis()));
        int n = pieceCount - asInt(r.get(3));
        if (n > 0) {
            learnDone();
        }
        store.hold(this);
    }

    String name() {
        return name;
    }

    /** A key of session {@code name}: all in one hash slot (the name is the hash tag). */
    static String key(String name, String suffix) {
        return "bn:{" + name + "}:" + suffix;
    }

    /** The link's next piece claimed ahead (and not done meanwhile), or NONE. */
    private int nextAhead(int linkId) {
        java.util.ArrayDeque<Integer> mine = ahead.computeIfAbsent(linkId, k -> new java.util.ArrayDeque<>());
        synchronized (mine) {
            for (Integer next; (next = mine.poll()) != null; ) {
                if (!knownDone(next >> 2)) {
                    listener.claimed(KINDS[next & 3]);
                    return next >> 2;
                }
            }
        }
        return NONE;
    }

    /** Queues {@code r}'s claimed pieces (the first, then those claimed ahead) for the link, if it is still here. */
    private void queue(int linkId, List<Object> r) {
        java.util.ArrayDeque<Integer> mine = ahead.get(linkId);
        if (mine == null) {
            return; // released meanwhile: its releaseAll, sent after the claim, gave them back
        }
        synchronized (mine) {
            mine.add(asInt(r.get(0)) << 2 | asInt(r.get(1)));
            for (int i = 7; i + 1 < r.size(); i += 2) {
                mine.add(asInt(r.get(i)) << 2 | asInt(r.get(i + 1)));
            }
        }
    }

    @Override
    public int claim(int linkId, EndgamePolicy endgame) {
        int queued = nextAhead(linkId);
        if (queued != NONE) {
            return queued;
        }
        java.util.ArrayDeque<Integer> mine = ahead.get(linkId);
        long nowNanos = System.nanoTime();
        Idle last = idle.get(linkId);
        List<Object> r;
        long agedNanos = 0;
        if (last != null && nowNanos - last.atNanos < last.forNanos) {
            r = last.answer;
            agedNanos = nowNanos - last.atNanos;
        } else {
            r = run("claim", linkId, claimArgs());
            int index = asInt(r.get(0));
            if (index >= 0) {
                changed();
                synchronized (mine) {
                    for (int i = 7; i + 1 < r.size(); i += 2) {
                        mine.add(asInt(r.get(i)) << 2 | asInt(r.get(i + 1)));
                    }
                }
                listener.claimed(KINDS[asInt(r.get(1))]);
                return index;
            }
            idle.put(linkId, new Idle(r, nowNanos, IDLE_NANOS));
        }
        int piece = worthACopy(r, agedNanos, endgame);
        if (piece != NONE) {
            idle.remove(linkId);
            if (asInt(run("copy", linkId, Integer.toString(piece)).get(0)) == piece) {
                changed();
                listener.claimed(ClaimKind.COPY);
                return piece;
            }
        }
        return NONE;
    }

    /**
     * The endgame: the first of the pieces the store listed as held by one other link (index,
     * holder, age us; aged {@code agedNanos} since) that {@code endgame} finds worth a copy, or NONE.
     */
    private int worthACopy(List<Object> answer, long agedNanos, EndgamePolicy endgame) {
        for (int i = 7; i + 2 < answer.size(); i += 3) {
            int piece = asInt(answer.get(i));
            if (endgame.worthCopying(piece, localLink((String) answer.get(i + 1)), asLong(answer.get(i + 2)) * 1000 + agedNanos)) {
                return piece;
            }
        }
        return NONE;
    }

    /** A claim's arguments: this node's lease, the pieces it has digests of, and how many to take. */
    private String[] claimArgs() {
        Counts now = counts;
        int want = now.remaining - now.inFlight > AHEAD * AHEAD_MARGIN ? AHEAD : 1;
        return new String[] {leaseMillis, Integer.toString(available), Integer.toString(want)};
    }

    /**
     * As {@link #claim}, but the store is asked without waiting: the answer (pieces for the link's
     * queue, or the endgame's candidates for {@link #idle}) is kept for the link's next call, and
     * {@code wake} told. One request per link at a time.
     */
    @Override
    public int claimOrWake(int linkId, EndgamePolicy endgame, Runnable wake) {
        StoreException failed = claimFailed.remove(linkId);
        if (failed != null) {
            throw failed;
        }
        int queued = nextAhead(linkId);
        if (queued != NONE || !claiming.add(linkId)) {
            return queued;
        }
        long nowNanos = System.nanoTime();
        Idle last = idle.get(linkId);
        if (last == null || nowNanos - last.atNanos >= last.forNanos) {
            later(linkId, wake, "claim", claimArgs());
            return NONE;
        }
        int piece = worthACopy(last.answer, nowNanos - last.atNanos, endgame);
        if (piece != NONE) {
            idle.remove(linkId);
            later(linkId, wake, "copy", Integer.toString(piece));
        } else {
            claiming.remove(linkId);
        }
        return NONE;
    }

    /**
     * Sends a claim or copy for the link without waiting; its answer is queued or kept, then
     * {@code wake} is run. With no place free on the node's connection, nothing is sent and the
     * link is woken when one is.
     */
    private void later(int linkId, Runnable wake, String op, String... args) {
        if (!store.place(waitingForPlace.add(linkId) ? () -> {
            waitingForPlace.remove(linkId);
            wake.run();
        } : null)) {
            claiming.remove(linkId);
            return;
        }
        waitingForPlace.remove(linkId);
        Idle before = idle.get(linkId);
        List<Integer> sent = takeCarried();
        long sentNanos = System.nanoTime();
        long changesThen = changes.get();
        store.allocatorLater(keys, op, linkId, joined(sent), args).whenComplete((r, e) -> {
            try {
                if (e != null) {
                    StoreException failure = (StoreException) ClusterStore.unwrap(e);
                    failed(sent, failure);
                    claimFailed.put(linkId, failure);
                } else if (answered(r) >= 0) {
                    queue(linkId, r);
                    changed();
                } else if (changes.get() == changesThen) {
                    // Nothing again: look less often, up to IDLE_MAX (a change made meanwhile would be missing from it).
                    long forNanos = before == null ? IDLE_NANOS : Math.min(2 * before.forNanos, IDLE_MAX_NANOS);
                    idle.put(linkId, new Idle(r, sentNanos, forNanos));
                }
            } finally {
                claiming.remove(linkId);
                store.freePlace();
                wake.run();
            }
        });
    }

    /** The link id of a holder {@code node:link} if it is on this node, else {@link #REMOTE_LINK}. */
    private int localLink(String holder) {
        int colon = holder.indexOf(':');
        return holder.substring(0, colon).equals(store.node()) ? Integer.parseInt(holder.substring(colon + 1)) : REMOTE_LINK;
    }

    @Override
    public boolean inEndgame() {
        return fresh().endgame && available == pieceCount;
    }

    @Override
    public boolean complete(int index) {
        checkIndex(index);
        changed();
        Counts c = counts;
        boolean first;
        if (c.endgame || c.duplicates > 0 || carried.size() >= CARRIED_MAX) {
            // Copies may be in flight: other nodes' endgame and isDone read the store now.
            first = asInt(run("complete", 0, Integer.toString(index)).get(0)) == 1;
            synchronized (done) {
                done.set(index);
            }
        } else {
            // First on this node; the store learns it with this node's next call.
            synchronized (done) {
                first = !done.get(index);
                done.set(index);
            }
            if (first) {
                carried.add(index);
            }
        }
        if (first) {
            listener.done();
        }
        return first;
    }

    private boolean knownDone(int index) {
        synchronized (done) {
            return done.get(index);
        }
    }

    @Override
    public void markDone(BitSet pieces) {
        if (pieces.length() > pieceCount) {
            throw new IndexOutOfBoundsException("piece " + (pieces.length() - 1) + " of " + pieceCount);
        }
        if (pieces.isEmpty()) {
            return;
        }
        changed();
        run("markDone", 0, java.util.HexFormat.of().formatHex(pieces.toByteArray()));
        learnDone();
    }

    /** Reads which pieces are done from the store (once, at open or resume: a byte a piece). */
    private void learnDone() {
        String st = store.call(r -> r.get(keys[0]));
        if (st == null) {
            return;
        }
        synchronized (done) {
            for (int i = 0; i < st.length(); i++) {
                if (st.charAt(i) == 2) {
                    done.set(i);
                }
            }
        }
    }

    @Override
    public void release(int linkId, int index) {
        checkIndex(index);
        java.util.ArrayDeque<Integer> mine = ahead.get(linkId);
        if (mine != null) {
            synchronized (mine) {
                mine.removeIf(v -> v >> 2 == index);
            }
        }
        changed();
        run("release", linkId, Integer.toString(index));
    }

    /**
     * Not waited for (a link's channel is closing, on its event loop): it runs in the store before
     * any later command of this node, and the counts are asked again after it. A failure is
     * dropped: the lease gives the pieces back.
     */
    @Override
    public void releaseAll(int linkId) {
        // The pieces claimed ahead for it are held by the link in the store: they go back with the rest.
        ahead.remove(linkId);
        claimFailed.remove(linkId);
        changed();
        List<Integer> sent = takeCarried();
        released = true;
        store.allocatorLater(keys, "releaseAll", linkId, joined(sent)).whenComplete((r, e) -> {
            if (e != null) {
                failed(sent, ClusterStore.unwrap(e));
            } else {
                answered(r);
                released = false;
            }
        });
    }

    /**
     * Known done here, or (while copies may be in flight, when another node's copy can finish
     * first) done in the store.
     */
    @Override
    public boolean isDone(int index) {
        checkIndex(index);
        synchronized (done) {
            if (done.get(index)) {
                return true;
            }
        }
        Counts c = counts;
        if (!c.endgame && c.duplicates == 0) {
            return false;
        }
        String b = store.call(r -> r.getrange(keys[0], index, index));
        if (b != null && !b.isEmpty() && b.charAt(0) == 2) {
            synchronized (done) {
                done.set(index);
            }
            return true;
        }
        return false;
    }

    /**
     * Not waited for: the hasher calls it for every session of a file as it publishes, and waiting
     * for each answer made one node's hashing of 100 files for 1,000 sessions take over a minute
     * (docs/DESIGN.md, issue 20). Sent on the one connection, it runs in Redis before this node's
     * next claim (which carries this node's own count anyway). A store that does not take it
     * (unreachable) gets it again with the lease's renewal; a session whose state is gone is
     * {@link #lost}.
     */
    @Override
    public synchronized void setAvailable(int count) {
        if (count < available || count > pieceCount) {
            throw new IllegalArgumentException("available " + count + " after " + available + " of " + pieceCount);
        }
        available = count;
        changed();
        List<Integer> sent = takeCarried();
        store.allocatorLater(keys, "available", 0, joined(sent), Integer.toString(count)).whenComplete((r, e) -> {
            if (e != null) {
                failed(sent, ClusterStore.unwrap(e));
            } else {
                answered(r);
                sentAvailable(count);
            }
        });
    }

    private synchronized void sentAvailable(int count) {
        availableSent = Math.max(availableSent, count);
    }

    /** The last count of claimable pieces the store took ({@link #setAvailable}). */
    private volatile int availableSent;

    /** As fresh as the other counts (at most {@link #FRESH_NANOS} old; exact near the end): never below the truth. */
    @Override
    public int remaining() {
        return fresh().remaining;
    }

    @Override
    public int unclaimed() {
        Counts c = fresh();
        return c.remaining - c.inFlight;
    }

    @Override
    public int inFlight() {
        return fresh().inFlight;
    }

    @Override
    public long duplicateClaims() {
        return fresh().duplicates;
    }

    /**
     * Keeps this node's claims its own for another lease, and the session's state for its TTL:
     * sent without waiting (the renewer sends every session's at once, one round trip for all),
     * with the count of claimable pieces first if the store has not taken it.
     */
    java.util.concurrent.CompletionStage<List<Object>> renewLater() {
        int count = available;
        if (availableSent < count) {
            store.allocatorLater(keys, "available", 0, "", Integer.toString(count)).thenAccept(r -> sentAvailable(count));
        }
        List<Integer> sent = takeCarried();
        return store.allocatorLater(keys, "renew", 0, joined(sent), leaseMillis, Long.toString(ClusterStore.SESSION_TTL.toMillis()))
                .whenComplete((r, e) -> {
                    if (e != null) {
                        failed(sent, ClusterStore.unwrap(e));
                    } else {
                        answered(r);
                    }
                });
    }

    /** This node no longer serves the session: its lease is no longer renewed (its links released their pieces). */
    @Override
    public void close() {
        if (!carried.isEmpty() && !lost) {
            try {
                run("stats", 0); // the completions not sent yet
            } catch (StoreException e) {
                // the store is down: the pieces come back after the lease and are sent again
            }
        }
        store.release(this);
    }

    private Counts fresh() {
        return fresh(FRESH_NANOS);
    }

    /**
     * The counts, refreshed if older than {@code maxAgeNanos}; while the store cannot be asked,
     * the last known (claims and completions are where its failure shows).
     */
    private Counts fresh(long maxAgeNanos) {
        Counts c = counts;
        int unsent = carried.size();
        // Near the end (few pieces left after the carried completions) the counts are exact:
        // a session is closed as complete on a 0. After a releaseAll they are asked again.
        boolean nearEnd = unsent > 0 && c.remaining - unsent <= CARRIED_MAX;
        if (nearEnd || released) {
            try {
                run("stats", 0);
            } catch (StoreException e) {
                return c.less(unsent);
            }
            return counts.less(carried.size());
        }
        if (System.nanoTime() - c.atNanos > maxAgeNanos && statsAsked.compareAndSet(false, true)) {
            // Only other nodes' changes are missing (this node's own are in): asked without
            // waiting, so that a link's event loop, which reads them, never waits for the store;
            // not at all while the node's connection has no place free.
            if (!store.place(null)) {
                statsAsked.set(false);
                return c.less(unsent);
            }
            List<Integer> sent = takeCarried();
            store.allocatorLater(keys, "stats", 0, joined(sent)).whenComplete((r, e) -> {
                if (e != null) {
                    failed(sent, ClusterStore.unwrap(e));
                } else {
                    answered(r);
                }
                statsAsked.set(false);
                store.freePlace();
            });
            return c.less(unsent + sent.size());
        }
        return c.less(unsent);
    }

    @Override
    public boolean lost() {
        return lost;
    }

    private List<Object> run(String op, int link, String... args) {
        List<Object> r;
        List<Integer> sent = takeCarried();
        try {
            r = store.allocator(keys, op, link, joined(sent), args);
        } catch (StoreException e) {
            failed(sent, e);
            throw e;
        }
        answered(r);
        released = false; // (sent after any releaseAll: its answer counts it)
        return r;
    }

    /** Takes in the counts every answer carries; returns its result (a claim's piece, or below 0). */
    private int answered(List<Object> r) {
        counts = new Counts(asInt(r.get(3)), asInt(r.get(4)), asLong(r.get(5)), asInt(r.get(6)) == 1, System.nanoTime());
        int expired = asInt(r.get(2));
        if (expired > 0) {
            listener.leaseExpired(expired);
        }
        return asInt(r.get(0));
    }

    /** The completions the next command carries. */
    private List<Integer> takeCarried() {
        List<Integer> sent = new java.util.ArrayList<>();
        for (Integer i; (i = carried.poll()) != null; ) {
            sent.add(i);
        }
        return sent;
    }

    /** A command carrying {@code sent} failed: the session is lost, or the next command carries them. */
    private void failed(List<Integer> sent, Throwable e) {
        if (e instanceof StoreException s && s.lost()) {
            lost = true;
        } else {
            carried.addAll(sent);
        }
    }

    /** "i,j,...", or empty. */
    private static String joined(List<Integer> pieces) {
        StringBuilder b = new StringBuilder();
        for (int i : pieces) {
            b.append(b.length() == 0 ? "" : ",").append(i);
        }
        return b.toString();
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= pieceCount) {
            throw new IndexOutOfBoundsException("piece " + index + " of " + pieceCount);
        }
    }

    private static int asInt(Object o) {
        return Math.toIntExact((Long) o);
    }

    private static long asLong(Object o) {
        return (Long) o;
    }
}
