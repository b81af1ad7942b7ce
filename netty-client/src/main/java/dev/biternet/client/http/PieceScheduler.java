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
 * <li>endgame: once every piece is held, an idle channel helps with the piece held by one channel
 * that would finish last. On a channel to the same source (another link's, or another flow of
 * the holder's link: each flow is held to its own window, so the link has room), with both paces known, it splits
 * the piece ({@link #claimPart}): it fetches the tail the holder would reach last, from where the
 * two would meet, and the piece is whole once the holder's bytes reach the tail ({@link
 * PieceFill}); a piece is split once. Otherwise it takes a copy of the whole piece if its holder
 * would, at its pace and after its earlier pieces, need over twice as long as this channel (at
 * most one copy a piece); the first copy in wins ({@link #done}).</li>
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
    /** A split's tail starts on a multiple of this. */
    static final int SPLIT_ALIGN = 16 << 10;
    /** No split for a tail shorter than this: it would save a few milliseconds for a request. */
    static final int MIN_TAIL = 64 << 10;

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
    /**
     * Pieces split once ({@link #claimPart}), and where their tail starts: the tail is asked for,
     * or in and waiting for the holder's bytes to reach it.
     */
    private final java.util.Map<Integer, Integer> splitFrom = new java.util.HashMap<>();

    /**
     * A channel's claim on a piece: the whole piece ({@code from} 0) or, a split, its tail from
     * {@code from} of {@code length}; {@code fill}: the whole piece's bytes as they come in, once
     * the channel {@link #attach}ed them.
     */
    private static final class Claim {
        final int channel;
        final long since;
        final int from;
        final int length;
        PieceFill fill;

        Claim(int channel, long since, int from, int length) {
            this.channel = channel;
            this.since = since;
            this.from = from;
            this.length = length;
        }
    }

    /**
     * What a channel fetches next: the whole {@code piece}, or (an endgame split) its bytes from
     * {@code from} on, for the {@code holder}'s fill to complete.
     */
    public record Part(int piece, int from, PieceFill holder) {
        public boolean whole() {
            return from == 0;
        }
    }

    private static final class Channel {
        /** Its source: a split is only between channels to the same source. */
        final Object source;
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

        Channel(Object source) {
            this.source = source;
        }
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

    /** A new channel, of a source of its own; returns its id. */
    public synchronized int join() {
        return join(new Object());
    }

    /**
     * A new channel to {@code source} (compared with {@code equals}: a split is only between
     * channels to one source); returns its id.
     */
    public synchronized int join(Object source) {
        channels.add(new Channel(source));
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
     * released. Whole pieces only ({@link #claimPart} for splits).
     */
    public synchronized int claim(int channel, long now) {
        Part p = claimPart(channel, now, -1);
        return p == null ? -1 : p.piece();
    }

    /**
     * {@code channel} takes {@code piece} whole if it is free (not done, not held, offered): the
     * piece whose start the probe for the size brought ({@code FirstBytes}), claimed since
     * {@code since}, when the probe asked. False: it is not this channel's.
     */
    public synchronized boolean claimPiece(int channel, int piece, long since) {
        Channel me = channels.get(channel);
        if (me.gone || me.retired || done.get(piece) || held.get(piece) || !offered.get(piece)) {
            return false;
        }
        take(channel, piece, since, 0, 0);
        return true;
    }

    /**
     * What {@code channel} fetches next, or null if nothing for it now: ask again when a piece
     * is done or released. In the endgame it may be the tail of a split piece (see the class).
     *
     * @param latencyNanos how long the channel's connection takes to its first byte (a round
     *                     trip), for where a split's tail starts; negative: no split
     */
    public synchronized Part claimPart(int channel, long now, long latencyNanos) {
        Channel me = channels.get(channel);
        if (me.gone || me.retired) {
            return null;
        }
        int free = nextFree();
        if (free >= 0) {
            if (refrains(channel, now)) {
                return null;
            }
            take(channel, free, now, 0, 0);
            return new Part(free, 0, null);
        }
        if (me.holding > 0 || !copies) {
            return null; // endgame copies are for idle channels, in the endgame
        }
        // The piece its holder would finish last.
        int best = -1;
        double latest = 0;
        long[][] queues = queues();
        for (int p = held.nextSetBit(0); p >= 0; p = held.nextSetBit(p + 1)) {
            List<Claim> h = holders.get(p);
            if (done.get(p) || h.size() != 1 || h.get(0).channel == channel) {
                continue;
            }
            double left = timeLeft(h.get(0), queues[h.get(0).channel], now);
            Integer from = splitFrom.get(p);
            if (from != null && h.get(0).fill != null) {
                // Split: its holder needs only to reach the tail (unless it is stalled: then, as
                // long again as it has been in its turn, which no split shortens).
                left = Math.max(left - channels.get(h.get(0).channel).pieceNanos * (h.get(0).fill.length - from)
                        / h.get(0).fill.length, 0);
            }
            if (left > latest) {
                latest = left;
                best = p;
            }
        }
        if (best < 0) {
            return null;
        }
        Claim holder = holders.get(best).get(0);
        int from = latencyNanos < 0 ? -1 : splitAt(me, holder, best, latest - latencyNanos);
        if (from > 0) {
            take(channel, best, now, from, holder.fill.length);
            splitFrom.put(best, from);
            return new Part(best, from, holder.fill);
        }
        if (from == 0 || me.pieceNanos == 0 || me.pieceNanos < COPY_GAIN * latest) {
            take(channel, best, now, 0, 0);
            return new Part(best, 0, null);
        }
        return null;
    }

    /**
     * Where {@code me} would start the tail of {@code piece}, held by {@code holder}, so that the
     * two meet: {@code me} fetches {@code [from, length)} in the time the holder, at its pace,
     * needs to bring its bytes from where they are to {@code from}. 0: fetch it whole (the holder
     * would not reach its first byte first); -1: no split (another source, a pace
     * not known, the piece split before, a tail too short to pay).
     *
     * @param left the holder's time left on the piece less {@code me}'s time to its first byte
     */
    private int splitAt(Channel me, Claim holder, int piece, double left) {
        Channel h = channels.get(holder.channel);
        if (holder.fill == null || holder.from != 0 || splitFrom.containsKey(piece)
                || !java.util.Objects.equals(me.source, h.source) || me.pieceNanos == 0 || h.pieceNanos == 0
                || left <= 0) {
            return -1;
        }
        int length = holder.fill.length;
        int arrived = holder.fill.arrived();
        // The holder reaches byte x at (its finish) - (length - x) / (its rate); this channel
        // brings [x, length) in (length - x) / (its rate): they meet where both take `left`.
        double tail = length * left / (h.pieceNanos + me.pieceNanos);
        if (arrived == 0 && tail >= length) {
            return 0;
        }
        long from = Math.max(arrived, (long) (length - tail));
        from = (from + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
        return length - from < MIN_TAIL ? -1 : (int) from;
    }

    /**
     * {@code channel}'s tail of a split {@code piece} is in (it waits for, or joined, the
     * holder's head): the channel's claim ends, its pace counts the tail as its share of a piece.
     */
    public synchronized void partIn(int channel, int piece, long now) {
        Claim mine = null;
        for (Claim c : holders.get(piece)) {
            if (c.channel == channel) {
                mine = c;
            }
        }
        if (mine == null) {
            return; // the holder's request ended first: the split is over
        }
        Channel ch = channels.get(channel);
        ch.down = false;
        double took = (now - Math.max(mine.since, ch.lastDone)) * (double) mine.length / (mine.length - mine.from);
        ch.pieceNanos = ch.pieceNanos == 0 ? took : (1 - EWMA) * ch.pieceNanos + EWMA * took;
        ch.lastDone = now;
        holders.get(piece).remove(mine);
        ch.holding--;
    }

    /** {@code channel}'s claim on {@code piece} brings its bytes into {@code fill}: what a split joins. */
    public synchronized void attach(int channel, int piece, PieceFill fill) {
        for (Claim c : holders.get(piece)) {
            if (c.channel == channel && c.from == 0) {
                c.fill = fill;
            }
        }
    }

    /**
     * {@code channel} has all of {@code piece}. Returns true if it is the first copy (the one to
     * write); false if another copy came first (drop this one).
     */
    public synchronized boolean done(int channel, int piece, long now) {
        List<Claim> h = holders.get(piece);
        Claim mine = null;
        for (Claim c : h) {
            if (c.channel == channel) {
                mine = c;
            }
        }
        Channel ch = channels.get(channel);
        ch.down = false;
        if (mine != null) {
            double took = now - Math.max(mine.since, ch.lastDone);
            ch.pieceNanos = ch.pieceNanos == 0 ? took : (1 - EWMA) * ch.pieceNanos + EWMA * took;
            ch.lastDone = now;
        }
        release(channel, piece);
        if (done.get(piece)) {
            return false;
        }
        done.set(piece);
        splitFrom.remove(piece);
        return true;
    }

    /** {@code channel} gives {@code piece} up (its fetch failed); unless another holds it, it is free again. */
    public synchronized void release(int channel, int piece) {
        List<Claim> h = holders.get(piece);
        boolean whole = false;
        for (java.util.Iterator<Claim> i = h.iterator(); i.hasNext(); ) {
            Claim c = i.next();
            if (c.channel == channel) {
                i.remove();
                channels.get(channel).holding--;
                whole |= c.from == 0;
                splitFrom.remove(piece); // a tail that failed: the piece may be split again; a holder gone: its split ends
            }
        }
        if (whole) {
            // A split's tail has no head to join once the holder's request ended: its claim ends too.
            for (java.util.Iterator<Claim> i = h.iterator(); i.hasNext(); ) {
                Claim c = i.next();
                if (c.from > 0) {
                    i.remove();
                    channels.get(c.channel).holding--;
                }
            }
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
        splitFrom.remove(piece);
        firstFree = Math.min(firstFree, piece);
        if (pooled) {
            offered.clear(piece);
            giveBack.set(piece);
        }
    }

    /** True once {@code piece} is in (its first copy, or a split's tail joined to its head). */
    public synchronized boolean isDone(int piece) {
        return done.get(piece);
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
        Channel holder = channels.get(c.channel);
        if (holder.pieceNanos == 0) {
            return Double.MAX_VALUE;
        }
        int ahead = 0;
        while (ahead < queue.length && queue[ahead] < c.since) {
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
                    byChannel.get(o.channel).add(o.since);
                }
            }
        }
        long[][] queues = new long[channels.size()][];
        for (int i = 0; i < queues.length; i++) {
            queues[i] = byChannel.get(i).stream().mapToLong(Long::longValue).sorted().toArray();
        }
        return queues;
    }

    private void take(int channel, int piece, long now, int from, int length) {
        holders.get(piece).add(new Claim(channel, now, from, length));
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
