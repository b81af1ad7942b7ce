package dev.biternet.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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
 * start joins once it is up, one whose address changes rebinds, for a biternet download and an
 * HTTP one. Each time the link must carry
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

            // Link 2 is down, link 3 does not exist yet: both named up front.
            CompletableFuture<Lab.Get> get = getAsync(lab, "join.bin", out, List.of(lab.iface(1), lab.iface(2), lab.iface(3)));
            Thread.sleep(2500);
            double back = backWithin(lab, 2, () -> lab.restore(2));
            double created = backWithin(lab, 3, () -> lab.addLink(3, 20));

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertEachPieceVerifiedOnce(done);
            assertThat(done.stderr()).contains("--iface " + lab.iface(2) + ": interface is down; the link joins when it is up")
                    .contains("link " + lab.iface(2) + " joined (198.18.2.2)");
            assertThat(done.summary().get("links").get(1).get("bytes").asLong()).isPositive();
            assertThat(done.summary().get("events")).anySatisfy(e -> {
                assertThat(e.get("link").asText()).isEqualTo(lab.iface(2));
                assertThat(e.get("kind").asText()).isEqualTo("joined");
                assertThat(e.get("address").asText()).isEqualTo("198.18.2.2");
            });
            assertThat(back).as("seconds from the link coming up to %d bytes over it", BACK_BYTES).isLessThanOrEqualTo(BACK_SECONDS);
            assertThat(done.stderr()).contains("--iface " + lab.iface(3) + ": no such network interface");
            assertThat(done.summary().get("links").get(2).get("bytes").asLong()).isPositive();
            assertThat(created).as("seconds from the named uplink's creation to %d bytes over it", BACK_BYTES)
                    .isLessThanOrEqualTo(BACK_SECONDS);
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
            assertEachPieceVerifiedOnce(done);
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

    /**
     * {@code --iface auto} takes the lab's uplinks and nothing else (not a bridge, a veth
     * without a route to the server, a tun device), and an uplink created mid-download joins.
     */
    @Test
    void autoTakesTheUplinksAndOneCreatedMidDownload() throws Exception {
        Path source = Lab.randomFile(served, "auto.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            lab.inClient("ip", "link", "add", "autobr", "type", "bridge");
            lab.inClient("ip", "addr", "add", "198.18.200.1/24", "dev", "autobr");
            lab.inClient("ip", "link", "set", "autobr", "up");
            lab.inClient("ip", "link", "add", "autov0", "type", "veth", "peer", "name", "autov1");
            lab.inClient("ip", "addr", "add", "198.18.201.1/24", "dev", "autov0");
            lab.inClient("ip", "link", "set", "autov0", "up");
            lab.inClient("ip", "link", "set", "autov1", "up");
            lab.inClient("ip", "tuntap", "add", "dev", "autotun", "mode", "tun");
            lab.inClient("ip", "addr", "add", "198.18.202.1/24", "dev", "autotun");
            lab.inClient("ip", "link", "set", "autotun", "up");
            Path out = downloads.resolve("auto.bin");

            CompletableFuture<Lab.Get> get = getAsync(lab, "auto.bin", out, List.of("auto"));
            Thread.sleep(2500);
            double back = backWithin(lab, 3, () -> lab.addLink(3, 20));

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertEachPieceVerifiedOnce(done);
            List<String> used = new java.util.ArrayList<>();
            done.summary().get("links").forEach(l -> used.add(l.get("iface").asText()));
            assertThat(used).containsExactly(lab.iface(1), lab.iface(2), lab.iface(3));
            assertThat(done.summary().get("links").get(2).get("bytes").asLong()).isPositive();
            assertThat(back).as("seconds from the new uplink to %d bytes over it", BACK_BYTES).isLessThanOrEqualTo(BACK_SECONDS);
        }
    }

    /**
     * A backup link carries nothing while the normal link delivers, takes over within 3 s of it
     * being cut, and takes no new piece 2 s after it is back.
     */
    @Test
    void aBackupLinkCarriesOnlyWhileTheNormalOneCannot() throws Exception {
        Path source = Lab.randomFile(served, "backup.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            Path out = downloads.resolve("backup.bin");

            long rx0 = rx(lab, 2);
            CompletableFuture<Lab.Get> get = getAsync(lab, "backup.bin", out, List.of(lab.iface(1), lab.iface(2) + ":backup"));
            Thread.sleep(3500);
            long standingBy = rx(lab, 2) - rx0;
            double tookOver = backWithin(lab, 2, () -> lab.cut(1), 256 << 10);
            Thread.sleep(1500);
            lab.restore(1);
            Thread.sleep(2500);
            long before = rx(lab, 2);
            Thread.sleep(2000);
            long after = rx(lab, 2);

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertEachPieceVerifiedOnce(done);
            assertThat(standingBy).as("bytes over the backup link while the normal one delivered (control frames only)")
                    .isLessThan(16 << 10);
            assertThat(tookOver).as("seconds from the cut to 256 KiB over the backup link").isLessThanOrEqualTo(3);
            assertThat(after - before).as("bytes over the backup link 2.5-4.5 s after the normal one came back")
                    .isLessThan(64 << 10);
            JsonNode events = done.summary().get("events");
            assertThat(events).anySatisfy(e -> assertThat(e.get("kind").asText()).isEqualTo("took_over"));
            assertThat(events).anySatisfy(e -> assertThat(e.get("kind").asText()).isEqualTo("stood_by"));
            assertThat(done.summary().get("links").get(1).get("tier").asText()).isEqualTo("backup");
        }
    }

    /**
     * The same for an HTTP download from nginx: a named interface down at the start and one that
     * does not exist yet each join once up (their channels to the mirror start then) and carry
     * data, the file verifies against its checksum.
     */
    @Test
    void anHttpDownloadTakesLinksThatComeUpMidDownload() throws Exception {
        Path source = Lab.randomFile(served, "http-join.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startNginx(served, downloads.resolve("nginx"));
            lab.cut(2);
            Path out = downloads.resolve("http-join.bin");

            CompletableFuture<Lab.Get> get = fetchAsync(lab, "http-join.bin", out, source,
                    List.of(lab.iface(1), lab.iface(2), lab.iface(3)));
            Thread.sleep(2500);
            lab.restore(2);
            Thread.sleep(500);
            lab.addLink(3, 20);

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(done.summary().get("verified_by").asText()).isEqualTo("checksum");
            assertThat(done.stderr()).contains("--iface " + lab.iface(2) + ": interface is down; the link joins when it is up")
                    .contains("link " + lab.iface(2) + " joined (198.18.2.2)")
                    .contains("--iface " + lab.iface(3) + ": no such network interface")
                    .contains("link " + lab.iface(3) + " joined (198.18.3.2)");
            assertThat(linkBytes(done, lab.iface(2))).as("bytes over the link down at the start: %s", done.summary()).isPositive();
            assertThat(linkBytes(done, lab.iface(3))).as("bytes over the link created mid-download: %s", done.summary()).isPositive();
            assertThat(done.summary().get("events")).anySatisfy(e -> {
                assertThat(e.get("link").asText()).isEqualTo(lab.iface(2));
                assertThat(e.get("kind").asText()).isEqualTo("joined");
                assertThat(e.get("address").asText()).isEqualTo("198.18.2.2");
            });
        }
    }

    /**
     * An HTTP download whose second link's interface goes down mid-download: the link is parked
     * (one line), the first link carries on; once the interface is up again the link rejoins and
     * carries data again; bytes equal.
     */
    @Test
    void theMirrorsBesideABiternetServerTakeALinkThatComesUpMidDownload() throws Exception {
        Path source = Lab.randomFile(served, "mixed-join.bin", SIZE);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            lab.startNginx(served, downloads.resolve("nginx"));
            lab.cut(2);
            Path out = downloads.resolve("mixed-join.bin");

            CompletableFuture<Lab.Get> get = CompletableFuture.supplyAsync(() -> {
                try {
                    return lab.fetch("biternet://" + Lab.SERVICE + ":" + Lab.PORT + "/mixed-join.bin", out, 120,
                            List.of(lab.iface(1), lab.iface(2)), "--mirror", Lab.httpUrl("mixed-join.bin"));
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            Thread.sleep(2500);
            lab.restore(2);

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(done.summary().get("verified_by").asText()).isEqualTo("piece_hashes");
            assertThat(done.stderr()).contains("link " + lab.iface(2) + " joined (198.18.2.2)")
                    .contains("HTTP mirrors: link " + lab.iface(2) + " joined (198.18.2.2)");
            long mirrorBytes = 0;
            for (JsonNode l : done.summary().get("links")) {
                if (l.get("iface").asText().equals(lab.iface(2)) && l.get("source").asText().endsWith(":" + Lab.HTTP_PORT)) {
                    mirrorBytes += l.get("bytes").asLong();
                }
            }
            assertThat(mirrorBytes).as("the mirror's bytes over the link that came up: %s", done.summary()).isPositive();
        }
    }

    @Test
    void anHttpDownloadParksALinkWhoseInterfaceGoesAndTakesItBack() throws Exception {
        Path source = Lab.randomFile(served, "http-left.bin", SIZE);
        try (Lab lab = nginxLab()) {
            Path out = downloads.resolve("http-left.bin");

            CompletableFuture<Lab.Get> get = fetchAsync(lab, "http-left.bin", out, source, List.of(lab.iface(1), lab.iface(2)));
            Thread.sleep(3000);
            lab.cut(2);
            Thread.sleep(2000);
            double back = backWithin(lab, 2, () -> lab.restore(2));

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(done.summary().get("verified_by").asText()).isEqualTo("checksum");
            assertThat(done.stderr()).contains("link " + lab.iface(2) + " left (its interface is gone, down or without an address)");
            List<String> kinds = new java.util.ArrayList<>();
            done.summary().get("events").forEach(e -> kinds.add(e.get("link").asText() + " " + e.get("kind").asText()));
            assertThat(kinds).containsExactly(lab.iface(2) + " left", lab.iface(2) + " joined");
            assertThat(back).as("seconds from the interface back up to %d bytes over it (10: never)", BACK_BYTES).isLessThan(10);
            assertThat(linkBytes(done, lab.iface(2))).isPositive();
        }
    }

    /** {@code --iface auto} for an HTTP download: an uplink created mid-download joins and carries data. */
    @Test
    void anHttpDownloadWithAutoTakesAnUplinkCreatedMidDownload() throws Exception {
        Path source = Lab.randomFile(served, "http-auto.bin", SIZE);
        try (Lab lab = nginxLab()) {
            Path out = downloads.resolve("http-auto.bin");

            CompletableFuture<Lab.Get> get = fetchAsync(lab, "http-auto.bin", out, source, List.of("auto"));
            Thread.sleep(2500);
            lab.addLink(3, 20);

            Lab.Get done = get.get(150, TimeUnit.SECONDS);
            assertThat(done.exitCode()).as(done.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            assertThat(done.stderr()).contains("link " + lab.iface(3) + " joined (198.18.3.2, --iface auto)");
            assertThat(linkBytes(done, lab.iface(3))).as("bytes over the uplink created mid-download: %s", done.summary())
                    .isPositive();
            assertThat(linkBytes(done, lab.iface(1))).isPositive();
            assertThat(linkBytes(done, lab.iface(2))).isPositive();
        }
    }

    /** A lab of two 20 Mbit/s links and nginx serving {@link #served}, closed again if nginx does not start. */
    private Lab nginxLab() throws Exception {
        Lab lab = Lab.create(20, 20);
        try {
            lab.startNginx(served, downloads.resolve("nginx"));
            return lab;
        } catch (Throwable t) {
            lab.close();
            throw t;
        }
    }

    private static CompletableFuture<Lab.Get> fetchAsync(Lab lab, String path, Path out, Path source, List<String> ifaces) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return lab.fetch(Lab.httpUrl(path), out, 120, ifaces, "--checksum", "sha256=" + Lab.sha256(source));
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    /** The payload over the link named {@code iface}, all its mirrors together. */
    private static long linkBytes(Lab.Get done, String iface) {
        long bytes = 0;
        for (JsonNode l : done.summary().get("links")) {
            if (l.get("iface").asText().equals(iface)) {
                bytes += l.get("bytes").asLong();
            }
        }
        return bytes;
    }

    private static CompletableFuture<Lab.Get> getAsync(Lab lab, String path, Path out) {
        return getAsync(lab, path, out, List.of(lab.iface(1), lab.iface(2)));
    }

    private static CompletableFuture<Lab.Get> getAsync(Lab lab, String path, Path out, List<String> ifaces) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return lab.get(path, out, 120, ifaces);
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    /** Seconds from {@code change} until link {@code link} received {@link #BACK_BYTES} more (up to 10 s). */
    private static double backWithin(Lab lab, int link, LabAction change) throws Exception {
        return backWithin(lab, link, change, BACK_BYTES);
    }

    /** Seconds from {@code change} until link {@code link} received {@code bytes} more (up to 10 s). */
    private static double backWithin(Lab lab, int link, LabAction change, long bytes) throws Exception {
        long before = rx(lab, link);
        change.run();
        long start = System.nanoTime();
        double seconds;
        while ((seconds = (System.nanoTime() - start) / 1e9) < 10) {
            if (rx(lab, link) - before >= bytes) {
                return seconds;
            }
            Thread.sleep(20);
        }
        return seconds;
    }

    /** Each piece was verified once: the links' first deliveries add up to the file's pieces. */
    private static void assertEachPieceVerifiedOnce(Lab.Get done) {
        long delivered = 0;
        for (JsonNode l : done.summary().get("links")) {
            delivered += l.get("pieces").asLong();
        }
        assertThat(delivered).as("pieces delivered first, over all links").isEqualTo(done.summary().get("pieces").asLong());
    }

    /** The link's received bytes; 0 while its interface does not exist yet. */
    private static long rx(Lab lab, int link) throws InterruptedException {
        try {
            return lab.rxBytes(link);
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

    @FunctionalInterface
    private interface LabAction {
        void run() throws Exception;
    }
}
