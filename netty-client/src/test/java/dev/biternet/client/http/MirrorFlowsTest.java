package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkSpec;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A link's flows to a real nginx: as many as asked, no more than the piece memory holds. */
class MirrorFlowsTest {
    @TempDir
    Path dir;

    @Test
    void flowsOpenOnlyIntoThePieceMemoryAndTheFileIsWhole() throws Exception {
        int budget = 6; // piece buffers
        AtomicInteger most = new AtomicInteger();
        try (MirrorRig rig = new MirrorRig(dir, 4 * 1024 * 1024, 9, "", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            LinkSpec link = MirrorRig.link("127.0.0.1");
            java.util.function.IntSupplier slots = () -> {
                int held = MirrorChannel.piecesHeld(rig.channels);
                most.accumulateAndGet(held, Math::max);
                return budget - held;
            };
            MirrorFlows flows = new MirrorFlows(mirror, FlowCount.fixed(16),
                    new MirrorConnection(rig.dialer, link, mirror.url()), () -> new MirrorConnection(rig.dialer, link, mirror.url()),
                    (c, depth) -> {
                        MirrorChannel ch = new MirrorChannel(c, mirror, rig.scheduler, rig.store, rig.workers, rig.timer,
                                MirrorChannelTest.QUIET, depth, slots);
                        rig.channels.add(ch);
                        return ch;
                    }, slots);
            flows.start();
            // Every flow holds 2 pieces: at most 2 more fit, not the 15 asked for.
            int opened = flows.channels().size();
            assertThat(opened).isBetween(2, budget / MirrorChannel.DEPTH);
            // An added flow keeps as many requests in flight as the first: with one, it idled a
            // round trip after each piece (on a 600 ms link, 16 flows dipped to half the link's rate).
            assertThat(flows.channels()).allSatisfy(c -> assertThat(c.depth()).isGreaterThanOrEqualTo(MirrorChannel.DEPTH));
            assertThat(rig.finish()).isEqualTo(rig.file);
            assertThat(most.get()).as("piece buffers held at any ask").isLessThanOrEqualTo(budget);
            assertThat(flows.stats(true).flows()).isEqualTo(opened);
        }
    }
}
