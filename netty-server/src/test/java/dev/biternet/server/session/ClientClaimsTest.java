package dev.biternet.server.session;

import static dev.biternet.server.session.PieceAllocator.NONE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/**
 * {@link LocalPieceAllocator} in client-claims mode (protocol 2, several servers), against a
 * small model: random grants, withdrawals, claims, completions, releases and growing
 * availability from several links.
 */
class ClientClaimsTest {
    private static final int LINKS = 3;
    /** Any in-flight piece is worth a copy: the endgame flag alone decides. */
    private static final PieceAllocator.EndgamePolicy ALWAYS = (index, holder, age) -> true;

    enum Kind { GRANT, WITHDRAW, CLAIM, COMPLETE, RELEASE, RELEASE_ALL, GROW }

    record Op(Kind kind, int link, int a, int b, boolean endgame) { }

    private static Gen<Op> ops() {
        Kind[] kinds = {Kind.GRANT, Kind.WITHDRAW, Kind.CLAIM, Kind.CLAIM, Kind.CLAIM, Kind.COMPLETE, Kind.RELEASE,
            Kind.RELEASE_ALL, Kind.GROW};
        return integers().between(0, kinds.length - 1).zip(integers().between(1, LINKS), integers().between(0, 1 << 16),
                integers().between(0, 1 << 16), (k, link, a, b) -> new Op(kinds[k], link, a, b, (a & 7) == 0));
    }

    private static final Gen<List<Op>> RUNS = lists().of(ops()).ofSizeBetween(0, 150);

    /** The model: what the client granted and withdrew, who holds what, what is done. */
    private static final class Model {
        final int count;
        final LocalPieceAllocator real;
        final BitSet granted = new BitSet();
        final BitSet done = new BitSet();
        final Map<Integer, java.util.Set<Integer>> holder = new HashMap<>();
        boolean endgame;
        int available;

        Model(int count) {
            this.count = count;
            this.real = new LocalPieceAllocator(count);
            assertThat(real.useClientClaims()).isTrue();
        }

        void apply(Op op) {
            if (count == 0) {
                return;
            }
            int first = op.a() % count;
            int n = op.b() % (count - first + 1);
            switch (op.kind()) {
                case GRANT -> {
                    real.grant(first, n, op.endgame());
                    endgame = op.endgame();
                    for (int i = first; i < first + n; i++) {
                        if (!done.get(i)) {
                            granted.set(i);
                        }
                    }
                }
                case WITHDRAW -> {
                    real.withdraw(first, n);
                    granted.clear(first, first + n);
                    for (int i = first; i < first + n; i++) {
                        if (holder.remove(i) != null) {
                            assertThat(real.wanted(i)).as("a withdrawn piece in flight is no longer wanted").isFalse();
                        }
                    }
                }
                case CLAIM -> claim(op.link());
                case COMPLETE -> {
                    real.complete(first);
                    done.set(first);
                    granted.clear(first);
                    holder.remove(first);
                }
                case RELEASE -> {
                    real.release(op.link(), first);
                    drop(first, op.link());
                }
                case RELEASE_ALL -> {
                    real.releaseAll(op.link());
                    List.copyOf(holder.keySet()).forEach(i -> drop(i, op.link()));
                }
                case GROW -> {
                    available = Math.max(available, Math.min(count, available + 1 + op.a() % 4));
                    real.setAvailable(available);
                }
            }
        }

        void claim(int link) {
            int index = real.claim(link, ALWAYS);
            if (index == NONE) {
                assertThat(claimable().nextSetBit(0)).as("nothing granted, free and available was left")
                        .isNotIn(availableRange());
                return;
            }
            assertThat(granted.get(index)).as("piece %d was claimed without the client's grant", index).isTrue();
            assertThat(done.get(index)).as("piece %d is done", index).isFalse();
            if (holder.containsKey(index)) {
                assertThat(endgame).as("a copy of piece %d outside the client's endgame", index).isTrue();
                assertThat(holder.get(index)).as("a copy to the link that holds it").doesNotContain(link);
                holder.get(index).add(link);
            } else {
                assertThat(index).as("the lowest granted free piece").isEqualTo(claimable().nextSetBit(0));
                holder.put(index, new java.util.HashSet<>(List.of(link)));
            }
        }

        void drop(int index, int link) {
            java.util.Set<Integer> h = holder.get(index);
            if (h != null && h.remove(link) && h.isEmpty()) {
                holder.remove(index);
            }
        }

        BitSet claimable() {
            BitSet c = (BitSet) granted.clone();
            c.andNot(done);
            holder.keySet().forEach(c::clear);
            return c;
        }

        List<Integer> availableRange() {
            return java.util.stream.IntStream.range(0, available).boxed().toList();
        }
    }

    @Test
    void neverHandsOutAPieceTheClientDidNotGrant() {
        qt().withExamples(500).forAll(integers().between(0, 40), RUNS).checkAssert((count, ops) -> {
            Model m = new Model(count);
            ops.forEach(m::apply);
            m.apply(new Op(Kind.GROW, 1, count, 0, false));
            for (int i = 0; i < count + 2; i++) {
                m.claim(1 + i % LINKS);
            }
        });
    }

    @Test
    void anUnclaimedPieceGoesBackAndAGrantAgainHandsItOut() {
        qt().withExamples(300).forAll(integers().between(1, 40), integers().between(1, LINKS)).checkAssert((count, link) -> {
            LocalPieceAllocator a = new LocalPieceAllocator(count);
            a.useClientClaims();
            a.setAvailable(count);
            assertThat(a.claim(link, ALWAYS)).as("nothing granted yet").isEqualTo(NONE);
            a.grant(0, count, false);
            int held = a.claim(link, ALWAYS);
            assertThat(held).isZero();
            a.withdraw(0, count);
            assertThat(a.wanted(held)).as("withdrawn while in flight: its sender stops").isFalse();
            assertThat(a.claim(link, ALWAYS)).as("nothing granted after the withdrawal").isEqualTo(NONE);
            a.grant(held, 1, false);
            assertThat(a.claim(link % LINKS + 1, ALWAYS)).as("granted again: claimable again").isEqualTo(held);
            assertThat(a.wanted(held)).isTrue();
        });
    }

    @Test
    void copiesOnlyWhileTheClientSaysTheEndIsNear() {
        LocalPieceAllocator a = new LocalPieceAllocator(4);
        a.useClientClaims();
        a.setAvailable(4);
        a.grant(0, 2, false);
        assertThat(a.claim(1, ALWAYS)).isEqualTo(0);
        assertThat(a.claim(1, ALWAYS)).isEqualTo(1);
        assertThat(a.claim(2, ALWAYS)).as("no copy before the client's endgame").isEqualTo(NONE);
        assertThat(a.inEndgame()).isFalse();
        a.grant(0, 0, true);
        assertThat(a.inEndgame()).isTrue();
        assertThat(a.claim(2, ALWAYS)).as("a copy of the oldest piece in flight").isEqualTo(0);
        assertThat(a.duplicateClaims()).isEqualTo(1);
    }

    @Test
    void aSessionOfTheUsualModeRefusesGrants() {
        LocalPieceAllocator a = new LocalPieceAllocator(4);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> a.grant(0, 1, false))
                .isInstanceOf(IllegalStateException.class);
        assertThat(a.wanted(0)).isTrue();
    }
}
