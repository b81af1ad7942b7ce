package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A link's flows to a real nginx: as many as asked, no more than the piece memory holds. */
class MirrorFlowsTest {
    @TempDir
    Path dir;

    @Test
    void flowsOpenOnlyIntoThePieceMemoryAndTheFileIsWhole() throws Exception {
        byte[] file = new byte[4 * 1024 * 1024];
        new Random(9).nextBytes(file);
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.write(root.resolve("f.bin"), file);
        Transport t = Transport.best();
        EventLoopGroup group = t.newGroup(2);
        ExecutorService workers = Executors.newFixedThreadPool(2);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        MirrorFlows[] flows = new MirrorFlows[1];
        int budget = 6; // piece buffers
        AtomicInteger most = new AtomicInteger();
        try (Nginx nginx = Nginx.start(root, dir.resolve("nginx"), "")) {
            HttpDialer dialer = new HttpDialer(t, group, null, 2000, 20, w -> { });
            PieceLayout layout = new PieceLayout(file.length, 256 * 1024);
            try (PieceStore store = new PieceStore(dir.resolve("out.bin"), layout, true)) {
                PieceScheduler scheduler = new PieceScheduler(layout.pieceCount(), new BitSet());
                Mirror mirror = new Mirror(MirrorUrl.parse(nginx.url("f.bin")), file.length, Validators.NONE);
                LinkSpec link = new LinkSpec("127.0.0.1", InetAddress.getByName("127.0.0.1"), null);
                java.util.function.IntSupplier slots = () -> {
                    int held = flows[0] == null ? 0 : MirrorChannel.piecesHeld(flows[0].channels());
                    most.accumulateAndGet(held, Math::max);
                    return budget - held;
                };
                flows[0] = new MirrorFlows(link, mirror, FlowCount.fixed(16), new MirrorConnection(dialer, link, mirror.url()),
                        () -> new MirrorConnection(dialer, link, mirror.url()),
                        (c, depth) -> new MirrorChannel(c, mirror, scheduler, store, workers, timer, MirrorChannelTest.QUIET, depth, slots));
                flows[0].start(slots);
                // The first flow holds 2 pieces, each added one 1: 4 more fit, not the 15 asked for.
                assertThat(flows[0].channels()).hasSize(1 + budget - MirrorChannel.DEPTH);
                store.allVerified().get(30, TimeUnit.SECONDS);
                assertThat(store.finishUnhashed(Digests.sha256().digest(file))).isEqualTo(Digests.sha256().digest(file));
                assertThat(most.get()).as("piece buffers held at any ask").isLessThanOrEqualTo(budget);
                assertThat(flows[0].stats(true).flows()).isEqualTo(1 + budget - MirrorChannel.DEPTH);
            }
            assertThat(Files.readAllBytes(dir.resolve("out.bin"))).isEqualTo(file);
        } finally {
            if (flows[0] != null) {
                flows[0].channels().forEach(MirrorChannel::stop);
            }
            workers.shutdownNow();
            timer.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }
}
