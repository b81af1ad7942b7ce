package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.store.PieceBudget;
import dev.biternet.proto.Credit;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What one connection tells the server of its window, on a clock of the test's own: a Credit
 * only when the window changed or the round trip moved by more than an eighth, never a window
 * the download's piece budget cannot pay for, 0 while standing by (with a keepalive every 20 s)
 * and when retiring.
 */
class FlowCreditTest {
    private static final int PIECE = 256 << 10;
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long S = TimeUnit.SECONDS.toNanos(1);

    /** Attached at 100 s with a 10 ms handshake, its budget {@code shared} pieces. */
    private static FlowCredit attached(int shared) {
        FlowCredit c = new FlowCredit();
        long t = 100 * S;
        c.asked(t - 20 * MS);
        c.welcomed(t - 10 * MS);
        c.attach(PIECE, new PieceBudget(shared).share(), t, true);
        return c;
    }

    @Test
    void theHandshakesRoundTripIsTheFirstSampleAndGoesOutWithTheFirstTick() {
        FlowCredit c = attached(100);
        assertThat(c.rtt()).isEqualTo(0.01);

        Credit first = c.tick(100 * S + 250 * MS, 0, false, 1);

        assertThat(first.getWindow()).isEqualTo(FlowWindow.INITIAL_WINDOW);
        assertThat(first.getRttUs()).isEqualTo(10_000);
        assertThat(c.tick(100 * S + 500 * MS, 0, false, 1)).as("nothing changed: no Credit").isNull();
    }

    @Test
    void aRoundTripMovedByMoreThanAnEighthIsToldTheServer() {
        FlowCredit c = attached(100);
        c.tick(100 * S + 250 * MS, 0, false, 1);
        c.asked(101 * S);
        c.attachAnswered(101 * S + 18 * MS); // smoothed: 10 ms + (18 - 10) / 8 = 11 ms, an eighth more: not told
        assertThat(c.tick(101 * S + 250 * MS, 0, false, 1)).isNull();
        c.asked(102 * S);
        c.attachAnswered(102 * S + 30 * MS); // 11 ms + 19 / 8 ms: moved by more than an eighth

        Credit told = c.tick(102 * S + 250 * MS, 0, false, 1);

        assertThat(told.getRttUs()).isEqualTo((int) (c.rtt() * 1e6));
        assertThat(told.getWindow()).isEqualTo(FlowWindow.INITIAL_WINDOW);
    }

    @Test
    void theWindowGrowsWithDeliveryWithinTheLinksShareOfTheByteCap() {
        FlowCredit c = attached(1000);
        long t = 100 * S;
        long bytes = 0;
        int window = 0;
        for (int i = 1; i <= 40; i++) {
            bytes += 100L << 20; // 400 MB/s at 250 ms ticks
            Credit cr = c.tick(t + i * 250 * MS, bytes, false, 2);
            window = cr == null ? window : cr.getWindow();
        }
        assertThat(window).isGreaterThan(FlowWindow.INITIAL_WINDOW)
                .isEqualTo((int) (FlowCredit.MAX_WINDOW_BYTES / 2 / PIECE));
    }

    /** The client's memory bound: above its own pieces, a window is only what the budget pays for. */
    @Test
    void aWindowAboveTheConnectionsOwnPiecesIsOnlyWhatTheBudgetPaysFor() {
        FlowCredit c = attached(3);
        long bytes = 0;
        int window = FlowWindow.INITIAL_WINDOW;
        for (int i = 1; i <= 20; i++) {
            bytes += 100L << 20;
            Credit cr = c.tick(100 * S + i * 250 * MS, bytes, false, 1);
            window = cr == null ? window : cr.getWindow();
        }
        assertThat(window).isEqualTo(PieceBudget.OWN_PIECES + 3);
    }

    @Test
    void standingByGrantsNothingButAKeepaliveEveryTwentySeconds() {
        FlowCredit c = attached(100);
        Credit off = c.standBy(true, 100 * S, 0);
        assertThat(off.getWindow()).isZero();
        assertThat(off.getRttUs()).as("with the round trip").isEqualTo(10_000);

        assertThat(c.tick(110 * S, 0, true, 1).getWindow()).as("the first keepalive").isZero();
        assertThat(c.tick(125 * S, 0, true, 1)).isNull();
        assertThat(c.tick(130 * S + 1, 0, true, 1).getWindow()).as("20 s later").isZero();

        Credit on = c.standBy(false, 131 * S, 0);
        assertThat(on.getWindow()).isEqualTo(FlowWindow.INITIAL_WINDOW);
        assertThat(on.getRttUs()).isEqualTo(10_000);
    }

    @Test
    void retiringGrantsZeroAndClosesAfterTwoQuietRoundTrips() {
        FlowCredit c = attached(100);

        assertThat(c.retire().getWindow()).isZero();

        assertThat(c.window()).isZero();
        assertThat(c.retireQuietNanos()).as("at least half a second").isEqualTo(500 * MS);
        FlowCredit slow = new FlowCredit();
        slow.asked(S);
        slow.welcomed(2 * S);
        slow.attach(PIECE, new PieceBudget(1).share(), 2 * S, false);
        assertThat(slow.retireQuietNanos()).as("two round trips of 1 s").isEqualTo(2 * S);
    }
}
