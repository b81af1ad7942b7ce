package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.server.BiternetServer;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults during a download, over real loopback sockets with real files: the server restarted,
 * every link lost, the file changed on the server, a full disk, a link that corrupts pieces.
 * Downloads are rate-limited ({@code :rate=}) so the fault lands mid-download.
 */
class FaultTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private BiternetServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private String url(int port, String path) {
        return "biternet://127.0.0.1:" + port + "/" + path;
    }

    private static CompletableFuture<Fixtures.Run> getAsync(String... args) {
        return CompletableFuture.supplyAsync(() -> get(args));
    }

    /** Waits until the running download has made {@code pieces} pieces durable. */
    private static void awaitLogged(Path out, int pieces, CompletableFuture<Fixtures.Run> run) throws Exception {
        Fixtures.awaitLogged(out, pieces, () -> !run.isDone());
    }

    @Test
    void serverRestartedMidDownloadTheClientReconnectsReopensAndFinishes() throws Exception {
        long size = 48L << 20;
        Path source = randomFile(root, "big.bin", size, 21);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        int port = server.port();
        Path out = downloads.resolve("big.bin");

        CompletableFuture<Fixtures.Run> run = getAsync("--json", "--iface", "127.0.0.1:rate=8M",
                "--iface", "127.0.0.2:rate=8M", "-o", out.toString(), url(port, "big.bin"));
        awaitLogged(out, 64, run);
        server.close();
        Thread.sleep(1500);
        assertThat(run).as("the client waits for the server to come back").isNotDone();
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", port));
        Fixtures.Run r = run.get(120, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        for (JsonNode l : summary.get("links")) {
            assertThat(l.get("reconnects").asInt()).as("reconnects of %s", l.get("iface")).isPositive();
        }
        // The new session was told which pieces the client had: they were not sent again.
        long received = summary.get("received_bytes").asLong();
        System.out.printf("server restart: received %d bytes for a %d-byte file (%.2f %% extra)%n", received, size,
                100.0 * (received - size) / size);
        assertThat(received).as("received bytes, at most 5 %% beyond the file").isLessThanOrEqualTo(size + size / 20);
    }

    @Test
    void aFileChangedWhileTheServerWasDownStopsTheDownloadOnReopen() throws Exception {
        long size = 32L << 20;
        Path source = randomFile(root, "big.bin", size, 28);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        int port = server.port();
        Path out = downloads.resolve("big.bin");

        CompletableFuture<Fixtures.Run> run = getAsync("--iface", "127.0.0.1:rate=8M", "-o", out.toString(),
                url(port, "big.bin"));
        awaitLogged(out, 16, run);
        server.close();
        Files.write(source, new byte[] {7}, StandardOpenOption.APPEND);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", port));
        Fixtures.Run r = run.get(120, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(r.err().strip()).doesNotContain("\n")
                .contains("the file changed on the server while the download was interrupted");
        assertThat(out).as("no mixed file is put in place").doesNotExist();
    }

    @Test
    void linksCutMidDownloadReconnectAndReattachToTheSameSession() throws Exception {
        long size = 32L << 20;
        Path source = randomFile(root, "big.bin", size, 27);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        try (CorruptingProxy network = new CorruptingProxy(InetAddress.getByName("127.0.0.1"), server.address(), null)) {
            Path out = downloads.resolve("big.bin");
            CompletableFuture<Fixtures.Run> run = getAsync("--json", "-v", "--iface", "127.0.0.1:rate=8M",
                    "--iface", "127.0.0.2:rate=8M", "-o", out.toString(), url(network.port(), "big.bin"));
            awaitLogged(out, 40, run);
            network.cutConnections();
            Fixtures.Run r = run.get(120, TimeUnit.SECONDS);

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
            assertThat(network.connections()).as("two links, each connected again").isGreaterThanOrEqualTo(4);
            assertThat(r.err()).contains("reconnected").doesNotContain("re-opened");
            JsonNode summary = JSON.readTree(r.out());
            for (JsonNode l : summary.get("links")) {
                assertThat(l.get("reconnects").asInt()).as("reconnects of %s", l.get("iface")).isPositive();
            }
            assertThat(summary.get("received_bytes").asLong()).as("the session kept what was verified")
                    .isLessThanOrEqualTo(size + size / 20);
        }
    }

    @Test
    void everyLinkLostForTheRetryTimeExitsWithOneLineAndTheRerunResumes() throws Exception {
        long size = 32L << 20;
        Path source = randomFile(root, "big.bin", size, 22);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        int port = server.port();
        Path out = downloads.resolve("big.bin");
        String[] args = {"--json", "--retry-time", "2", "--iface", "127.0.0.1:rate=8M", "--iface", "127.0.0.2:rate=8M",
            "-o", out.toString(), url(port, "big.bin")};

        CompletableFuture<Fixtures.Run> run = getAsync(args);
        awaitLogged(out, 32, run);
        server.close();
        Fixtures.Run lost = run.get(60, TimeUnit.SECONDS);

        assertThat(lost.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(lost.err().strip()).doesNotContain("\n").contains("every link was lost for 2 s")
                .contains("rerun the same command to resume");
        assertThat(out).doesNotExist();
        assertThat(out.resolveSibling("big.bin.part")).exists();

        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", port));
        Fixtures.Run rerun = get(args);
        assertThat(rerun.exitCode()).as(rerun.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(rerun.out()).get("resumed_pieces").asInt()).isGreaterThanOrEqualTo(32);
    }

    @Test
    void fileChangedOnTheServerStopsWithOneLineAndTheRerunStartsOver() throws Exception {
        long size = 32L << 20;
        Path source = randomFile(root, "big.bin", size, 23);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("big.bin");
        String[] args = {"--iface", "127.0.0.1:rate=8M", "-o", out.toString(), url(server.port(), "big.bin")};

        CompletableFuture<Fixtures.Run> run = getAsync(args);
        awaitLogged(out, 16, run);
        Files.write(source, new byte[] {42}, StandardOpenOption.APPEND);
        Fixtures.Run changed = run.get(60, TimeUnit.SECONDS);

        assertThat(changed.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(changed.err().strip()).doesNotContain("\n").contains("the file changed on the server")
                .contains("not written");
        assertThat(out).as("no mixed file is put in place").doesNotExist();

        Fixtures.Run rerun = get(args);
        assertThat(rerun.exitCode()).as(rerun.err()).isZero();
        assertThat(rerun.err()).contains("biternet-get: warning: " + out + ".part is from another version of"
                + " big.bin (the file changed on the server); the download starts over" + System.lineSeparator());
        assertSameBytes(source, out);
    }

    @Test
    void diskFullStopsWithOneLineKeepsTheStateAndTheRerunResumes() throws Exception {
        boolean isRoot = "root".equals(System.getProperty("user.name"));
        Assumptions.assumeTrue(isRoot, "needs root to mount a size-limited tmpfs for the output");
        long size = 12L << 20;
        Path source = randomFile(root, "big.bin", size, 24);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path small = Files.createDirectories(downloads.resolve("small"));
        mount(small);
        try {
            Path filler = randomFile(small, "filler", 7L << 20, 25);
            Path out = small.resolve("big.bin");
            String[] args = {"--json", "-o", out.toString(), url(server.port(), "big.bin")};

            Fixtures.Run full = get(args);

            assertThat(full.exitCode()).as(full.err()).isEqualTo(ExitCodes.LOCAL_IO);
            assertThat(full.err().strip()).doesNotContain("\n").contains("No space left on device")
                    .contains("rerun the same command to resume");
            assertThat(out).doesNotExist();
            assertThat(ResumeLog.pathFor(out)).exists();

            Files.delete(filler);
            Fixtures.Run rerun = get(args);
            assertThat(rerun.exitCode()).as(rerun.err()).isZero();
            assertSameBytes(source, out);
            assertThat(JSON.readTree(rerun.out()).get("resumed_pieces").asInt()).as("pieces kept from the full disk")
                    .isPositive();
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }
    }

    private static void mount(Path dir) throws Exception {
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        Assumptions.assumeTrue(p.waitFor() == 0, "cannot mount a tmpfs: " + output.strip());
    }

    @Test
    void aLinkThatCorruptsPiecesIsDroppedAndTheOthersFinish() throws Exception {
        long size = 16L << 20;
        Path source = randomFile(root, "big.bin", size, 26);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        InetAddress bad = InetAddress.getByName("127.0.0.3");
        try (CorruptingProxy proxy = new CorruptingProxy(InetAddress.getByName("127.0.0.1"), server.address(), bad)) {
            Path out = downloads.resolve("big.bin");

            Fixtures.Run r = get("--json", "--iface", "127.0.0.1:rate=16M", "--iface", "127.0.0.3:rate=16M",
                    "-o", out.toString(), url(proxy.port(), "big.bin"));

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
            assertThat(proxy.corrupted()).as("the proxy really damaged pieces").isPositive();
            assertThat(r.err()).contains("warning: link 127.0.0.3 dropped");
            JsonNode summary = JSON.readTree(r.out());
            JsonNode badLink = summary.get("links").get(1);
            assertThat(badLink.get("dropped").asBoolean()).isTrue();
            assertThat(badLink.get("failed").asInt()).isGreaterThanOrEqualTo(3);
            assertThat(badLink.get("pieces").asInt()).as("no corrupted piece counts as delivered").isZero();
            assertThat(summary.get("links").get(0).get("dropped").asBoolean()).isFalse();
            assertThat(summary.get("failed_bytes").asLong()).isGreaterThanOrEqualTo(3L * summary.get("piece_size").asLong());
        }
    }
}
