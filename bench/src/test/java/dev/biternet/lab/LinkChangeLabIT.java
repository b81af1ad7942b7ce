package dev.biternet.lab;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Links that come and go mid-download, on the lab's real uplinks: an interface down at the
 * start joins once it is up, one whose address changes rebinds. Each time the link must carry
 * data again within 2 s of the change (read on the kernel's own counter of the interface), and
 * the file must verify.
 */
class LinkChangeLabIT {
    @TempDir
    static Path served;
    @TempDir
    Path downloads;

    /** Within this of the change, the link carries data again (the bound) ... */
    private static final double BACK_SECONDS = 2;
    /** ... at least this much of it (more than what was in flight towards the old address). */
    private static final long BACK_BYTES = 1 << 20;
    private static final long SIZE = 40L << 20;

    @BeforeAll
    static void needsNamespaces() {
        Lab.requireOrSkip();
    }

    @Test
    void aLinkDownAtTheStartJoinsOnceItIsUp() throws Exception {
        Path source = Lab.randomFile(served, "join.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            lab.cut(2);
            Path out = downloads.resolve("join.bin");

            CompletableFuture<Lab.Get> get = getAsync(lab, "join.bin", out);
            Thread.sleep(2500);
            double back = backWithin(lab, 2, () -> lab.restore(2));

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(done.stderr()).contains("--iface " + lab.iface(2) + ": interface is down; the link joins when it is up")
                    .contains("link " + lab.iface(2) + " joined (198.18.2.2)");
            assertThat(done.summary().get("links").get(1).get("bytes").asLong()).isPositive();
            assertThat(done.summary().get("events")).anySatisfy(e -> {
                assertThat(e.get("link").asText()).isEqualTo(lab.iface(2));
                assertThat(e.get("kind").asText()).isEqualTo("joined");
                assertThat(e.get("address").asText()).isEqualTo("198.18.2.2");
            });
            assertThat(back).as("seconds from the link coming up to %d bytes over it", BACK_BYTES).isLessThanOrEqualTo(BACK_SECONDS);
        }
    }

    @Test
    void aLinkWhoseAddressChangesRebindsAtOnce() throws Exception {
        Path source = Lab.randomFile(served, "rebind.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            Path out = downloads.resolve("rebind.bin");

            CompletableFuture<Lab.Get> get = getAsync(lab, "rebind.bin", out);
            Thread.sleep(3000);
            double back = backWithin(lab, 2, () -> lab.readdress(2, 3));

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            // The old address goes before the new one comes: either one event, or the link left and joined again.
            assertThat(done.stderr()).containsPattern("link " + lab.iface(2) + " (rebound to 198\\.18\\.2\\.3 \\(was 198\\.18\\.2\\.2\\)"
                    + "|joined \\(198\\.18\\.2\\.3\\))");
            assertThat(done.summary().get("links").get(1).get("address").asText()).isEqualTo("198.18.2.3");
            assertThat(done.summary().get("events")).anySatisfy(e -> {
                assertThat(e.get("link").asText()).isEqualTo(lab.iface(2));
                assertThat(e.get("kind").asText()).isIn("joined", "rebound");
                assertThat(e.get("address").asText()).isEqualTo("198.18.2.3");
            });
            assertThat(back).as("seconds from the new address to %d bytes over the link", BACK_BYTES).isLessThanOrEqualTo(BACK_SECONDS);
        }
    }

    private static CompletableFuture<Lab.Get> getAsync(Lab lab, String path, Path out) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return lab.get(path, out, 120, List.of(lab.iface(1), lab.iface(2)));
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    /** Seconds from {@code change} until link {@code link} received {@link #BACK_BYTES} more (up to 10 s). */
    private static double backWithin(Lab lab, int link, LabAction change) throws Exception {
        long before = lab.rxBytes(link);
        change.run();
        long start = System.nanoTime();
        double seconds;
        while ((seconds = (System.nanoTime() - start) / 1e9) < 10) {
            if (lab.rxBytes(link) - before >= BACK_BYTES) {
                return seconds;
            }
            Thread.sleep(20);
        }
        return seconds;
    }

    @FunctionalInterface
    private interface LabAction {
        void run() throws Exception;
    }
}
