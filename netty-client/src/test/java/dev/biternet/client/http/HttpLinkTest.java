package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.FlowCount;
import dev.biternet.client.link.LinkSpec;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An HTTP download's link to a real nginx over loopback (bound to {@code lo}) as its interface
 * comes, changes address and goes: bytes equal each time, and the line users read.
 */
class HttpLinkTest {
    @TempDir
    Path dir;

    private static final int SIZE = 1024 * 1024;

    @Test
    void aLinkWaitingForItsInterfaceStartsItsChannelsOnceItHasAnAddress() throws Exception {
        try (MirrorRig rig = new MirrorRig(dir, SIZE, 11, "", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            HttpLink link = new HttpLink(new LinkSpec("lo", null, "lo"));
            link.start(l -> flows(rig, l, mirror));
            assertThat(link.flows()).as("no channel while the link waits").isEmpty();

            assertThat(link.check(InetAddress.getByName("127.0.0.1")).text()).isEqualTo("link lo joined (127.0.0.1)");

            assertThat(rig.finish()).isEqualTo(rig.file);
            assertThat(link.flows().get(0).stats(true).bytes()).isEqualTo(SIZE);
        }
    }

    @Test
    void aLinkWhoseAddressChangesReconnectsFromTheNewOne() throws Exception {
        Path prefix = dir.resolve("nginx");
        try (MirrorRig rig = new MirrorRig(dir, SIZE, 12, "limit_rate 128k; " + Nginx.logRequests(prefix), 20)) {
            Mirror mirror = rig.mirror("f.bin");
            HttpLink link = new HttpLink(new LinkSpec("lo", InetAddress.getByName("127.0.0.9"), "lo"));
            link.start(l -> flows(rig, l, mirror));
            awaitPieces(rig, 1);

            assertThat(link.check(InetAddress.getByName("127.0.0.1")).text())
                    .isEqualTo("link lo rebound to 127.0.0.1 (was 127.0.0.9)");

            assertThat(rig.finish()).isEqualTo(rig.file);
            assertThat(rig.channels.get(0).reconnects()).as("reconnects after a backoff").isZero();
            List<String> requests = rig.nginx.requests();
            assertThat(requests.get(0)).contains(" 127.0.0.9 ");
            assertThat(requests.get(requests.size() - 1)).contains(" 127.0.0.1 ");
        }
    }

    @Test
    void everyRequestInFlightOnAConnectionClosedByARebindAsksAgainAtOnceAndNoneByAnInterfaceGone() throws Exception {
        try (MirrorRig rig = new MirrorRig(dir, SIZE, 14, "limit_rate 64k;", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            HttpLink link = new HttpLink(new LinkSpec("lo", InetAddress.getByName("127.0.0.1"), "lo"));
            assertThat(failuresOfTwoInFlight(rig, link, mirror, false))
                    .as("a rebind: not a loss, however many were in flight (a loss backs off)")
                    .containsExactly("CLOSED: its link's address changed", "CLOSED: its link's address changed");

            assertThat(failuresOfTwoInFlight(rig, link, mirror, true)).as("its interface gone: lost, so the channel parks")
                    .allSatisfy(f -> assertThat(f).startsWith("LOST"));
        }
    }

    /**
     * Two ranges asked on one connection of {@code link}, which is dropped once the first bytes
     * came (its interface {@code gone} first, or not): how each failed.
     */
    private static List<String> failuresOfTwoInFlight(MirrorRig rig, HttpLink link, Mirror mirror, boolean gone)
            throws Exception {
        MirrorConnection c = link.connection(rig.dialer, mirror.url());
        java.util.concurrent.CountDownLatch bytes = new java.util.concurrent.CountDownLatch(1);
        List<java.util.concurrent.CompletableFuture<?>> asked = List.of(
                c.fetch(0, SIZE / 2, SIZE, Validators.NONE, (offset, data) -> bytes.countDown()),
                c.fetch(SIZE / 2, SIZE / 2, SIZE, Validators.NONE, (offset, data) -> { }));
        assertThat(bytes.await(10, TimeUnit.SECONDS)).as("the first answer started").isTrue();
        if (gone) {
            link.moved(null);
        }
        c.drop();
        List<String> failures = new java.util.ArrayList<>();
        for (java.util.concurrent.CompletableFuture<?> f : asked) {
            try {
                f.get(10, TimeUnit.SECONDS);
                failures.add("done");
            } catch (java.util.concurrent.ExecutionException e) {
                HttpFailure h = (HttpFailure) e.getCause();
                failures.add(h.kind() + ": " + h.getMessage());
            }
        }
        c.close();
        return failures;
    }

    @Test
    void aLinkWhoseInterfaceGoesParksItsChannelsUntilItReturns() throws Exception {
        try (MirrorRig rig = new MirrorRig(dir, SIZE, 13, "limit_rate 128k;", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            HttpLink link = new HttpLink(new LinkSpec("lo", InetAddress.getByName("127.0.0.1"), "lo"));
            link.start(l -> flows(rig, l, mirror));
            awaitPieces(rig, 1);

            assertThat(link.moved(null).text())
                    .isEqualTo("link lo left (its interface is gone, down or without an address); it rejoins when it returns");
            Thread.sleep(500);
            MirrorChannel channel = rig.channels.get(0);
            int before = channel.pieces();
            Thread.sleep(1500);
            assertThat(channel.state()).isEqualTo("parked: its interface is gone");
            assertThat(channel.pieces()).as("pieces while parked").isEqualTo(before);
            assertThat(channel.reconnects()).as("no retries while parked").isZero();
            assertThat(rig.store.allVerified()).isNotDone();

            assertThat(link.moved(InetAddress.getByName("127.0.0.1")).text()).isEqualTo("link lo joined (127.0.0.1)");

            assertThat(rig.finish()).isEqualTo(rig.file);
        }
    }

    /** The link's one channel to {@code mirror}, kept by the rig. */
    private static List<MirrorFlows> flows(MirrorRig rig, HttpLink link, Mirror mirror) {
        return List.of(new MirrorFlows(mirror, FlowCount.fixed(1), link.connection(rig.dialer, mirror.url()),
                () -> new MirrorConnection(rig.dialer, link, mirror.url()), (c, depth) -> {
                    MirrorChannel ch = new MirrorChannel(c, mirror, rig.scheduler, rig.store, rig.workers, rig.timer,
                            MirrorChannelTest.QUIET, depth, () -> 64);
                    rig.channels.add(ch);
                    return ch;
                }, () -> 64));
    }

    private static void awaitPieces(MirrorRig rig, int pieces) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (rig.channels.stream().mapToInt(MirrorChannel::pieces).sum() < pieces && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(rig.channels.stream().mapToInt(MirrorChannel::pieces).sum()).isGreaterThanOrEqualTo(pieces);
    }
}
