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
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, 0.1)).isTrue();
    }

    @Test
    void aPieceTheHolderHasNearlyDeliveredIsLeftAlone() {
        double expected = (PIECE + LOWAT) / SLOW;
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, expected - 0.05)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, FAST, LOWAT, 0.06))
                .as("a fast holder's piece, not copied by a slower link").isFalse();
    }

    @Test
    void aPieceOnTimeOrSlightlyLateIsNotCopied() {
        double expected = (PIECE + LOWAT) / SLOW;
        // Measured claim-to-ack on the 2 Mbit/s link: 1.565 s against 1.573 s expected.
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, expected)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, expected + 0.15)).isFalse();
    }

    @Test
    void aHolderLateByMoreThanARetransmissionTimeoutHasItsPieceCopied() {
        double expected = (PIECE + LOWAT) / SLOW;
        // The lab case: the last piece on the 2 Mbit/s link, acked 1.3 s after its expected time.
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, expected + 0.25)).isTrue();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, SLOW, LOWAT, expected + 1.0)).isTrue();
        // A fast holder stalled: copied by a medium link once late by that link's time for it.
        double fastExpected = (PIECE + LOWAT) / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, FAST, LOWAT, fastExpected + 0.1)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, MEDIUM, FAST, LOWAT, fastExpected + 0.25)).isTrue();
    }

    @Test
    void aSlowIdleLinkCopiesAFastHoldersPieceOnlyOnceTheHolderIsOverdue() {
        double fastExpected = (PIECE + LOWAT) / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, SLOW, FAST, LOWAT, fastExpected + 0.3)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, SLOW, FAST, LOWAT, 2 * fastExpected + 0.6)).isTrue();
    }

    @Test
    void unknownRates() {
        assertThat(EndgameRule.worthCopying(PIECE, 0, SLOW, LOWAT, 0)).as("own rate unknown: copy").isTrue();
        double mine = PIECE / FAST;
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, LOWAT, 1.9 * mine)).isFalse();
        assertThat(EndgameRule.worthCopying(PIECE, FAST, 0, LOWAT, 2 * mine)).isTrue();
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
                    if (age > expected && EndgameRule.worthCopying(length, mine, holder, LOWAT, age)) {
                        assertThat(EndgameRule.worthCopying(length, mine, holder, LOWAT, age + more))
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
                        assertThat(EndgameRule.worthCopying(length, mine, holder, LOWAT, age))
                                .as("length %d, rates %.0f / %.0f, age %.3f", length, mine, holder, age).isFalse();
                    }
                });
    }
}
