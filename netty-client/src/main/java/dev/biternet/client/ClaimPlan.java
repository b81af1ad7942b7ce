package dev.biternet.client;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeSet;
import java.util.function.IntPredicate;

/**
 * Which biternet server sends which piece when several serve one file (protocol 2's client
 * claims; HTTP mirrors beside them count as one more "server"): the one owner of that decision. Each server is granted a window of pieces ahead, its
 * delivery rate times {@link #HORIZON_SECONDS} and at least {@link #MIN_AHEAD_PER_LINK} per
 * link, the lowest free pieces first, refilled as pieces are verified. Once no piece is free, a
 * server running short takes over pieces granted last to one that would deliver them much later
 * (withdrawn there), and an idle server copies a piece that is late at the server holding it
 * (the tail rule, {@link #copyLate}). A server that is down gives its pieces back at once; when
 * it is up again its old grants are withdrawn first. Pure: {@link #tick} takes what the download
 * saw and returns the messages to send.
 */
final class ClaimPlan {
    /** How far ahead of a server's rate its grants reach: a few round trips and the time between ticks. */
    static final double HORIZON_SECONDS = 0.3;
    /** Pieces granted ahead per link of a server at least (also before its rate is known). */
    static final int MIN_AHEAD_PER_LINK = 8;
    /** How fast a server's delivery rate follows what it delivers (seconds). */
    private static final double RATE_SECONDS = 0.5;
    /** Slack on a piece's expected time before it is late (a retransmission, a reconnect's start). */
    static final double LATE_SECONDS = 0.5;
    /** A piece at a server that delivered nothing lately is late after this long. */
    static final double STALLED_SECONDS = 2;

    /** A Claim ({@code claim}) or Unclaim of pieces [first, first + count) for one server. */
    record Action(int server, boolean claim, int first, int count, boolean endgame) { }

    private final int pieceCount;
    /** Pieces neither verified nor granted to any server. */
    private final BitSet free;
    private final Server[] servers;
    private long copies;
    private double lastSeconds = -1;
    /** Whether a source has begun a piece it was granted: such a piece is not taken over. */
    private java.util.function.BiPredicate<Integer, Integer> started = (server, piece) -> false;

    private static final class Server {
        final TreeSet<Integer> granted = new TreeSet<>();
        /** When each granted piece was granted (the download's clock), for the tail rule. */
        final java.util.Map<Integer, Double> grantedAt = new java.util.HashMap<>();
        /** Its grants were taken back while it was down: withdrawn on the server when it is up again. */
        boolean stale;
        long delivered;
        double rate;
        /** When it last delivered a piece (-1: never), and its rate then. */
        double lastDeliveredAt = -1;
        double rateThen;

        /**
         * True once it has delivered nothing for {@link #STALLED_SECONDS}, or for twice its time
         * per piece when it last delivered if that is longer (a slow source is not a stalled one).
         * Its rate alone cannot say so: it falls towards 0 and never reaches it, so pieces judged
         * by it would never be late.
         */
        boolean stalled(double seconds) {
            return lastDeliveredAt >= 0 && rateThen > 0
                    && seconds - lastDeliveredAt > Math.max(STALLED_SECONDS, 2 / rateThen);
        }
    }

    /** @param have the pieces already verified (a resume) */
    ClaimPlan(int pieceCount, BitSet have, int serverCount) {
        this.pieceCount = pieceCount;
        this.free = new BitSet(pieceCount);
        free.set(0, pieceCount);
        free.andNot(have);
        this.servers = new Server[serverCount];
        for (int i = 0; i < serverCount; i++) {
            servers[i] = new Server();
        }
    }

    /**
     * Tells the plan which granted pieces a source has begun (an HTTP mirror's channels: those
     * they asked for), so that the endgame's take-over leaves them, as it cannot for a server.
     */
    void startedBy(java.util.function.BiPredicate<Integer, Integer> begun) {
        this.started = begun;
    }

    /** True once no piece is left to grant (every one verified or granted somewhere): the endgame. */
    boolean allGranted() {
        return free.isEmpty();
    }

    /**
     * {@code server} gives {@code piece} back (its copy failed the hash there): free again for
     * whichever source asks first, unless another holds it. Nothing is sent to {@code server}.
     */
    void giveBack(int server, int piece) {
        if (servers[server].granted.remove(piece) && !held(piece, server)) {
            free.set(piece);
        }
    }

    /** Endgame copies handed out so far: the duplicates the tail rule allows. */
    long copies() {
        return copies;
    }

    /**
     * One look.
     *
     * @param seconds the download's clock
     * @param verified whether a piece is verified now
     * @param links each server's links that are up (0: the server is down or refused)
     * @param delivered each server's pieces verified so far (its links' counts)
     */
    List<Action> tick(double seconds, IntPredicate verified, int[] links, long[] delivered) {
        List<Action> out = new ArrayList<>();
        double dt = lastSeconds < 0 ? 0 : seconds - lastSeconds;
        lastSeconds = seconds;
        for (int s = 0; s < servers.length; s++) {
            Server sv = servers[s];
            if (dt > 0) {
                double r = Math.max(0, delivered[s] - sv.delivered) / dt;
                double w = 1 - Math.exp(-dt / RATE_SECONDS);
                sv.rate = sv.rate == 0 ? r : (1 - w) * sv.rate + w * r;
            }
            if (delivered[s] > sv.delivered) {
                sv.lastDeliveredAt = seconds;
                sv.rateThen = sv.rate;
            }
            sv.delivered = delivered[s];
            for (var it = sv.granted.iterator(); it.hasNext(); ) {
                int p = it.next();
                if (verified.test(p)) {
                    it.remove();
                    for (int o = 0; o < servers.length; o++) {
                        // The copy elsewhere (tail rule) is not needed any more.
                        if (o != s && links[o] > 0 && servers[o].granted.remove(p)) {
                            out.add(new Action(o, false, p, 1, false));
                        }
                    }
                }
            }
            if (links[s] == 0 && !sv.granted.isEmpty()) {
                for (int p : sv.granted) {
                    if (!held(p, s)) {
                        free.set(p);
                    }
                }
                sv.granted.clear();
                sv.stale = true;
            }
            if (links[s] > 0 && sv.stale) {
                sv.stale = false;
                out.add(new Action(s, false, 0, pieceCount, false)); // back after a loss: its old grants go
            }
        }
        for (int s = 0; s < servers.length; s++) {
            if (links[s] > 0) {
                refill(s, links[s], seconds, out);
            }
        }
        return out;
    }

    private boolean held(int piece, int except) {
        for (int o = 0; o < servers.length; o++) {
            if (o != except && servers[o].granted.contains(piece)) {
                return true;
            }
        }
        return false;
    }

    private int target(int s, int links) {
        return Math.max(MIN_AHEAD_PER_LINK * links, (int) Math.ceil(servers[s].rate * HORIZON_SECONDS));
    }

    private void refill(int s, int links, double seconds, List<Action> out) {
        Server sv = servers[s];
        int want = target(s, links) - sv.granted.size();
        while (want > 0 && !free.isEmpty()) {
            int first = free.nextSetBit(0);
            int end = Math.min(Math.min(free.nextClearBit(first), first + want), pieceCount);
            free.clear(first, end);
            for (int p = first; p < end; p++) {
                grant(sv, p, seconds);
            }
            want -= end - first;
            out.add(new Action(s, true, first, end - first, free.isEmpty()));
        }
        if (want <= 0 || !free.isEmpty()) {
            return;
        }
        // Nothing free: take over what a server would deliver much later than this one could.
        while (want > 0 && sv.rate > 0) {
            int from = -1;
            double latest = 0;
            for (int o = 0; o < servers.length; o++) {
                Server os = servers[o];
                if (o != s && os.rate > 0 && os.granted.size() > 1 && os.granted.size() / os.rate > latest) {
                    from = o;
                    latest = os.granted.size() / os.rate;
                }
            }
            if (from < 0 || latest - 1 / servers[from].rate <= (sv.granted.size() + 1) / sv.rate + HORIZON_SECONDS) {
                break;
            }
            int giver = from;
            Integer p = servers[from].granted.descendingSet().stream().filter(q -> !started.test(giver, q)).findFirst()
                    .orElse(null);
            if (p == null) {
                break;
            }
            servers[from].granted.remove(p);
            grant(sv, p, seconds);
            want--;
            out.add(new Action(from, false, p, 1, true));
            out.add(new Action(s, true, p, 1, true));
        }
        if (sv.granted.isEmpty()) {
            copyLate(s, seconds, out);
        }
    }

    /**
     * The tail rule: an idle server copies one piece another holds alone that is late there,
     * granted more than twice its expected time ago (its place in that server's queue over the
     * server's rate) plus {@link #LATE_SECONDS}, or {@link #STALLED_SECONDS} for a server that
     * has delivered nothing yet or stalled ({@link Server#stalled}: a mirror that died behind a
     * connection still open holds its pieces until its stall timeout, 20 s, otherwise). One
     * copy a piece; the first verified copy wins.
     */
    private void copyLate(int s, double seconds, List<Action> out) {
        for (int o = 0; o < servers.length; o++) {
            if (o == s) {
                continue;
            }
            Server os = servers[o];
            int rank = 0;
            for (int p : os.granted) {
                rank++;
                double expected = os.rate > 0 && !os.stalled(seconds) ? 2 * rank / os.rate + LATE_SECONDS : STALLED_SECONDS;
                if (seconds - os.grantedAt.getOrDefault(p, seconds) > expected && !held(p, o)) {
                    grant(servers[s], p, seconds);
                    copies++;
                    out.add(new Action(s, true, p, 1, true));
                    return;
                }
            }
        }
    }

    private static void grant(Server sv, int p, double seconds) {
        sv.granted.add(p);
        sv.grantedAt.put(p, seconds);
    }
}
