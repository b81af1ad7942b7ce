package dev.biternet.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LinkBudgetTest {
    private static final long PIECE = 1 << 20;

    @Test
    void noPieceStartsThatCouldPassTheCap() {
        LinkBudget b = new LinkBudget(3 * PIECE + 10, 0);
        assertThat(b.book(PIECE, PIECE)).isTrue();
        assertThat(b.book(PIECE, PIECE)).isTrue();
        assertThat(b.book(PIECE, PIECE)).isTrue();
        assertThat(b.book(10, PIECE)).as("room for 10 bytes is no room for a piece").isFalse();
        b.giveBack(PIECE / 2); // half a piece was never sent
        assertThat(b.book(PIECE, PIECE)).isFalse();
        b.giveBack(PIECE / 2);
        assertThat(b.book(PIECE, PIECE)).isTrue();
    }

    @Test
    void flowsOnFourThreadsNeverBookPastTheCap() throws Exception {
        qt().withExamples(20).forAll(integers().between(1, 40)).checkAssert(pieces -> {
            LinkBudget b = new LinkBudget(pieces * PIECE, 0);
            AtomicLong sent = new AtomicLong();
            ExecutorService flows = Executors.newFixedThreadPool(4);
            for (int f = 0; f < 4; f++) {
                flows.execute(() -> {
                    for (int i = 0; i < 100; i++) {
                        if (b.book(PIECE, PIECE)) {
                            sent.addAndGet(PIECE);
                        }
                    }
                });
            }
            flows.shutdown();
            try {
                assertThat(flows.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            assertThat(sent.get()).isEqualTo(pieces * PIECE);
        });
    }

    @Test
    void oneClockPacesEveryFlowOfTheLink() {
        qt().forAll(lists().of(integers().between(1, 1 << 17)).ofSizeBetween(1, 50)).checkAssert(blocks -> {
            long rate = 1 << 20;
            LinkBudget b = new LinkBudget(0, rate);
            long now = 0;
            long bytes = 0;
            for (int block : blocks) {
                long wait = b.pace(now, block);
                if (wait > 0) {
                    now += wait;
                    assertThat(b.pace(now, block)).isZero();
                }
                bytes += block;
            }
            // the last block went at `now`: everything before it took its time at the rate
            assertThat(now).isGreaterThanOrEqualTo((long) ((bytes - blocks.get(blocks.size() - 1)) * 1e9 / rate) - blocks.size());
        });
    }

    @Test
    void noLimitsMeansNoWaiting() {
        LinkBudget b = new LinkBudget(0, 0);
        for (int i = 0; i < 1000; i++) {
            assertThat(b.book(PIECE, PIECE)).isTrue();
            assertThat(b.pace(0, PIECE)).isZero();
        }
    }

    @Test
    void limitsRaiseTheCapByWhatTheTotalPassesOnceAndNeverLowerIt() {
        LinkBudget b = new LinkBudget(PIECE, 0, 100);
        assertThat(b.book(PIECE, PIECE)).isTrue();
        assertThat(b.book(PIECE, PIECE)).isFalse();
        assertThat(b.limit(100, 0)).as("the Attach's own total").isFalse();
        assertThat(b.limit(50, 0)).as("a lower total").isFalse();
        assertThat(b.limit(100 + PIECE, 0)).isTrue();
        assertThat(b.limit(100 + PIECE, 0)).as("repeated").isFalse();
        assertThat(b.book(PIECE, PIECE)).isTrue();
        assertThat(b.book(PIECE, PIECE)).isFalse();
        assertThat(b.limit(-1L, 0)).as("2^64 - 1").isTrue();
        assertThat(b.capBytes()).as("saturated, not wrapped").isEqualTo(Long.MAX_VALUE);
        assertThat(b.book(PIECE, PIECE)).isTrue();
    }

    @Test
    void aLinkWithoutACapGetsNoneAndANewRateLetsTheNextBlockGo() {
        LinkBudget none = new LinkBudget(0, 1);
        assertThat(none.limit(1 << 30, 0)).isFalse();
        assertThat(none.book(PIECE, PIECE)).isTrue();
        assertThat(none.pace(0, PIECE)).isZero();
        assertThat(none.pace(1, PIECE)).as("a block at 1 byte a second").isGreaterThan(1_000_000_000L);
        assertThat(none.limit(0, 1 << 30)).isTrue();
        assertThat(none.pace(System.nanoTime(), PIECE)).as("at the new rate, at once").isZero();
    }
}
