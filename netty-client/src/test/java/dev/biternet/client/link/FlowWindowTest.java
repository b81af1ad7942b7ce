package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.doubles;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import org.junit.jupiter.api.Test;

/**
 * The credit window against a model link: a capacity, a round trip, and a window that caps
 * what is in flight, so that the rate a tick measures is what the link would really deliver
 * with that window (the feedback that kept long links slow).
 */
class FlowWindowTest {
    private static final long PIECE = 128 << 10;
    private static final long CAP = 32L << 20;
    private static final double TICK = 0.25;
    /** Hashing and writing a piece at the client before its ack goes out. */
    private static final double PROCESSING = 0.005;

    /** A link of {@code capacity} bytes/s and round trip {@code rtt} s, run with a window. */
    private record Link(double capacity, double rtt) {
        /** What the link delivers in one tick with {@code window} pieces outstanding at most. */
        long tick(int window) {
            double loop = rtt + PIECE / capacity + PROCESSING;
            double rate = Math.min(capacity, window * PIECE / loop);
            return (long) (rate * TICK);
        }
    }

    /** Runs {@code ticks} ticks, a round-trip sample in each; returns the last tick's delivery rate. */
    private static double run(FlowWindow w, Link link, int ticks) {
        long bytes = 0;
        for (int i = 0; i < ticks; i++) {
            w.rttSample(link.rtt());
            bytes = link.tick(w.window());
            w.tick(bytes, TICK);
        }
        return bytes / TICK;
    }

    @Test
    void aSteadyShortLinkGetsAQuarterSecondOfDataAndTwoPieces() {
        FlowWindow w = new FlowWindow(PIECE, CAP);
        Link lan = new Link(5e6, 0.001);

        double rate = run(w, lan, 40);

        assertThat(rate).isEqualTo(5e6, org.assertj.core.data.Offset.offset(1.0));
        assertThat(w.window()).isBetween(11, 13); // 5 MB/s x 0.251 s = 9.6 pieces, + 2
    }

    @Test
    void aLongLinkOpensUpToItsBandwidthDelayProductWithinSeconds() {
        FlowWindow w = new FlowWindow(PIECE, CAP);
        Link satellite = new Link(6.25e6, 0.5); // 50 Mbit/s, 250 ms each way: 3.1 MB in flight

        double rate = run(w, satellite, 12); // 3 s

        assertThat(rate).as("the whole link, not what a small window lets through").isGreaterThan(0.99 * 6.25e6);
        assertThat((double) w.window() * PIECE).isGreaterThanOrEqualTo(6.25e6 * 0.5);
        // ... and settles near rate x (rtt + headroom), not at the cap.
        run(w, satellite, 40);
        assertThat(w.window()).isBetween(30, 45); // 6.25 MB/s x 0.75 s = 35.8 pieces, + 2
    }

    @Test
    void theOldRuleNeverOpenedALongLink() {
        // The same link with no round trip known: the window follows the rate it allows.
        FlowWindow w = new FlowWindow(PIECE, CAP);
        Link satellite = new Link(6.25e6, 0.5);
        long bytes = 0;
        for (int i = 0; i < 40; i++) {
            bytes = satellite.tick(w.window());
            w.tick(bytes, TICK);
        }
        assertThat(bytes / TICK).as("why round trips are measured").isLessThan(0.5 * 6.25e6);
    }

    @Test
    void aLinkWhoseRateHalvesGivesUpWindowGraduallyAndKeepsItsRate() {
        FlowWindow w = new FlowWindow(PIECE, CAP);
        run(w, new Link(6e6, 0.08), 40);
        int before = w.window();
        Link halved = new Link(3e6, 0.08);

        int previous = before;
        for (int i = 0; i < 20; i++) {
            w.rttSample(halved.rtt());
            long bytes = halved.tick(w.window());
            assertThat(bytes / TICK).as("tick %d", i).isGreaterThan(0.99 * 3e6);
            w.tick(bytes, TICK);
            assertThat(w.window()).as("at most a quarter less a tick").isGreaterThanOrEqualTo((int) (0.75 * previous));
            previous = w.window();
        }
        assertThat(w.window()).isLessThan(before).isGreaterThanOrEqualTo((int) Math.ceil(3e6 * 0.33 / PIECE) + 2);
    }

    @Test
    void aStallChangesNothingAndTheLinkResumesAtFullSpeed() {
        FlowWindow w = new FlowWindow(PIECE, CAP);
        Link lte = new Link(4e6, 0.06);
        run(w, lte, 40);
        int before = w.window();

        for (int i = 0; i < 20; i++) {
            assertThat(w.tick(0, TICK)).isEqualTo(before);
        }
        w.rttSample(lte.rtt());
        long bytes = lte.tick(w.window());
        assertThat(bytes / TICK).isGreaterThan(0.99 * 4e6);
    }

    @Test
    void theWindowStopsAtItsByteCap() {
        FlowWindow w = new FlowWindow(PIECE, 4L << 20);
        run(w, new Link(100e6, 0.6), 40);
        assertThat(w.window()).isEqualTo(32);
    }

    @Test
    void impossibleRoundTripsAreIgnored() {
        FlowWindow w = new FlowWindow(PIECE, CAP);
        w.rttSample(0.05);
        w.rttSample(-1);
        w.rttSample(0);
        w.rttSample(Double.NaN);
        w.rttSample(3600);
        assertThat(w.rtt()).isEqualTo(0.05);
    }

    /** Whatever a link delivers and whatever round trips a server echoes, the window stays in bounds. */
    @Test
    void theWindowStaysWithinItsBounds() {
        qt().forAll(integers().between(1, 1 << 20), longs().between(0, 1L << 34), doubles().between(-1, 100),
                        integers().between(1, 60))
                .checkAssert((pieceSize, bytes, rtt, ticks) -> {
                    FlowWindow w = new FlowWindow(pieceSize, CAP);
                    int max = (int) Math.max(FlowWindow.MIN_WINDOW, CAP / pieceSize);
                    for (int i = 0; i < ticks; i++) {
                        w.rttSample(rtt);
                        int window = w.tick(bytes, TICK);
                        assertThat(window).isBetween(FlowWindow.MIN_WINDOW, max);
                    }
                });
    }
}
