package dev.biternet.server.session;

import static dev.biternet.server.session.PieceAllocator.NONE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/**
 * What every {@link PieceAllocator} must do, checked against a small reference model driven by
 * random interleavings of claims, completions, releases and growing availability from several
 * links. Each implementation's test extends it with {@link #allocator(int)}.
 */
public abstract class PieceAllocatorContract {
    /** A min age no in-flight piece reaches: endgame copies are never worth it. */
    private static final long NEVER = Long.MAX_VALUE;
    private static final long ONE_HOUR = TimeUnit.HOURS.toNanos(1);
    private static final int LINKS = 4;
    private static final int EXAMPLES = 400;

    /** A new allocator of {@code count} pieces, nothing available yet. */
    protected abstract PieceAllocator allocator(int count);

    /** Random runs per property: fewer where each step is a round trip. */
    protected int examples() {
        return EXAMPLES;
    }

    /** One step of a run. {@code arg} picks a piece or an amount, modulo what makes sense then. */
    record Op(Kind kind, int link, int arg) {
        @Override
        public String toString() {
            return kind + "(link " + link + ", " + arg + ")";
        }
    }

    enum Kind { CLAIM, ENDGAME_CLAIM, GROW, COMPLETE, RELEASE, RELEASE_ALL, MARK_DONE }

    private static Gen<Op> ops(Kind... kinds) {
        return integers().between(0, kinds.length - 1)
                .zip(integers().between(1, LINKS), integers().between(0, 1 << 20),
                        (k, link, arg) -> new Op(kinds[k], link, arg));
    }

    /** Before the endgame: claims never ask for copies; availability grows as hashes would be published. */
    private static final Gen<List<Op>> PRE_ENDGAME = lists().of(ops(
            Kind.CLAIM, Kind.CLAIM, Kind.CLAIM, Kind.GROW, Kind.GROW, Kind.COMPLETE, Kind.COMPLETE,
            Kind.RELEASE, Kind.RELEASE_ALL, Kind.MARK_DONE)).ofSizeBetween(0, 160);

    /** Everything, endgame copies included. */
    private static final Gen<List<Op>> ANY = lists().of(ops(
            Kind.CLAIM, Kind.CLAIM, Kind.ENDGAME_CLAIM, Kind.ENDGAME_CLAIM, Kind.GROW, Kind.COMPLETE,
            Kind.RELEASE, Kind.RELEASE_ALL, Kind.MARK_DONE)).ofSizeBetween(0, 200);

    @Test
    void beforeTheEndgameEachPieceIsClaimedOnceInOrderOfAvailabilityWithReleasedPiecesFirst() {
        qt().withExamples(examples())
                .forAll(integers().between(0, 40), PRE_ENDGAME)
                .checkAssert((count, ops) -> {
                    Model m = new Model(count);
                    for (Op op : ops) {
                        m.apply(op);
                    }
                    assertThat(m.real.duplicateClaims()).as("no endgame copies were asked for").isZero();
                    m.finishEverything();
                });
    }

    @Test
    void randomRunsWithEndgameCopiesMatchTheModel() {
        qt().withExamples(examples())
                .forAll(integers().between(0, 30), ANY)
                .checkAssert((count, ops) -> {
                    Model m = new Model(count);
                    for (Op op : ops) {
                        m.apply(op);
                    }
                    m.finishEverything();
                });
    }

    @Test
    void endgameCopiesComeOnlyFromOtherLinksAtMostTwoHoldersEach() {
        Gen<List<Integer>> owners = lists().of(integers().between(1, LINKS)).ofSizeBetween(40, 40);
        Gen<List<Op>> endgameOps = lists().of(ops(
                Kind.ENDGAME_CLAIM, Kind.ENDGAME_CLAIM, Kind.ENDGAME_CLAIM, Kind.CLAIM, Kind.COMPLETE,
                Kind.RELEASE, Kind.RELEASE_ALL)).ofSizeBetween(0, 120);
        qt().withExamples(examples())
                .forAll(integers().between(1, 30), owners, endgameOps)
                .checkAssert((count, owner, ops) -> {
                    Model m = new Model(count);
                    m.apply(new Op(Kind.GROW, 1, count));
                    for (int i = 0; i < count; i++) {
                        m.apply(new Op(Kind.CLAIM, owner.get(i), 0));
                    }
                    assertThat(m.real.inEndgame()).as("everything claimed, nothing done").isTrue();
                    assertThat(m.real.claim(1, NEVER)).as("endgame with a huge min age").isEqualTo(NONE);
                    assertThat(m.real.claim(2, ONE_HOUR)).as("endgame, pieces younger than the min age").isEqualTo(NONE);
                    for (Op op : ops) {
                        m.apply(op);
                    }
                    m.finishEverything();
                });
    }

    @Test
    void releaseAllHandsBackExactlyThatLinksUnfinishedPieces() {
        Gen<List<Integer>> claimers = lists().of(integers().between(-LINKS, LINKS)).ofSizeBetween(0, 60);
        qt().withExamples(examples())
                .forAll(integers().between(1, 40), claimers, integers().between(1, LINKS))
                .checkAssert((count, steps, victim) -> {
                    PieceAllocator a = allocator(count);
                    a.setAvailable(count);
                    Map<Integer, Integer> holder = new LinkedHashMap<>();
                    Set<Integer> done = new HashSet<>();
                    for (int step : steps) {
                        int link = Math.abs(step);
                        if (step > 0) {
                            int p = a.claim(link, NEVER);
                            if (p != NONE) {
                                holder.put(p, link);
                            }
                        } else if (step < 0) {
                            // the link's oldest piece is verified
                            holder.entrySet().stream().filter(e -> e.getValue() == link).findFirst().ifPresent(e -> {
                                assertThat(a.complete(e.getKey())).isTrue();
                                done.add(e.getKey());
                                holder.remove(e.getKey());
                            });
                        }
                    }
                    TreeSet<Integer> victimsPieces = new TreeSet<>();
                    holder.forEach((p, l) -> {
                        if (l.equals(victim)) {
                            victimsPieces.add(p);
                        }
                    });
                    int remainingBefore = a.remaining();
                    a.releaseAll(victim);
                    a.releaseAll(victim); // a second call finds nothing more
                    assertThat(a.remaining()).isEqualTo(remainingBefore);

                    int other = LINKS + 1;
                    List<Integer> handedBack = new ArrayList<>();
                    for (int i = 0; i < victimsPieces.size(); i++) {
                        handedBack.add(a.claim(other, NEVER));
                    }
                    assertThat(handedBack).as("pieces handed out again after releaseAll(%d)", victim)
                            .containsExactlyElementsOf(victimsPieces);
                    int next = a.claim(other, NEVER);
                    if (next != NONE) {
                        assertThat(holder).as("next claim is a fresh piece").doesNotContainKey(next);
                        assertThat(done).doesNotContain(next);
                    }
                });
    }

    @Test
    void completingEveryPieceEndsTheSession() {
        qt().withExamples(examples())
                .forAll(integers().between(0, 50), lists().of(integers().between(1, LINKS)).ofSizeBetween(1, 10))
                .checkAssert((count, links) -> {
                    PieceAllocator a = allocator(count);
                    a.setAvailable(count);
                    int claimed = 0;
                    for (int round = 0; claimed < count; round++) {
                        int p = a.claim(links.get(round % links.size()), NEVER);
                        assertThat(p).isEqualTo(claimed);
                        claimed++;
                        assertThat(a.complete(p)).isTrue();
                        assertThat(a.complete(p)).as("second completion of %d", p).isFalse();
                        assertThat(a.isDone(p)).isTrue();
                    }
                    assertThat(a.remaining()).isZero();
                    assertThat(a.inEndgame()).isFalse();
                    assertThat(a.claim(links.get(0), 0)).isEqualTo(NONE);
                    assertThat(a.claim(links.get(0), NEVER)).isEqualTo(NONE);
                    assertThat(a.duplicateClaims()).isZero();
                });
    }

    @Test
    void piecesBeyondTheAvailableCountAreNotHandedOut() {
        PieceAllocator a = allocator(10);
        assertThat(a.claim(1, 0)).as("no hash published yet").isEqualTo(NONE);
        assertThat(a.inEndgame()).isFalse();
        a.setAvailable(2);
        assertThat(a.claim(1, 0)).isEqualTo(0);
        assertThat(a.claim(2, 0)).isEqualTo(1);
        assertThat(a.claim(1, 0)).as("only 2 available; no endgame before all are").isEqualTo(NONE);
        assertThat(a.duplicateClaims()).isZero();
        a.setAvailable(3);
        assertThat(a.claim(2, 0)).isEqualTo(2);
    }

    @Test
    void availabilityNeverShrinksNorExceedsThePieceCount() {
        PieceAllocator a = allocator(5);
        a.setAvailable(3);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> a.setAvailable(2))
                .isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> a.setAvailable(6))
                .isInstanceOf(IllegalArgumentException.class);
        a.setAvailable(3); // same count again is fine (a batch without new pieces)
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> a.complete(5))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }

    /**
     * Reference model of the allocator's documented behaviour, applying every step to both and
     * comparing. In-flight pieces are kept in first-claim order, the order the endgame scans.
     */
    private final class Model {
        final PieceAllocator real;
        final int count;
        int available;
        /** Lowest never-claimed piece. */
        int fresh;
        /** Highest piece handed out for the first time so far. */
        int lastFresh = -1;
        final TreeSet<Integer> released = new TreeSet<>();
        final LinkedHashMap<Integer, List<Integer>> holders = new LinkedHashMap<>();
        final Set<Integer> done = new HashSet<>();
        long duplicates;

        Model(int count) {
            this.count = count;
            this.real = allocator(count);
        }

        void apply(Op op) {
            switch (op.kind()) {
                case CLAIM -> claim(op.link(), op.arg() % 2 == 0 ? NEVER : ONE_HOUR);
                case ENDGAME_CLAIM -> claim(op.link(), 0);
                case GROW -> {
                    int grown = available + op.arg() % (count - available + 1);
                    real.setAvailable(grown);
                    available = grown;
                }
                case COMPLETE -> complete(op.arg());
                case RELEASE -> release(op.link(), op.arg());
                case MARK_DONE -> markDone(op.arg());
                case RELEASE_ALL -> {
                    real.releaseAll(op.link());
                    for (Integer p : new ArrayList<>(holders.keySet())) {
                        dropHolder(p, op.link());
                    }
                }
            }
            check(op);
        }

        private int expectedClaim(int link, long minAge) {
            if (!released.isEmpty()) {
                return released.first();
            }
            if (fresh < available) {
                return fresh;
            }
            if (available < count || minAge != 0) {
                return NONE;
            }
            for (Map.Entry<Integer, List<Integer>> e : holders.entrySet()) {
                if (e.getValue().size() < 2 && !e.getValue().contains(link)) {
                    return e.getKey();
                }
            }
            return NONE;
        }

        /**
         * A resuming client's pieces: about a quarter of all pieces, picked by {@code seed}.
         * Those neither done nor in flight become done; the rest are left as they are.
         */
        private void markDone(int seed) {
            java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
            java.util.BitSet have = new java.util.BitSet();
            for (int i = 0; i < count; i++) {
                if (rnd.nextInt(4) == 0) {
                    have.set(i);
                }
            }
            real.markDone(have);
            have.stream().filter(i -> !holders.containsKey(i)).forEach(done::add);
        }

        /** Done pieces are skipped where the next claim would look: the released queue's head, then the cursor. */
        private void skipDone() {
            while (!released.isEmpty() && done.contains(released.first())) {
                released.pollFirst();
            }
            if (released.isEmpty()) {
                while (fresh < available && done.contains(fresh)) {
                    fresh++;
                }
            }
        }

        private void claim(int link, long minAge) {
            skipDone();
            boolean endgame = released.isEmpty() && fresh >= count && available == count;
            int expected = expectedClaim(link, minAge);
            int got = real.claim(link, minAge);
            assertThat(got).as("claim(link %d, minAge %d)", link, minAge).isEqualTo(expected);
            if (got == NONE) {
                return;
            }
            assertThat(got).as("claimed piece is available").isLessThan(available);
            assertThat(done).as("a done piece is never handed out").doesNotContain(got);
            if (!endgame) {
                assertThat(holders).as("before the endgame, piece %d is not held already", got).doesNotContainKey(got);
                if (!released.remove(got)) {
                    assertThat(got).as("first-time claims ascend").isGreaterThan(lastFresh);
                    lastFresh = got;
                    fresh++;
                }
                holders.put(got, new ArrayList<>(List.of(link)));
            } else {
                List<Integer> h = holders.get(got);
                assertThat(h).as("an endgame copy is of a piece in flight").isNotNull();
                assertThat(h).as("an endgame copy is of a piece held by another link").isNotEmpty().doesNotContain(link);
                h.add(link);
                assertThat(h).as("holders of %d", got).hasSizeLessThanOrEqualTo(2);
                duplicates++;
            }
        }

        private void complete(int arg) {
            if (!done.isEmpty() && (arg % 5 == 0 || holders.isEmpty())) {
                int p = new ArrayList<>(done).get(arg % done.size());
                assertThat(real.complete(p)).as("completing %d again", p).isFalse();
                return;
            }
            if (holders.isEmpty()) {
                return;
            }
            int p = new ArrayList<>(holders.keySet()).get(arg % holders.size());
            assertThat(real.complete(p)).as("first completion of %d", p).isTrue();
            holders.remove(p);
            done.add(p);
        }

        private void release(int link, int arg) {
            List<Integer> mine = new ArrayList<>();
            holders.forEach((p, h) -> {
                if (h.contains(link)) {
                    mine.add(p);
                }
            });
            if (mine.isEmpty()) {
                if (count > 0) {
                    // releasing a piece the link does not hold (done, someone else's, never claimed) changes nothing
                    real.release(link, arg % count);
                }
                return;
            }
            int p = mine.get(arg % mine.size());
            real.release(link, p);
            dropHolder(p, link);
        }

        private void dropHolder(int piece, int link) {
            List<Integer> h = holders.get(piece);
            if (h != null && h.remove(Integer.valueOf(link)) && h.isEmpty()) {
                holders.remove(piece);
                released.add(piece);
            }
        }

        private void check(Op after) {
            String ctx = "after " + after;
            assertThat(real.remaining()).as("remaining " + ctx).isEqualTo(count - done.size());
            boolean endgame = available == count && released.isEmpty() && fresh == count && done.size() < count;
            assertThat(real.inEndgame()).as("inEndgame " + ctx).isEqualTo(endgame);
            assertThat(real.duplicateClaims()).as("duplicateClaims " + ctx).isEqualTo(duplicates);
            for (int p : done) {
                assertThat(real.isDone(p)).as("isDone(%d) %s", p, ctx).isTrue();
            }
            for (int p : holders.keySet()) {
                assertThat(real.isDone(p)).as("isDone(%d) %s", p, ctx).isFalse();
            }
        }

        /** Makes everything available, verifies every piece via the model, and checks the end state. */
        void finishEverything() {
            if (available < count) {
                apply(new Op(Kind.GROW, 1, count - available));
            }
            for (int guard = 0; done.size() < count; guard++) {
                assertThat(guard).as("finishing terminates").isLessThan(4 * count + 8);
                if (!holders.isEmpty()) {
                    apply(new Op(Kind.COMPLETE, 1, 1));
                } else {
                    apply(new Op(Kind.CLAIM, 1 + guard % LINKS, 0));
                }
            }
            assertThat(real.remaining()).isZero();
            assertThat(real.inEndgame()).isFalse();
            for (int link = 1; link <= LINKS; link++) {
                assertThat(real.claim(link, 0)).as("claim after all done").isEqualTo(NONE);
                assertThat(real.claim(link, NEVER)).as("claim after all done").isEqualTo(NONE);
            }
        }
    }
}
