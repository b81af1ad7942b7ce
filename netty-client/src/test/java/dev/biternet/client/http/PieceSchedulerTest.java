package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PieceSchedulerTest {
    @Test
    void channelsTakeTheLowestFreePieceAndAFailedOneGoesBack() {
        PieceScheduler s = new PieceScheduler(4, new BitSet());
        int a = s.join();
        int b = s.join();
        assertThat(s.claim(a, 0)).isEqualTo(0);
        assertThat(s.claim(b, 0)).isEqualTo(1);
        s.release(a, 0);
        assertThat(s.claim(b, 0)).isEqualTo(0);
    }

    @Test
    void aResumedPieceIsNeverFetched() {
        BitSet have = new BitSet();
        have.set(0);
        have.set(2);
        PieceScheduler s = new PieceScheduler(3, have);
        int a = s.join();
        assertThat(s.claim(a, 0)).isEqualTo(1);
        assertThat(s.done(a, 1, 10)).isTrue();
        assertThat(s.finished()).isTrue();
    }

    @Test
    void aPooledSchedulerHandsOutOnlyWhatThePlanOfferedAndGivesAFailedPieceBackToThePlan() {
        PieceScheduler s = PieceScheduler.pooled(8);
        int a = s.join();
        int b = s.join();
        assertThat(s.claim(a, 0)).as("nothing offered yet").isEqualTo(-1);
        s.offer(4, 2);
        assertThat(s.claim(a, 0)).isEqualTo(4);
        assertThat(s.claim(b, 0)).isEqualTo(5);
        assertThat(s.claim(b, 0)).as("no copy before the plan's endgame").isEqualTo(-1);
        s.withdraw(5, 1);
        assertThat(s.done(a, 4, 10)).isTrue();
        s.undo(4); // its copy failed the server's hash
        assertThat(s.claim(a, 20)).as("a failed piece is the plan's to give again").isEqualTo(-1);
        assertThat(s.returned().stream().toArray()).containsExactly(4);
        assertThat(s.returned().isEmpty()).isTrue();
        s.endgame(true);
        assertThat(s.claim(a, 30)).as("in the endgame an idle channel copies").isEqualTo(5);
    }

    private static final long SECOND = 1_000_000_000L;

    /**
     * A channel that joins mid-download (its link came up) takes a free piece at once, with no
     * pace yet; once its first piece measured it slow, the tail rules hold it back as any other.
     */
    @Test
    void aChannelJoiningMidDownloadTakesPiecesAndThenFollowsTheTailRules() {
        PieceScheduler s = new PieceScheduler(10, new BitSet());
        int a = s.join();
        for (int p = 0; p < 4; p++) {
            assertThat(s.claim(a, p * SECOND)).isEqualTo(p);
            assertThat(s.done(a, p, (p + 1) * SECOND)).isTrue();
        }
        int late = s.join();
        assertThat(s.claim(late, 4 * SECOND)).as("the joined channel's first claim").isEqualTo(4);
        assertThat(s.done(late, 4, 14 * SECOND)).isTrue();
        assertThat(s.claim(a, 14 * SECOND)).isEqualTo(5);
        // 10 s a piece against 1 s: the fast channel finishes the 4 free pieces and its own first.
        assertThat(s.claim(late, 14 * SECOND)).as("the joined channel, measured slow, refrains").isEqualTo(-1);
    }

    /**
     * Four pieces, channel 0 fast (1 s a piece), channel 1 slow (10 s): each has delivered one
     * piece, and the fast one holds piece 2 if {@code fastHolds}; at 10 s.
     */
    private static PieceScheduler paced(boolean fastHolds) {
        PieceScheduler s = new PieceScheduler(4, new BitSet());
        int fast = s.join();
        int slow = s.join();
        assertThat(s.claim(fast, 0)).isEqualTo(0);
        assertThat(s.claim(slow, 0)).isEqualTo(1);
        s.done(fast, 0, SECOND);
        if (fastHolds) {
            assertThat(s.claim(fast, SECOND)).isEqualTo(2);
        }
        s.done(slow, 1, 10 * SECOND);
        return s;
    }

    @Test
    void aSlowChannelLeavesTheLastPiecesToAFastOne() {
        PieceScheduler s = paced(true);
        // Piece 3 left, fast holds 2: fast finishes both in ~2 s, slow would need 10 s for one.
        assertThat(s.claim(1, 10 * SECOND)).isEqualTo(-1);
        assertThat(s.claim(0, 10 * SECOND)).isEqualTo(3);
    }

    @Test
    void aFastChannelThatLeftOrLostItsConnectionHoldsNoPieceBack() {
        PieceScheduler s = paced(false);
        int fast = 0;
        int slow = 1;
        assertThat(s.claim(slow, 10_000_000_000L)).isEqualTo(-1); // the fast one is better placed
        s.lost(fast);
        assertThat(s.claim(slow, 10_000_000_000L)).isEqualTo(2);
        s.leave(fast);
        assertThat(s.claim(slow, 10_000_000_000L)).isEqualTo(3);
    }

    @Test
    void aCappedChannelTakesNoPieceAndHoldsNoneBackForItsPace() {
        PieceScheduler s = paced(true);
        int fast = 0;
        int slow = 1;
        assertThat(s.claim(slow, 10 * SECOND)).isEqualTo(-1); // the fast one is better placed
        s.retire(fast);
        assertThat(s.claim(fast, 10 * SECOND)).isEqualTo(-1);
        assertThat(s.claim(slow, 10 * SECOND)).isEqualTo(3);
        // What the capped channel holds it still finishes.
        assertThat(s.done(fast, 2, 11 * SECOND)).isTrue();
    }

    @Test
    void anIdleChannelCopiesAPieceItsHolderWouldFinishLate() {
        PieceScheduler s = new PieceScheduler(2, new BitSet());
        int a = s.join();
        int b = s.join();
        assertThat(s.claim(a, 0)).isEqualTo(0);
        assertThat(s.claim(b, 0)).isEqualTo(1);
        assertThat(s.done(b, 1, 100)).isTrue();
        assertThat(s.claim(b, 100)).isEqualTo(0); // a's pace is unknown: b copies
        assertThat(s.holders(0)).isEqualTo(2);
        assertThat(s.claim(b, 100)).isEqualTo(-1); // one copy a piece
        assertThat(s.done(b, 0, 200)).isTrue();
        assertThat(s.done(a, 0, 300)).isFalse(); // the late copy is dropped
        assertThat(s.finished()).isTrue();
    }

    /**
     * Three pieces of 1 MiB over two links: the slow one (1 s a piece) asked for pieces 0 and 1
     * at the start; the fast one (0.25 s a piece) fetched piece 2 and is idle at 1 s, when the
     * slow one's turn on piece 1 begins. Returns the slow one's fill of piece 1.
     */
    private static PieceFill slowHoldsTheLastPiece(PieceScheduler s, int slow, int fast) {
        assertThat(s.claim(slow, 0)).isEqualTo(0);
        assertThat(s.claim(slow, 0)).isEqualTo(1);
        assertThat(s.claim(fast, SECOND * 3 / 4)).isEqualTo(2);
        assertThat(s.done(fast, 2, SECOND)).isTrue();
        assertThat(s.done(slow, 0, SECOND)).isTrue();
        PieceFill held = new PieceFill(1, MIB, 0, java.nio.ByteBuffer.allocate(MIB), null);
        s.attach(slow, 1, held);
        return held;
    }

    private static final int MIB = 1 << 20;

    /**
     * At 1.25 s the slow link has a quarter of the last piece and needs 0.75 s for the rest: the
     * idle fast link fetches the tail from where the two meet (0.75 s x 1 MiB / (1 s + 0.25 s) =
     * 0.6 MiB of tail), and the piece is whole once the slow link's bytes reach it.
     */
    @Test
    void anIdleChannelOnAnotherLinkFetchesTheTailOfTheLastPieceFromWhereTheHolderWouldMeetIt() {
        PieceScheduler s = new PieceScheduler(3, new BitSet());
        int slow = s.join("mirror");
        int fast = s.join("mirror");
        PieceFill held = slowHoldsTheLastPiece(s, slow, fast);
        held.arrive(0, io.netty.buffer.Unpooled.wrappedBuffer(new byte[MIB / 4]));

        PieceScheduler.Part tail = s.claimPart(fast, SECOND + SECOND / 4, 0);
        assertThat(tail.piece()).isEqualTo(1);
        assertThat(tail.holder()).isSameAs(held);
        assertThat(tail.from()).as("0.4 MiB, up to a 16 KiB boundary").isEqualTo(425_984);
        assertThat(s.holders(1)).isEqualTo(2);
        assertThat(s.claimPart(fast, SECOND + SECOND / 4, 0)).as("it holds the tail").isNull();

        s.partIn(fast, 1, SECOND + SECOND * 4 / 10);
        assertThat(s.holders(1)).as("the tail is in: the holder's request alone holds the piece").isEqualTo(1);
        int other = s.join("mirror");
        PieceScheduler.Part again = s.claimPart(other, SECOND + SECOND / 2, 0);
        assertThat(again == null || again.whole()).as("a piece is split once").isTrue();
        assertThat(s.done(fast, 1, SECOND + SECOND * 6 / 10)).as("the tail joined its head: the piece is whole").isTrue();
        assertThat(s.done(slow, 1, 2 * SECOND)).as("the holder's own copy comes late").isFalse();
        assertThat(s.finished()).isTrue();
    }

    /**
     * Pieces from two sources do not make one: no split there. Two channels to one source split,
     * whether two links' or two flows of one link (at the end that link has room: each flow is
     * held to its own window). At 1.5 s the slow channel needs 0.5 s more, which a whole copy at
     * 0.25 s does not halve.
     */
    @Test
    void aSplitBetweenChannelsToOneSourceButNotBetweenSources() {
        for (String source : new String[] {"mirror", "other mirror"}) {
            PieceScheduler s = new PieceScheduler(3, new BitSet());
            int slow = s.join("mirror");
            int fast = s.join(source);
            PieceFill held = slowHoldsTheLastPiece(s, slow, fast);
            held.arrive(0, io.netty.buffer.Unpooled.wrappedBuffer(new byte[MIB / 2]));
            PieceScheduler.Part p = s.claimPart(fast, SECOND + SECOND / 2, 0);
            if (source.equals("mirror")) {
                assertThat(p.from()).as("a channel to the same mirror splits").isPositive();
            } else {
                assertThat(p).as("another mirror's channel").isNull();
            }
        }
    }

    /**
     * The holder's request fails while a tail is asked for: the tail has no head to join, so the
     * piece is free again for a whole fetch; a tail that fails leaves the piece to be split again.
     */
    @Test
    void aSplitEndsWithItsHoldersRequestAndAFailedTailMaySplitAgain() {
        PieceScheduler s = new PieceScheduler(3, new BitSet());
        int slow = s.join("m");
        int fast = s.join("m");
        slowHoldsTheLastPiece(s, slow, fast);
        assertThat(s.claimPart(fast, SECOND + SECOND / 4, 0).from()).isPositive();
        s.release(fast, 1); // the tail's request failed
        assertThat(s.claimPart(fast, SECOND + SECOND / 4, 0).from()).as("split again").isPositive();
        s.release(slow, 1); // the holder's request failed
        assertThat(s.holders(1)).isZero();
        PieceScheduler.Part whole = s.claimPart(fast, SECOND + SECOND / 2, 0);
        assertThat(whole.piece()).isEqualTo(1);
        assertThat(whole.whole()).isTrue();
    }

    /**
     * Any interleaving of claims, deliveries, failures and channels leaving (one always stays):
     * every piece ends up fetched, and a piece has two holders only as an endgame copy, when no
     * piece was free.
     */
    @Test
    void everyPieceIsFetchedAndNoPieceIsClaimedTwiceOutsideTheEndgame() {
        qt().withExamples(300).forAll(integers().between(1, 40), integers().between(1, 5),
                lists().of(integers().between(0, 1_000_000)).ofSizeBetween(0, 400))
                .checkAssert((pieces, n, script) -> {
                    PieceScheduler s = new PieceScheduler(pieces, new BitSet());
                    List<Integer> live = new ArrayList<>();
                    Map<Integer, List<Integer>> holding = new HashMap<>();
                    for (int i = 0; i < n; i++) {
                        live.add(s.join());
                        holding.put(i, new ArrayList<>());
                    }
                    BitSet fetched = new BitSet();
                    long now = 0;
                    int step = 0;
                    // The script, then as long as it takes with the channels delivering in turn.
                    while (!s.finished()) {
                        int r = step < script.size() ? script.get(step) : step;
                        step++;
                        // A channel may be told to wait (a faster one is better placed), never all of
                        // them for ever: the download finishes within a bounded number of turns.
                        assertThat(step).as("finishes").isLessThan(script.size() + 20 * pieces * n + 100);
                        now += 1 + r % 1000;
                        int ch = live.get(r % live.size());
                        List<Integer> mine = holding.get(ch);
                        int op = step <= script.size() ? (r / 7) % 5 : mine.isEmpty() ? 0 : 4;
                        if (op <= 1 || mine.isEmpty()) {
                            int free = freeBefore(s, pieces, fetched, holding);
                            int p = s.claim(ch, now);
                            if (p >= 0) {
                                assertThat(fetched.get(p)).isFalse();
                                assertThat(mine).doesNotContain(p);
                                if (s.holders(p) > 1) {
                                    assertThat(free).as("a copy only once no piece is free").isZero();
                                }
                                assertThat(s.holders(p)).isLessThanOrEqualTo(2);
                                mine.add(p);
                            }
                        } else if (op == 2 && !mine.isEmpty()) {
                            s.release(ch, mine.remove(0));
                        } else if (op == 3 && live.size() > 1) {
                            s.leave(ch);
                            live.remove(Integer.valueOf(ch));
                            mine.clear();
                        } else if (!mine.isEmpty()) {
                            int p = mine.remove(0);
                            if (s.done(ch, p, now)) {
                                assertThat(fetched.get(p)).isFalse();
                                fetched.set(p);
                            }
                            for (List<Integer> other : holding.values()) {
                                // a late copy is dropped by its holder when it completes
                                assertThat(other.stream().filter(q -> q == p).count()).isLessThanOrEqualTo(1);
                            }
                        }
                    }
                    assertThat(fetched.cardinality()).isEqualTo(pieces);
                });
    }

    /** Pieces neither fetched nor held by anyone, as the test's own model counts them. */
    private static int freeBefore(PieceScheduler s, int pieces, BitSet fetched, Map<Integer, List<Integer>> holding) {
        int free = 0;
        for (int p = 0; p < pieces; p++) {
            int piece = p;
            if (!fetched.get(p) && holding.values().stream().noneMatch(l -> l.contains(piece))) {
                free++;
            }
        }
        return free;
    }

    /**
     * A model of channels on real connections: each answers its pieces in the order asked, one
     * after the other, each taking the channel's own time; a piece delivered by another channel
     * first still takes its time (HTTP cannot take a request back) and is a duplicate. A
     * channel asks for pieces while it has fewer than its depth, and asks again at every
     * delivery when told to wait. Returns when the last piece is in; {@code duplicates[0]}
     * counts the late copies.
     *
     * @param service per channel, nanoseconds a piece takes; {@code stall} adds to one piece
     */
    private static double simulate(int pieces, long[] service, int[] depth, int stalledChannel, int stalledPiece,
                                   long stall, int[] duplicates) {
        PieceScheduler s = new PieceScheduler(pieces, new BitSet());
        int n = service.length;
        List<java.util.ArrayDeque<long[]>> queue = new ArrayList<>();
        long[] lastFinish = new long[n];
        for (int i = 0; i < n; i++) {
            s.join();
            queue.add(new java.util.ArrayDeque<>());
        }
        long now = 0;
        while (!s.finished()) {
            for (int ch = 0; ch < n; ch++) {
                while (queue.get(ch).size() < depth[ch]) {
                    int p = s.claim(ch, now);
                    if (p < 0) {
                        break;
                    }
                    queue.get(ch).add(new long[] {p, now});
                }
            }
            int next = -1;
            long at = Long.MAX_VALUE;
            for (int ch = 0; ch < n; ch++) {
                long[] head = queue.get(ch).peek();
                if (head != null) {
                    long end = Math.max(head[1], lastFinish[ch]) + service[ch]
                            + (ch == stalledChannel && head[0] == stalledPiece ? stall : 0);
                    if (end < at) {
                        at = end;
                        next = ch;
                    }
                }
            }
            assertThat(next).as("some channel holds a piece while the file is not finished").isNotNegative();
            now = at;
            long[] head = queue.get(next).poll();
            lastFinish[next] = now;
            if (!s.done(next, (int) head[0], now)) {
                duplicates[0]++;
            }
        }
        return now / 1e9;
    }

    /**
     * The lab's lossy link with 16 connections, each slow, beside a clean link with 2 fast ones
     * (1 % loss under cubic, 64 pieces of 1 MiB): the clean link must not sit idle while the
     * slow connections finish the file. Before the tail rules timed a piece from its turn, the
     * slow connections took copies of each other's pieces and the fast ones found none left.
     */
    @Test
    void manySlowFlowsOnOneLinkDoNotHoldTheFinishFromAFastLink() {
        long[] service = new long[18];
        int[] depth = new int[18];
        for (int i = 0; i < 16; i++) {
            service[i] = 5_600_000_000L;
            depth[i] = 2;
        }
        service[16] = service[17] = 560_000_000L;
        depth[16] = depth[17] = 2;
        int[] dup = {0};
        double finish = simulate(64, service, depth, -1, -1, 0, dup);
        double ideal = 64 / (16 / 5.6 + 2 / 0.56);
        assertThat(finish).as("finish against the ideal %.2f s", ideal).isLessThan(ideal * 1.15);
        assertThat(dup[0]).as("late copies").isLessThanOrEqualTo(8);
    }

    /** A piece whose connection stalls (a retransmission timeout, a mirror that stopped) is copied. */
    @Test
    void aStalledPieceIsCopiedByAnotherChannel() {
        int[] dup = {0};
        double finish = simulate(32, new long[] {SECOND, SECOND}, new int[] {2, 2}, 0, 20, 60 * SECOND, dup);
        // The other channel fetches the free pieces (~22 s for all but the stalled two), then copies
        // the stalled piece and the one asked for behind it on the same connection.
        assertThat(finish).as("32 pieces over two channels of 1 s a piece, one piece stalled 60 s").isLessThan(25);
        assertThat(dup[0]).isLessThanOrEqualTo(2);
    }
}
