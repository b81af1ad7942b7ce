package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;

import org.junit.jupiter.api.Test;

/**
 * When an idle link copies another link's piece at the end. Rates of the lab's 40 / 20 / 2
 * Mbit/s links as the server measures them (about 4.8, 2.4 and 0.25 MB/s), 256 KiB pieces.
 */
class EndgameRuleTest {
    private static final double PIECE = 256 << 10;
    private static final double LOWAT = 128 << 10;
    private static final double FAST = 4.8e6;
    private static final double MEDIUM = 2.4e6;
    private static final double SLOW = 0.25e6;

    @Test
    void aSlowLinksFreshPieceIsCopiedByAFastIdleLink() {
        // The slow link needs ~1.57 s for it; the fast one 0.055 s.
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, 0.1)).isTrue();
    }

    /** 25 Mbit/s as the server measures it, and the piece size of the lab's 128 MiB file. */
    private static final double EQUAL = 2.99e6;
    private static final double SMALL_PIECE = 128 << 10;

    @Test
    void anEqualLinkWithAPieceOfItsOwnStillToDeliverDoesNotCopyAFreshPiece() {
        assertThat(EndgameRule.worthCopying(SMALL_PIECE, EQUAL, 0, 0, EQUAL, 0, LOWAT, 0.01)).as("idle: copied").isTrue();
        assertThat(EndgameRule.worthCopying(SMALL_PIECE, EQUAL, SMALL_PIECE, 0, EQUAL, 0, LOWAT, 0.01))
                .as("its copy would queue behind its own piece and arrive with the holder's").isFalse();
        double expected = (SMALL_PIECE + LOWAT) / EQUAL;
        assertThat(EndgameRule.worthCopying(SMALL_PIECE, EQUAL, SMALL_PIECE, 0, EQUAL, 0, LOWAT, expected + 0.25))
                .as("a late holder is still copied").isTrue();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, PIECE, 0, SLOW, 0, LOWAT, 0.1))
                .as("a fast link with a piece of its own still copies a slow link's fresh piece").isTrue();
    }

    @Test
    void aPieceTheHolderHasNearlyDeliveredIsLeftAlone() {
        double expected = (PIECE + LOWAT) / SLOW;
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, expected - 0.05)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, 0, 0, FAST, 0, LOWAT, 0.06))
                .as("a fast holder's piece, not copied by a slower link").isFalse();
    }

    @Test
    void aPieceOnTimeOrSlightlyLateIsNotCopied() {
        double expected = (PIECE + LOWAT) / SLOW;
        // Measured claim-to-ack on the 2 Mbit/s link: 1.565 s against 1.573 s expected.
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, expected)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, expected + 0.15)).isFalse();
    }

    @Test
    void aHolderLateByMoreThanARetransmissionTimeoutHasItsPieceCopied() {
        double expected = (PIECE + LOWAT) / SLOW;
        // The lab case: the last piece on the 2 Mbit/s link, acked 1.3 s after its expected time.
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, expected + 0.25)).isTrue();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, SLOW, 0, LOWAT, expected + 1.0)).isTrue();
        // A fast holder stalled: copied by a medium link once late by that link's time for it.
        double fastExpected = (PIECE + LOWAT) / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, 0, 0, FAST, 0, LOWAT, fastExpected + 0.1)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, 0, 0, FAST, 0, LOWAT, fastExpected + 0.25)).isTrue();
    }

    @Test
    void aSlowIdleLinkCopiesAFastHoldersPieceOnlyOnceTheHolderIsOverdue() {
        double fastExpected = (PIECE + LOWAT) / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, SLOW, 0, 0, FAST, 0, LOWAT, fastExpected + 0.3)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, SLOW, 0, 0, FAST, 0, LOWAT, 2 * fastExpected + 0.6)).isTrue();
    }

    @Test
    void unknownRates() {
        assertThat(EndgameRule.worthCopying(PIECE, 0, 0, 0, SLOW, 0, LOWAT, 0)).as("own rate unknown: copy").isTrue();
        double mine = PIECE / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, 0, 0, LOWAT, 1.9 * mine)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, 0, 0, 0, LOWAT, 2 * mine)).isTrue();
    }

    /**
     * Once a piece is worth copying because its holder is late, it stays so: waiting longer
     * never makes a stalled holder look better.
     */
    @Test
    void lateStaysLate() {
        qt().forAll(integers().between(16 << 10, 4 << 20), doubles().between(1e4, 1e8), doubles().between(1e4, 1e8),
                doubles().between(0, 30).zip(doubles().between(0, 30), (a, b) -> new double[] {a, b}))
                .checkAssert((length, mine, holder, ages) -> {
                    double age = ages[0];
                    double more = ages[1];
                    double expected = (length + LOWAT) / holder;
                    if (age > expected && EndgameRule.worthCopying(length, mine, 0, 0, holder, 0, LOWAT, age)) {
                        assertThat(EndgameRule.worthCopying(length, mine, 0, 0, holder, 0, LOWAT, age + more))
                                .as("length %d, rates %.0f / %.0f, age %.3f + %.3f", length, mine, holder, age, more)
                                .isTrue();
                    }
                });
    }

    /** An idle link never copies a piece the holder will deliver before this link could. */
    @Test
    void neverCopiesWhatTheHolderDeliversSoonerWhileOnTime() {
        qt().forAll(integers().between(16 << 10, 4 << 20), doubles().between(1e4, 1e8), doubles().between(1e4, 1e8),
                doubles().between(0, 30))
                .checkAssert((length, mine, holder, age) -> {
                    double holderLeft = (length + LOWAT) / holder - age;
                    if (holderLeft >= 0 && holderLeft < length / mine) {
                        assertThat(EndgameRule.worthCopying(length, mine, 0, 0, holder, 0, LOWAT, age))
                                .as("length %d, rates %.0f / %.0f, age %.3f", length, mine, holder, age).isFalse();
                    }
                });
    }

    @Test
    void theMediumLinkLeavesTheLastPieceToTheFastLinkThatDeliversItSooner() {
        // The lab's [330, 166, 16] ending: the 20 Mbit/s link would need 0.16 s for the last
        // piece (behind 128 KiB of its own), the 40 Mbit/s link 0.075 s (behind 100 KB).
        double[] rates = {FAST, SLOW};
        double[] backlogs = {100_000, 200_000};
        assertThat(EndgameRule.refrain(PIECE, MEDIUM, LOWAT, 0, rates, backlogs, new double[2], 1)).isTrue();
        // Three left: the fast link would deliver its third at 0.19 s; the medium link one at 0.16 s.
        assertThat(EndgameRule.refrain(PIECE, MEDIUM, LOWAT, 0, rates, backlogs, new double[2], 3)).isFalse();
    }

    @Test
    void theSlowLinkTakesNoPieceItWouldFinishAfterTheOthersFinishEverything() {
        double[] rates = {FAST, MEDIUM};
        double[] backlogs = {0, 0};
        // 10 pieces take the others ~0.38 s; the 2 Mbit/s link needs 1.6 s for one.
        assertThat(EndgameRule.refrain(PIECE, SLOW, LOWAT, 0, rates, backlogs, new double[2], 10)).isTrue();
        // 60 take them ~2.2 s: a piece on the slow link is then done before they are.
        assertThat(EndgameRule.refrain(PIECE, SLOW, LOWAT, 0, rates, backlogs, new double[2], 60)).isFalse();
    }

    @Test
    void nothingLeftOrNobodyElseMeansNoRefraining() {
        assertThat(EndgameRule.refrain(PIECE, SLOW, 0, 0, new double[] {FAST}, new double[] {0}, new double[] {0}, 0)).isFalse();
        assertThat(EndgameRule.refrain(PIECE, SLOW, 0, 0, new double[0], new double[0], new double[0], 5)).isFalse();
    }

    /** A link that would deliver a piece before any other link could deliver one never refrains. */
    @Test
    void theFirstToDeliverNeverRefrains() {
        qt().forAll(doubles().between(1e4, 1e8), doubles().between(0, 4e6),
                doubles().between(1e4, 1e8).zip(doubles().between(0, 4e6), (r, b) -> new double[] {r, b}),
                integers().between(1, 200))
                .checkAssert((myRate, myBacklog, other, unclaimed) -> {
                    double mine = (myBacklog + PIECE) / myRate;
                    double theirs = (other[1] + PIECE) / other[0];
                    if (mine <= theirs) {
                        assertThat(EndgameRule.refrain(PIECE, myRate, myBacklog, 0, new double[] {other[0]},
                                new double[] {other[1]}, new double[1], unclaimed)).as("mine %.3f s, theirs %.3f s", mine, theirs).isFalse();
                    }
                });
    }

    /** Refraining never leaves the last piece later than claiming would: by construction, checked. */
    @Test
    void refrainingHelpsOrIsNotChosen() {
        qt().forAll(doubles().between(1e4, 1e8), doubles().between(1e4, 1e8), doubles().between(1e4, 1e8),
                integers().between(1, 100))
                .checkAssert((myRate, fast, medium, unclaimed) -> {
                    double[] rates = {fast, medium};
                    double[] backlogs = {PIECE, 0};
                    boolean refrain = EndgameRule.refrain(PIECE, myRate, 0, 0, rates, backlogs, new double[2], unclaimed);
                    double alone = finish(rates, backlogs, unclaimed);
                    double shared = Math.max(PIECE / myRate, finish(rates, backlogs, unclaimed - 1));
                    assertThat(refrain).as("refrain %s: alone %.4f, shared %.4f", refrain, alone, shared)
                            .isEqualTo(shared > alone);
                });
    }

    /** The satellite mix: 50 Mbit/s with 500 ms round trip, 20 Mbit/s with 20 ms. */
    private static final double SAT = 6.0e6;
    private static final double SAT_RTT = 0.5;
    private static final double SHORT = 2.4e6;
    private static final double SHORT_RTT = 0.02;
    private static final double SMALL = 128 << 10;

    @Test
    void aLongLinkLeavesTheLastPiecesToAShortOneThoughItsRateIsHigher() {
        // Three left: the short link delivers them within 0.19 s, the long one none before 0.52 s.
        assertThat(EndgameRule.refrain(SMALL, SAT, 0, SAT_RTT, new double[] {SHORT}, new double[] {0},
                new double[] {SHORT_RTT}, 3)).isTrue();
        assertThat(EndgameRule.refrain(SMALL, SAT, 0, 0, new double[] {SHORT}, new double[] {0},
                new double[] {SHORT_RTT}, 3)).as("without its round trip it would take one").isFalse();
        // Forty left take the short link 2.2 s: the long link's share arrives well before.
        assertThat(EndgameRule.refrain(SMALL, SAT, 0, SAT_RTT, new double[] {SHORT}, new double[] {0},
                new double[] {SHORT_RTT}, 40)).isFalse();
        assertThat(EndgameRule.refrain(SMALL, SHORT, 0, SHORT_RTT, new double[] {SAT}, new double[] {0},
                new double[] {SAT_RTT}, 3)).as("the short link takes them").isFalse();
    }

    @Test
    void aLongIdleLinkDoesNotCopyWhatAShortLinkDeliversWithinItsRoundTrip() {
        double shortExpected = SHORT_RTT + (SMALL + LOWAT) / SHORT;
        assertThat(EndgameRule.worthCopying(SMALL, SAT, 0, SAT_RTT, SHORT, SHORT_RTT, LOWAT, 0.01)).isFalse();
        assertThat(EndgameRule.worthCopying(SMALL, SAT, 0, 0, SHORT, SHORT_RTT, LOWAT, 0.01))
                .as("a copier without a round trip would").isTrue();
        // Stalled by more than what the long link needs: copied.
        assertThat(EndgameRule.worthCopying(SMALL, SAT, 0, SAT_RTT, SHORT, SHORT_RTT, LOWAT, shortExpected + 0.3))
                .isFalse();
        assertThat(EndgameRule.worthCopying(SMALL, SAT, 0, SAT_RTT, SHORT, SHORT_RTT, LOWAT, shortExpected + 0.6))
                .isTrue();
    }

    @Test
    void aShortIdleLinkCopiesALongLinksFreshPieceButNotOneAboutToArrive() {
        double satExpected = SAT_RTT + (SMALL + LOWAT) / SAT;
        assertThat(EndgameRule.worthCopying(SMALL, SHORT, 0, SHORT_RTT, SAT, SAT_RTT, LOWAT, 0.05)).isTrue();
        assertThat(EndgameRule.worthCopying(SMALL, SHORT, 0, SHORT_RTT, SAT, SAT_RTT, LOWAT, satExpected - 0.05))
                .isFalse();
    }

    /** With round trips too, a link that would deliver a piece before any other could never refrains. */
    @Test
    void theFirstToDeliverNeverRefrainsWhateverTheRoundTrips() {
        qt().forAll(doubles().between(1e4, 1e8).zip(doubles().between(0, 4e6), (r, b) -> new double[] {r, b}),
                doubles().between(0, 1),
                doubles().between(1e4, 1e8).zip(doubles().between(0, 4e6), (r, b) -> new double[] {r, b}),
                doubles().between(0, 1).zip(integers().between(1, 200), (rtt, n) -> new double[] {rtt, n}))
                .checkAssert((me, myRtt, other, rest) -> {
                    double mine = EndgameRule.start(me[0], me[1], myRtt) + PIECE / me[0];
                    double theirs = EndgameRule.start(other[0], other[1], rest[0]) + PIECE / other[0];
                    if (mine <= theirs) {
                        assertThat(EndgameRule.refrain(PIECE, me[0], me[1], myRtt, new double[] {other[0]},
                                new double[] {other[1]}, new double[] {rest[0]}, (int) rest[1]))
                                .as("mine %.3f s, theirs %.3f s", mine, theirs).isFalse();
                    }
                });
    }

    /** An idle link never copies a piece the holder, on time, will deliver before this link could. */
    @Test
    void neverCopiesWhatTheHolderDeliversSoonerWhateverTheRoundTrips() {
        qt().forAll(integers().between(16 << 10, 4 << 20), doubles().between(1e4, 1e8).zip(doubles().between(0, 1),
                        (r, rtt) -> new double[] {r, rtt}),
                doubles().between(1e4, 1e8).zip(doubles().between(0, 1), (r, rtt) -> new double[] {r, rtt}),
                doubles().between(0, 30))
                .checkAssert((length, me, holder, age) -> {
                    double holderLeft = holder[1] + (length + LOWAT) / holder[0] - age;
                    double mine = me[1] + length / me[0];
                    if (holderLeft >= 0 && holderLeft < mine) {
                        assertThat(EndgameRule.worthCopying(length, me[0], 0, me[1], holder[0], holder[1], LOWAT, age))
                                .as("length %d, me %s, holder %s, age %.3f", length, java.util.Arrays.toString(me),
                                        java.util.Arrays.toString(holder), age).isFalse();
                    }
                });
    }

    /** Brute force: the best finish time of {@code pieces} pieces over two links, any split. */
    private static double finish(double[] rates, double[] backlogs, int pieces) {
        if (pieces == 0) {
            return 0;
        }
        double best = Double.MAX_VALUE;
        for (int a = 0; a <= pieces; a++) {
            int b = pieces - a;
            double ta = a == 0 ? 0 : (backlogs[0] + a * PIECE) / rates[0];
            double tb = b == 0 ? 0 : (backlogs[1] + b * PIECE) / rates[1];
            best = Math.min(best, Math.max(ta, tb));
        }
        return best;
    }
}
