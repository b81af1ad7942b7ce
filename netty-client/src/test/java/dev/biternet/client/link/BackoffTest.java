package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.RepeatedTest;

/** The waits between connection attempts: doubling from 0.25 s to 5 s, each within 20 %. */
class BackoffTest {
    @RepeatedTest(20)
    void waitsDoubleUpToTheCapWithinTwentyPercent() {
        Backoff b = new Backoff();
        long[] nominal = {250, 500, 1000, 2000, 4000, 5000, 5000};
        for (long n : nominal) {
            assertThat(b.next()).isBetween((long) (0.8 * n), (long) (1.2 * n));
        }
        b.reset();
        assertThat(b.next()).isBetween(200L, 300L);
    }

    @RepeatedTest(5)
    void aNewFlowConnectsAtOnceThenWaitsAsUsual() {
        Backoff b = Backoff.immediate();
        assertThat(b.next()).isZero();
        assertThat(b.next()).isBetween(200L, 300L);
        assertThat(b.next()).isBetween(400L, 600L);
    }
}
