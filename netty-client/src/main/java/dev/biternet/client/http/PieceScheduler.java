package dev.biternet.client.http;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * Which channel fetches which piece next, for sources that do not push (HTTP mirrors: the
 * client asks for each range). A channel claims the lowest piece nobody holds; a failed or
 * released piece goes back. Rate-proportional by pulling: a channel asks again as soon as it has
 * room, so each takes pieces at the pace it delivers them. Two tail rules, on each channel's
 * measured time per piece:
 * <ul>
 * <li>refrain: a channel does not take a new piece if the other channels, at their pace, would
 * finish every piece left (theirs in flight included) before it finished that one; the fastest
 * channel never refrains, so the free pieces are always taken;</li>
 * <li>endgame: once every piece is held, an idle channel takes a copy of a piece held by one
 * channel that would, at its pace and after its earlier pieces, need over twice as long as
 * this channel (at most one copy a piece); the first copy in wins ({@link #done}).</li>
 * </ul>
 * Pure logic, no clock of its own (callers pass the time); one lock, its monitor, for the
 * channels' drivers on their event loops.
 *
 * <p>{@link #pooled}: the mirrors' share of a download that also has biternet servers. Only the
 * pieces the download's plan offered ({@link #offer}) are claimed, copies wait for the plan's
 * endgame ({@link #endgame}), and a piece whose copy failed goes back to the plan
 * ({@link #returned}) rather than to these channels.
 */
public final class PieceScheduler {
    /** The weight of the newest piece in a channel's time per piece. */
    private static final double EWMA = 0.3;
    /**
     * An idle channel copies a piece only if it would deliver it in under this share of the
     * time its holder still needs: a copy costs a piece of some link's capacity, so it must cut
     * the wait clearly, and flows of one link (about the same pace) then do not copy each
     * other's pieces and leave the copies to a link that is really faster.
     */
    static final double COPY_GAIN = 0.5;

    private final int pieceCount;
    private final BitSet done = new BitSet();
    private final BitSet held = new BitSet();
    /** Per piece: the claims on it (at most two: one and its endgame copy). */
    private final List<List<Claim>> holders;
    private final List<Channel> channels = new ArrayList<>();
    /** No piece below this is free (a scan hint). */
    private int firstFree;
    /** The pieces these channels may take (all, unless {@link #pooled}). */
    private final BitSet offered = new BitSet();
    private final boolean pooled;
    /** Copies of held pieces are allowed (always, unless {@link #pooled}: the plan's endgame). */
    private boolean copies = true;
    /** Pieces given back to the plan after a failed copy, not yet taken by {@link #returned}. */
    private final BitSet giveBack = new BitSet();

    private record Claim(int channel, long since, boolean copy) {}

    private static final class Channel {
        boolean gone;
        /** Takes no new piece (its link's cap), finishes those it holds. */
        boolean retired;
        /** Lost its connection and not delivered since: its pace says nothing now. */
        boolean down;
        /**
         * Nanoseconds a piece takes once it is this channel's turn (from its claim, or from the
         * channel's previous piece if that came later: a pipelined piece waits its turn), measured;
         * 0 until the first piece.
         */
        double pieceNanos;
        /** When the channel last finished a piece (a late copy included: it used the connection). */
        long lastDone = Long.MIN_VALUE;
        int holding;
    }

    /** @param have pieces already verified (a resume) */
    public PieceScheduler(int pieceCount, BitSet have) {
        this(pieceCount, have, false);
    }

    private PieceScheduler(int pieceCount, BitSet have, boolean pooled) {
        this.pooled = pooled;
        this.copies = !pooled;
        this.pieceCount = pieceCount;
        if (!pooled) {
            offered.set(0, pieceCount);
        }
        this.done.or(have);
        this.holders = new ArrayList<>(pieceCount);
        for (int i = 0; i < pieceCount; i++) {
            holders.add(new ArrayList<>(2));
        }
    }

    /**
     * A scheduler for the mirrors' share of a mixed download: nothing to claim until the plan
     * {@link #offer}s it; no copies until {@link #endgame}.
     */
    public static PieceScheduler pooled(int pieceCount) {
        return new PieceScheduler(pieceCount, new BitSet(), true);
    }

    /** The plan gives these channels pieces [first, first + count). */
    public synchronized void offer(int first, int count) {
        offered.set(first, first + count);
        done.clear(first, first + count);
        firstFree = Math.min(firstFree, first);
    }

    /** The plan takes pieces [first, first + count) back: not started here any more (one in flight finishes). */
    public synchronized void withdraw(int first, int count) {
        offered.clear(first, first + count);
    }

    /** Whether idle channels may copy held pieces: the plan has no piece left to give anyone. */
    public synchronized void endgame(boolean on) {
        copies = on;
    }

    /** The pieces given back after a failed copy since the last call ({@link #pooled}: for the plan to give elsewhere). */
    public synchronized BitSet returned() {
        BitSet out = (BitSet) giveBack.clone();
        giveBack.clear();
        return out;
    }

    /** A new channel; returns its id. */
    public synchronized int join() {
        channels.add(new Channel());
        return channels.size() - 1;
    }

    /** The channel is gone (its mirror failed, its link lost): its pieces go back. */
    public synchronized void leave(int channel) {
        if (channels.get(channel).gone) {
            return;
        }
        channels.get(channel).gone = true;
        for (int p = 0; p < pieceCount; p++) {
            release(channel, p);
        }
    }

    /**
     * The channel takes no more pieces (its link reached its cap); what it holds it still
     * finishes or gives back, and its pace no longer counts in the tail rules.
     */
    public synchronized void retire(int channel) {
        channels.get(channel).retired = true;
    }

    /** The channel takes pieces again (its link's cap was raised): the opposite of {@link #retire}. */
    public synchronized void unretire(int channel) {
        channels.get(channel).retired = false;
    }

    /**
     * The channel lost its connection (it retries): until it delivers again, other channels do
     * not leave pieces to it for its pace.
     */
    public synchronized void lost(int channel) {
        channels.get(channel).down = true;
    }

    /**
     * The next piece for {@code channel}, or -1 if there is none for it now (all held, or the
     * tail rules say another channel is better placed): ask again when a piece is done or
     * released.
     */
    public synchronized int claim(int channel, long now) {
        Channel me = channels.get(channel);
        if (me.gone || me.retired) {
            return -1;
        }
        int free = nextFree();
        if (free >= 0) {
            if (refrains(channel, now)) {
                return -1;
            }
            take(channel, free, now, false);
            return free;
        }
        if (me.holding > 0 || !copies) {
            return -1; // endgame copies are for idle channels, in the endgame
        }
        int best = -1;
        double latest = 0;
        long[][] queues = queues();
        for (int p = held.nextSetBit(0); p >= 0; p = held.nextSetBit(p + 1)) {
            List<Claim> h = holders.get(p);
            if (done.get(p) || h.size() != 1 || h.get(0).channel() == channel) {
                continue;
            }
            double left = timeLeft(h.get(0), queues[h.get(0).channel()], now);
            if (left > latest && (me.pieceNanos == 0 || me.pieceNanos < COPY_GAIN * left)) {
                latest = left;
                best = p;
            }
        }
        if (best >= 0) {
            take(channel, best, now, true);
        }
        return best;
    }

    /**
     * {@code channel} has all of {@code piece}. Returns true if it is the first copy (the one to
     * write); false if another copy came first (drop this one).
     */
    public synchronized boolean done(int channel, int piece, long now) {
        List<Claim> h = holders.get(piece);
        Claim mine = null;
        for (Claim c : h) {
            if (c.channel() == channel) {
                mine = c;
            }
        }
        Channel ch = channels.get(channel);
        ch.down = false;
        if (mine != null) {
            double took = now - Math.max(mine.since(), ch.lastDone);
            ch.pieceNanos = ch.pieceNanos == 0 ? took : (1 - EWMA) * ch.pieceNanos + EWMA * took;
            ch.lastDone = now;
        }
        release(channel, piece);
        if (done.get(piece)) {
            return false;
        }
        done.set(piece);
        return true;
    }

    /** {@code channel} gives {@code piece} up (its fetch failed); unless another holds it, it is free again. */
    public synchronized void release(int channel, int piece) {
        List<Claim> h = holders.get(piece);
        if (h.removeIf(c -> c.channel() == channel)) {
            channels.get(channel).holding--;
        }
        if (h.isEmpty()) {
            held.clear(piece);
            firstFree = Math.min(firstFree, piece);
        }
    }

    /**
     * The piece's copy failed (the disk, or a mixed download's hash): it must be fetched again,
     * by these channels, or ({@link #pooled}) wherever the plan gives it next.
     */
    public synchronized void undo(int piece) {
        done.clear(piece);
        firstFree = Math.min(firstFree, piece);
        if (pooled) {
            offered.clear(piece);
            giveBack.set(piece);
        }
    }

    public synchronized boolean finished() {
        return done.cardinality() == pieceCount;
    }

    /** How many channels hold {@code piece} now (0, 1, or 2 with an endgame copy). */
    public synchronized int holders(int piece) {
        return holders.get(piece).size();
    }

    /**
     * How long {@code c}'s holder still needs for it, at its pace: its turn comes after the
     * holder's earlier claims (a pipelined connection answers in order), and its first claim's
     * turn began at that claim or at the holder's last finished piece. A piece past its estimate
     * (a stall: a retransmission timeout, a mirror that stopped sending) is taken to need as
     * long again as it has been in its turn. Unknown pace: as long as can be.
     *
     * @param queue the holder's claims in order ({@link #queues}), {@code c}'s among them
     */
    private double timeLeft(Claim c, long[] queue, long now) {
        Channel holder = channels.get(c.channel());
        if (holder.pieceNanos == 0) {
            return Double.MAX_VALUE;
        }
        int ahead = 0;
        while (ahead < queue.length && queue[ahead] < c.since()) {
            ahead++;
        }
        long turn = Math.max(queue[0], holder.lastDone);
        double finish = turn + (ahead + 1) * holder.pieceNanos;
        return finish > now ? finish - now : now - turn;
    }

    /** Per channel, when it claimed each piece it holds and has not finished, in order: its connection's queue. */
    private long[][] queues() {
        List<List<Long>> byChannel = new ArrayList<>(channels.size());
        for (int i = 0; i < channels.size(); i++) {
            byChannel.add(new ArrayList<>(2));
        }
        for (int p = held.nextSetBit(0); p >= 0; p = held.nextSetBit(p + 1)) {
            if (!done.get(p)) {
                for (Claim o : holders.get(p)) {
                    byChannel.get(o.channel()).add(o.since());
                }
            }
        }
        long[][] queues = new long[channels.size()][];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = byChannel.get(i).stream().mapToLong(Long::longValue).sorted().toArray();
        }
        return queues;
    }

    private void take(int channel, int piece, long now, boolean copy) {
        holders.get(piece).add(new Claim(channel, now, copy));
        held.set(piece);
        channels.get(channel).holding++;
    }

    /** The lowest piece neither done nor held, or -1. */
    private int nextFree() {
        for (int p = offered.nextSetBit(firstFree); p >= 0 && p < pieceCount; p = offered.nextSetBit(p + 1)) {
            if (!done.get(p) && !held.get(p)) {
                firstFree = p;
                return p;
            }
        }
        firstFree = pieceCount;
        return -1;
    }

    /**
     * True if the other channels, at their measured pace, would finish every free piece and
     * what they hold before {@code channel} finished one more (after what it holds).
     */
    private boolean refrains(int channel, long now) {
        Channel me = channels.get(channel);
        if (me.pieceNanos == 0) {
            return false;
        }
        double othersRate = 0;
        int othersHolding = 0;
        boolean slower = false;
        for (int i = 0; i < channels.size(); i++) {
            Channel c = channels.get(i);
            if (i == channel || c.gone || c.retired || c.down) {
                continue;
            }
            if (c.pieceNanos == 0) {
                return false; // a channel not measured yet: no judgement
            }
            othersRate += 1 / c.pieceNanos;
            othersHolding += c.holding;
            slower |= c.pieceNanos < me.pieceNanos || c.pieceNanos == me.pieceNanos && i < channel;
        }
        // The fastest channel never refrains: someone always takes the free pieces.
        if (!slower) {
            return false;
        }
        BitSet open = (BitSet) offered.clone();
        open.andNot(done);
        open.andNot(held);
        int free = open.cardinality();
        return me.pieceNanos * (me.holding + 1) > (free + othersHolding) / othersRate;
    }
}
