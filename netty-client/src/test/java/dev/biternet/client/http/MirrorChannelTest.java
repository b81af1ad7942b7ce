package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Channels over two loopback links to a real nginx, driven by the scheduler, into a real store. */
class MirrorChannelTest {
    @TempDir
    Path dir;

    @Test
    void twoLinksToOneMirrorAndADeadMirrorMakeTheFile() throws Exception {
        byte[] file = new byte[5 * 1024 * 1024 + 3];
        new Random(7).nextBytes(file);
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.write(root.resolve("f.bin"), file);
        Transport t = Transport.best();
        EventLoopGroup group = t.newGroup(2);
        ExecutorService workers = Executors.newFixedThreadPool(2);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        List<String> dropped = new CopyOnWriteArrayList<>();
        List<MirrorChannel> channels = new ArrayList<>();
        try (Nginx nginx = Nginx.start(root, dir.resolve("nginx"), "")) {
            HttpDialer dialer = new HttpDialer(t, group, null, 2000, 5, w -> { });
            PieceLayout layout = new PieceLayout(file.length, 256 * 1024);
            Path out = dir.resolve("out.bin");
            try (PieceStore store = new PieceStore(out, layout, true)) {
                PieceScheduler scheduler = new PieceScheduler(layout.pieceCount(), new BitSet());
                Mirror good = new Mirror(MirrorUrl.parse(nginx.url("f.bin")), file.length, Validators.NONE);
                Mirror gone = new Mirror(MirrorUrl.parse(nginx.url("missing.bin")), file.length, Validators.NONE);
                MirrorChannel.Events events = new MirrorChannel.Events() {
                    @Override
                    public void dropped(Mirror mirror, String why) {
                        dropped.add(why);
                    }

                    @Override
                    public void localFailure(String why) {
                        dropped.add(why);
                    }

                    @Override
                    public void trace(String event) {
                    }
                };
                for (String address : List.of("127.0.0.1", "127.0.0.2")) {
                    LinkSpec link = new LinkSpec(address, InetAddress.getByName(address), null);
                    channels.add(new MirrorChannel(new MirrorConnection(dialer, link, good.url()), good, scheduler, store,
                            workers, timer, events));
                    channels.add(new MirrorChannel(new MirrorConnection(dialer, link, gone.url()), gone, scheduler, store,
                            workers, timer, events));
                }
                // A connection that fails at once (closed): its channel waits and retries, it does not
                // spin claiming and failing pieces on the thread that started it.
                LinkSpec lo = new LinkSpec("lo", InetAddress.getByName("127.0.0.1"), null);
                MirrorConnection closed = new MirrorConnection(dialer, lo, good.url());
                closed.close();
                MirrorChannel failing = new MirrorChannel(closed, good, scheduler, store, workers, timer, events);
                org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(5), failing::start);
                channels.forEach(MirrorChannel::start);
                store.allVerified().get(30, TimeUnit.SECONDS);
                assertThat(store.finishUnhashed(Digests.sha256().digest(file))).isEqualTo(Digests.sha256().digest(file));
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(file);
            assertThat(dropped).containsExactly(nginx.url("missing.bin") + ": the mirror answered HTTP 404 Not Found");
            assertThat(channels.get(0).bytes()).isPositive();
            assertThat(channels.get(2).bytes()).isPositive();
        } finally {
            channels.forEach(MirrorChannel::stop);
            workers.shutdownNow();
            timer.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void aRetiredChannelAsksForNothingMoreAndClosesOnceItsPiecesAreIn() throws Exception {
        byte[] file = new byte[2 * 1024 * 1024];
        new Random(8).nextBytes(file);
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.write(root.resolve("f.bin"), file);
        Transport t = Transport.best();
        EventLoopGroup group = t.newGroup(2);
        ExecutorService workers = Executors.newFixedThreadPool(2);
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        List<MirrorChannel> channels = new ArrayList<>();
        // Below a piece a second (nginx sends a second's worth at once): the retire comes mid-download.
        try (Nginx nginx = Nginx.start(root, dir.resolve("nginx"), "limit_rate 160k;")) {
            HttpDialer dialer = new HttpDialer(t, group, null, 2000, 20, w -> { });
            PieceLayout layout = new PieceLayout(file.length, 256 * 1024);
            Path out = dir.resolve("out.bin");
            try (PieceStore store = new PieceStore(out, layout, true)) {
                PieceScheduler scheduler = new PieceScheduler(layout.pieceCount(), new BitSet());
                Mirror mirror = new Mirror(MirrorUrl.parse(nginx.url("f.bin")), file.length, Validators.NONE);
                for (String address : List.of("127.0.0.1", "127.0.0.2")) {
                    LinkSpec link = new LinkSpec(address, InetAddress.getByName(address), null);
                    channels.add(new MirrorChannel(new MirrorConnection(dialer, link, mirror.url()), mirror, scheduler,
                            store, workers, timer, QUIET));
                }
                channels.forEach(MirrorChannel::start);
                MirrorChannel second = channels.get(1);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (second.pieces() == 0 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                second.retire();
                int before = second.pieces();
                int asked = second.depth();
                assertThat(before).isPositive();
                store.allVerified().get(60, TimeUnit.SECONDS);
                assertThat(store.finishUnhashed(Digests.sha256().digest(file))).isEqualTo(Digests.sha256().digest(file));
                // At most what it had asked for when retired came in after, and then it closed.
                assertThat(second.pieces()).isLessThanOrEqualTo(before + asked);
                assertThat(second.up()).isFalse();
                assertThat(second.state()).isEqualTo("retired");
                assertThat(channels.get(0).pieces() + second.pieces()).isEqualTo(layout.pieceCount());
            }
            assertThat(Files.readAllBytes(out)).isEqualTo(file);
        } finally {
            channels.forEach(MirrorChannel::stop);
            workers.shutdownNow();
            timer.shutdownNow();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Events that fail the test on a dropped mirror or a disk failure. */
    static final MirrorChannel.Events QUIET = new MirrorChannel.Events() {
        @Override
        public void dropped(Mirror mirror, String why) {
            throw new AssertionError(why);
        }

        @Override
        public void localFailure(String why) {
            throw new AssertionError(why);
        }

        @Override
        public void trace(String event) {
        }
    };
}
