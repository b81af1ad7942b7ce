package dev.biternet.server.session;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The figures the tail rules weigh a link with, on a clock the test moves. */
class RateBoardTest {
    private static final long PIECE = 1 << 20;
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private long now = 1_000 * SECOND;
    private final RateBoard board = new RateBoard(PIECE, () -> now);

    @Test
    void theOthersAreTheLinksWithAFreshReportAndTheirBacklogShrinksAtTheirRate() {
        board.report(1, 4 * PIECE, 2, now, 0.05);
        board.report(2, PIECE, 3, now, 0.2);
        board.report(3, 8 * PIECE, 0, 0, 0.01);
        now += SECOND / 4;

        RateBoard.Others others = board.others(1);

        assertThat(others.bytesPerSecond()).containsExactlyInAnyOrder(PIECE, 8 * PIECE);
        int slow = others.bytesPerSecond()[0] == PIECE ? 0 : 1;
        assertThat(others.backlogBytes()[slow]).isCloseTo(2.75 * PIECE, within(1.0));
        assertThat(others.rttSeconds()[slow]).isEqualTo(0.2);
        assertThat(others.backlogBytes()[1 - slow]).as("nothing outstanding").isZero();
        assertThat(board.backlog(1)).isCloseTo(1.0 * PIECE, within(1.0));
        assertThat(board.totalRate()).isEqualTo(13.0 * PIECE);
        // idle, link 3 would deliver a piece in 10 ms + 1/8 s, before link 1 (50 ms + 1/4 s)
        assertThat(board.soonestDelivery(PIECE)).isCloseTo(0.01 + 0.125, within(1e-9));
    }

    @Test
    void aBacklogNeverGoesBelowZero() {
        board.report(1, PIECE, 1, now, 0);
        now += 5 * SECOND / 2;
        assertThat(board.backlog(1)).isZero();
    }

    @Test
    void aLinkThatStopsReportingDropsOutOfTheSumsButKeepsItsLastFigures() {
        board.report(1, PIECE, 1, now, 0.1);
        board.report(2, 2 * PIECE, 1, now, 0.3);
        now += 2 * SECOND;
        board.report(2, 2 * PIECE, 1, now, 0.3);
        now += 3 * SECOND / 2;

        assertThat(board.totalRate()).isEqualTo(2.0 * PIECE);
        assertThat(board.others(2).bytesPerSecond()).isEmpty();
        assertThat(board.rate(1)).as("stale, still known").isEqualTo(PIECE);
        assertThat(board.rtt(1)).isEqualTo(0.1);
    }

    @Test
    void aLinkGoneOrReportingNoRateIsForgotten() {
        board.report(1, PIECE, 1, now, 0.1);
        board.report(2, PIECE, 1, now, 0.1);
        board.forget(1);
        board.report(2, 0, 0, 0, 0);

        assertThat(board.rate(1)).isZero();
        assertThat(board.rtt(2)).isZero();
        assertThat(board.totalRate()).isZero();
        assertThat(board.soonestDelivery(PIECE)).isInfinite();
    }
}
