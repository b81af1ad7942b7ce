package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Percentage.withPercentage;

import org.junit.jupiter.api.Test;

/** A link's delivery rate from its acks, steady and in the bursts that follow a retransmission stall. */
class DeliveryRateTest {
    private static final long PIECE = 128 << 10;
    private static final long MS = 1_000_000;

    @Test
    void evenlySpacedAcksGiveTheLinksRate() {
        DeliveryRate r = new DeliveryRate();
        for (int i = 0; i < 30; i++) {
            r.ack(PIECE, 35 * MS); // 3.75 MB/s: 30 Mbit/s
        }
        assertThat(r.bytesPerSecond()).isCloseTo(PIECE / 0.035, withPercentage(0.1));
    }

    /**
     * A lossy 30 Mbit/s link: a segment lost, nothing for 0.3 s, then the pieces held up behind it
     * all at once. What it delivered over the stall and the burst is what counts, not the
     * burst's instant rate: the average of ratios put it at hundreds of MB/s (sums decaying
     * per ack at 2.4 times its rate), and the link beside it, lossless and as fast, then stood
     * aside at the end.
     */
    @Test
    void aBurstAfterAStallDoesNotMakeALossyLinkLookFast() {
        DeliveryRate r = new DeliveryRate();
        for (int i = 0; i < 30; i++) {
            r.ack(PIECE, 35 * MS);
        }
        r.ack(PIECE, 300 * MS);
        for (int i = 0; i < 8; i++) {
            r.ack(PIECE, MS / 100);
        }
        double delivered = 9.0 * PIECE / (0.3 + 8 * 1e-5);
        assertThat(r.bytesPerSecond()).as("near the steady rate").isCloseTo(PIECE / 0.035, withPercentage(10))
                .as("which the stall and the burst delivered too").isCloseTo(delivered, withPercentage(10));
    }

    @Test
    void aLinkThatSlowsDownIsFollowedWithinAFewAcks() {
        DeliveryRate r = new DeliveryRate();
        for (int i = 0; i < 30; i++) {
            r.ack(PIECE, 35 * MS);
        }
        for (int i = 0; i < 15; i++) {
            r.ack(PIECE, 175 * MS); // a fifth of the rate
        }
        assertThat(r.bytesPerSecond()).isCloseTo(PIECE / 0.175, withPercentage(10));
    }

    @Test
    void noAckNoRate() {
        assertThat(new DeliveryRate().bytesPerSecond()).isZero();
        assertThat(new DeliveryRate().samples()).isZero();
    }
}
