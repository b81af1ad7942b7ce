package dev.biternet.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multi-link behaviour on real shaped links: network namespaces, veth uplinks shaped with tbf,
 * per-source policy routing, the real launchers as subprocesses. Asserts what a user notices:
 * the bytes, the hash, that every link carried data (by the interfaces' own counters), the
 * endgame duplicate bound, and a generous goodput floor (over the client's own transfer time, re-measured once on a miss). Exact ratios belong to the lab's
 * comparison script, not to these tests.
 *
 * <p>In CI ({@code CI=true}) a machine that cannot make namespaces fails these tests; elsewhere
 * they are skipped with the reason.
 */
class MultiLinkLabIT {
    @TempDir
    static Path served;
    @TempDir
    Path downloads;

    @BeforeAll
    static void needsNamespaces() {
        Lab.requireOrSkip();
    }

    private static Path randomFile(String name, long size) throws IOException {
        return Lab.randomFile(served, name, size);
    }

    /**
     * One small download first, as a user's server has served before and a user's client has
     * run before: the launcher records its class-data archive on a first run, which is not what
     * the goodput floor is about.
     */
    private void warmUp(Lab lab) throws Exception {
        randomFile("warmup.bin", 1 << 20);
        Lab.Get warm = lab.get("warmup.bin", downloads.resolve("warmup.bin"), 60);
        assertThat(warm.exitCode()).as(warm.stderr()).isZero();
    }

    /** Something done to the lab while a download runs. */
    private interface LabAction {
        void run() throws Exception;
    }

    /**
     * Runs a download over all links, does {@code action} after {@code delayMillis}, and returns
     * the finished download; {@code actedAt[0]} gets the seconds from start to the action.
     */
    private static Lab.Get getWhile(Lab lab, String path, Path out, long delayMillis, LabAction action,
                                    double[] actedAt) throws Exception {
        long start = System.nanoTime();
        java.util.concurrent.CompletableFuture<Lab.Get> run = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return lab.get(path, out, 120);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        Thread.sleep(delayMillis);
        action.run();
        actedAt[0] = (System.nanoTime() - start) / 1e9;
        return run.get(150, java.util.concurrent.TimeUnit.SECONDS);
    }

    @Test
    void unevenLinksAddUp() throws Exception {
        long size = 32L << 20;
        Path source = randomFile("uneven.bin", size);
        try (Lab lab = Lab.create(40, 20, 10)) {
            lab.startServer(served);
            warmUp(lab);
            Path out = downloads.resolve("uneven.bin");
            // A miss of the goodput floor is measured once more: one slow run on a shared machine
            // is noise, two in a row are a regression.
            double goodput = 0;
            Lab.Get get = null;
            for (int attempt = 0; attempt < 2 && goodput < FLOOR; attempt++) {
                long[] rxBefore = {lab.rxBytes(1), lab.rxBytes(2), lab.rxBytes(3)};
                Files.deleteIfExists(out);

                get = lab.get("uneven.bin", out, 120);

                assertThat(get.exitCode()).as(get.stderr()).isZero();
                assertThat(Files.mismatch(source, out)).isEqualTo(-1);
                JsonNode s = get.summary();
                assertThat(s.get("sha256").asText()).isEqualTo(Lab.sha256(source));
                for (int i = 1; i <= 3; i++) {
                    JsonNode link = s.get("links").get(i - 1);
                    long payload = link.get("bytes").asLong();
                    long rx = lab.rxBytes(i) - rxBefore[i - 1];
                    assertThat(link.get("pieces").asInt()).as("pieces over link %d", i).isPositive();
                    assertThat(rx).as("kernel rx counter of link %d vs its payload", i).isGreaterThanOrEqualTo(payload);
                }
                assertThat(s.get("duplicate_bytes").asLong()).as("endgame duplicates").isLessThan(size / 50);
                goodput = size * 8 / get.transferSeconds() / 1e6 / lab.sumMbit();
            }
            assertThat(goodput).as("goodput / sum of link rates over the transfer (%.2f s; whole process %.2f s), twice",
                    get.transferSeconds(), get.wallSeconds()).isGreaterThanOrEqualTo(FLOOR);
        }
    }

    /** The generous floor for 40/20/10 Mbit/s and 32 MiB; exact ratios are compare.sh's. */
    private static final double FLOOR = 0.80;

    @Test
    void sharesFollowLinkRates() throws Exception {
        long size = 48L << 20;
        Path source = randomFile("shares.bin", size);
        try (Lab lab = Lab.create(30, 10)) {
            lab.startServer(served);
            Path out = downloads.resolve("shares.bin");

            Lab.Get get = lab.get("shares.bin", out, 120);

            assertThat(get.exitCode()).as(get.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            JsonNode links = get.summary().get("links");
            double fast = links.get(0).get("pieces").asDouble();
            double slow = links.get(1).get("pieces").asDouble();
            // 30 vs 10 Mbit/s: the fast link's share of verified pieces is 0.75 +- 15 % of that.
            assertThat(fast / (fast + slow)).isBetween(0.75 * 0.85, 0.75 * 1.15);
        }
    }

    @Test
    void aLinkThatSlowsDownDoesNotHoldUpTheFinish() throws Exception {
        long size = 48L << 20;
        Path source = randomFile("slowdown.bin", size);
        try (Lab lab = Lab.create(40, 20, 10)) {
            lab.startServer(served);
            warmUp(lab);
            Path out = downloads.resolve("slowdown.bin");

            // Not held up by the slowed link: at least as fast as if link 1 had vanished at the
            // change (70 Mbit/s until then, the other two's 30 after), within 15 %. Counting
            // link 1's 8 Mbit/s as well would make this a timing test of how fast TCP recovers
            // from the qdisc swap, which varies from run to run here. Timed by the client's own
            // transfer, the change placed in it by subtracting the JVM's start-up; a miss is
            // measured once more (link 1 back at 40 Mbit/s first).
            double ratio = 0;
            Lab.Get get = null;
            double changedInTransfer = 0;
            for (int attempt = 0; attempt < 2 && ratio < 0.85; attempt++) {
                if (attempt > 0) {
                    lab.rate(1, 40);
                    Files.deleteIfExists(out);
                }
                double[] changedAt = new double[1];
                get = getWhile(lab, "slowdown.bin", out, 2500, () -> lab.rate(1, 8), changedAt);

                assertThat(get.exitCode()).as(get.stderr()).isZero();
                assertThat(Files.mismatch(source, out)).isEqualTo(-1);
                changedInTransfer = Math.max(0, changedAt[0] - (get.wallSeconds() - get.transferSeconds()));
                double withoutLink1 = 70e6 * changedInTransfer + 30e6 * (get.transferSeconds() - changedInTransfer);
                ratio = size * 8 / withoutLink1;
            }
            assertThat(ratio).as("goodput / capacity without link 1 (40 -> 8 Mbit/s at %.1f s of the transfer, which took %.2f s), twice: %s",
                    changedInTransfer, get.transferSeconds(), get.summary()).isGreaterThanOrEqualTo(0.85);
            assertThat(get.summary().get("links").get(0).get("bytes").asLong()).as("link 1 carried data").isPositive();
            assertThat(get.summary().get("duplicate_bytes").asLong()).isLessThan(size / 50);
        }
    }

    @Test
    void aVerySlowLinkNeverMakesItSlowerThanTheFastLinkAlone() throws Exception {
        long size = 16L << 20;
        Path source = randomFile("veryslow.bin", size);
        try (Lab lab = Lab.create(40, 2)) {
            lab.startServer(served);
            warmUp(lab);
            // Alternate the two ways and compare the best of each, by the client's own transfer
            // time, to keep scheduling noise on a shared machine (JVM start-up above all) out of a
            // comparison worth ~5 % (2 of 42 Mbit/s). A third round only when two were not enough.
            double alone = Double.MAX_VALUE;
            double both = Double.MAX_VALUE;
            for (int round = 0; round < 3 && (round < 2 || both > alone * 1.02); round++) {
                Lab.Get a = lab.get("veryslow.bin", downloads.resolve("alone.bin"), 120, 1);
                assertThat(a.exitCode()).as(a.stderr()).isZero();
                alone = Math.min(alone, a.transferSeconds());
                Files.delete(downloads.resolve("alone.bin"));
                Lab.Get b = lab.get("veryslow.bin", downloads.resolve("both.bin"), 120, 1, 2);
                assertThat(b.exitCode()).as(b.stderr()).isZero();
                assertThat(Files.mismatch(source, downloads.resolve("both.bin"))).isEqualTo(-1);
                assertThat(b.summary().get("links").get(1).get("bytes").asLong()).as("the slow link carried data").isPositive();
                both = Math.min(both, b.transferSeconds());
                Files.delete(downloads.resolve("both.bin"));
            }
            assertThat(both).as("with the 2 Mbit/s link (%.2f s) vs the 40 Mbit/s link alone (%.2f s)", both, alone)
                    .isLessThanOrEqualTo(alone * 1.02);
        }
    }

    @Test
    void aLinkCutMidDownloadLeavesTheRestToTheOthers() throws Exception {
        long size = 32L << 20;
        Path source = randomFile("cut.bin", size);
        try (Lab lab = Lab.create(40, 20, 10)) {
            lab.startServer(served);
            warmUp(lab);
            Path out = downloads.resolve("cut.bin");

            double[] cutAt = new double[1];
            // Link 1 goes silent: its interface is down, no reset reaches either side.
            Lab.Get get = getWhile(lab, "cut.bin", out, 1500, () -> lab.cut(1), cutAt);

            assertThat(get.exitCode()).as(get.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(get.summary().get("sha256").asText()).isEqualTo(Lab.sha256(source));
            // 70 Mbit/s until the cut, 30 after: the others must carry on close to that. Timed by
            // the client's own transfer, the cut placed in it by subtracting the JVM's start-up.
            double cutInTransfer = Math.max(0, cutAt[0] - (get.wallSeconds() - get.transferSeconds()));
            double capacityBits = 70e6 * cutInTransfer + 30e6 * (get.transferSeconds() - cutInTransfer);
            assertThat(size * 8 / capacityBits).as("goodput / capacity (link 1 cut at %.1f s of the transfer, which took %.2f s)",
                    cutInTransfer, get.transferSeconds()).isGreaterThanOrEqualTo(0.70);
        }
    }

    @Test
    void aCappedLinkStaysUnderItsCapByTheInterfacesOwnCounter() throws Exception {
        long size = 24L << 20;
        long cap = 6_000_000;
        Path source = randomFile("capped.bin", size);
        try (Lab lab = Lab.create(40, 20)) {
            lab.startServer(served);
            warmUp(lab);
            Path out = downloads.resolve("capped.bin");
            long rxBefore = lab.rxBytes(1);

            Lab.Get get = lab.get("capped.bin", out, 120, java.util.List.of(lab.iface(1) + ":cap=6M", lab.iface(2)));

            assertThat(get.exitCode()).as(get.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            JsonNode link1 = get.summary().get("links").get(0);
            assertThat(link1.get("bytes").asLong()).as("payload over the capped link").isPositive().isLessThanOrEqualTo(cap);
            // On the wire: payload plus TCP/IP/Ethernet headers (1514 per 1448 bytes) and the
            // handshake; the faster link would have carried two thirds of the file without the cap.
            assertThat(lab.rxBytes(1) - rxBefore).as("link 1's rx counter").isLessThanOrEqualTo((long) (cap * 1514.0 / 1448) + 64_000);
        }
    }
}
