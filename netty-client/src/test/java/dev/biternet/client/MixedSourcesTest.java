package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static dev.biternet.client.SeveralServersTest.perSource;
import static dev.biternet.client.SeveralServersTest.url;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.http.Nginx;
import dev.biternet.server.BiternetServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One file from a biternet server and an HTTP mirror at once, over real loopback sockets: an
 * in-JVM server gives the layout and the piece hashes, a real nginx serves ranges. Both deliver,
 * bytes equal, few duplicates; a mirror of other bytes is dropped after 3 pieces that fail the
 * server's hash; a mirror killed mid-download costs its share; the server killed mid-download
 * leaves the mirror to finish, its pieces still checked against the hashes already received.
 */
class MixedSourcesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;
    @TempDir
    Path other;
    @TempDir
    Path dir;
    private BiternetServer server;
    private Nginx nginx;

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (nginx != null) {
            nginx.close();
        }
    }

    /** The server and nginx serving the same file ({@code mirrorRoot}: nginx's root instead). */
    private Path serve(long size, Path mirrorRoot, String nginxLocations) throws Exception {
        Nginx.require();
        Path source = randomFile(root, "f.bin", size, 41);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        nginx = Nginx.start(mirrorRoot, dir.resolve("nginx"), nginxLocations);
        return source;
    }

    /**
     * The summary's counts add up over the (link, source) channels: each piece counted once as
     * delivered, every other copy as a duplicate or a failure.
     */
    private static void assertCountsAddUp(JsonNode summary, long size) {
        long sum = 0;
        long extra = 0;
        int pieces = 0;
        for (JsonNode l : summary.get("links")) {
            sum += l.get("bytes").asLong();
            extra += l.get("duplicate_bytes").asLong() + l.get("failed_bytes").asLong();
            pieces += l.get("pieces").asInt();
        }
        assertThat(pieces).as("pieces over the channels").isEqualTo(summary.get("pieces").asInt());
        assertThat(sum).as("bytes over the channels").isEqualTo(size + extra);
        assertThat(summary.get("duplicate_bytes").asLong() + summary.get("failed_bytes").asLong()).isEqualTo(extra);
    }

    /** What a test does to the sources mid-download. */
    private interface Midway {
        void act() throws Exception;
    }

    /**
     * biternet-get with {@code args}, then the output, the server and the mirror; {@code midway}
     * done once 32 pieces are in. Returns the run as it ended.
     */
    private Fixtures.Run midway(Path out, Midway midway, String... args) throws Exception {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("-o", out.toString(), url(server.port(), "f.bin"), "--mirror", nginx.url("f.bin")));
        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get(all.toArray(String[]::new)));
        Fixtures.awaitLogged(out, 32, () -> !run.isDone());
        midway.act();
        return run.get(120, TimeUnit.SECONDS);
    }

    @Test
    void aServerAndAMirrorBothDeliverBytesEqualFewDuplicates() throws Exception {
        // The tail's copies are a few pieces a download, whatever its size (0.5-1.3 MB here on a
        // loaded machine): at 64 MiB they passed 1 % now and then, before this test's bound
        // changed or the code did; 128 MiB measures the 1 % the issue asks for, not the jitter.
        long size = 128L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");

        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:rate=16M", "--iface", "127.0.0.2:rate=16M", "-o",
                out.toString(), url(server.port(), "f.bin"), "--mirror", nginx.url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        assertThat(summary.get("verified_by").asText()).isEqualTo("piece_hashes");
        Map<String, Long> bySource = perSource(summary);
        System.out.println("server + mirror: bytes by source " + bySource + ", duplicate bytes "
                + summary.get("duplicate_bytes").asLong());
        assertThat(bySource).as("a channel per (link, source)")
                .containsOnlyKeys("127.0.0.1:" + server.port(), "127.0.0.1:" + nginx.port());
        // Both carry a real share. The links (16 MB/s each) are the limit, not the sources, so
        // the split between a server that pushes and a mirror that is asked is not set: 10-20 %
        // from the mirror in six quiet runs (12.5-26 MB), 13.1 MB once in CI beside the build.
        assertThat(bySource.values()).as("both sources delivered").allSatisfy(v -> assertThat(v).isGreaterThan(size / 20));
        int channels = 0;
        for (JsonNode l : summary.get("links")) {
            channels += Math.max(1, l.path("flows").asInt(1));
        }
        assertCountsAddUp(summary, size);
        long pieceSize = summary.get("piece_size").asLong();
        assertThat(summary.get("duplicate_bytes").asLong()).as("duplicate bytes across the sources")
                .isLessThanOrEqualTo(size / 100 + channels * pieceSize);
    }

    @Test
    void theHttpUrlFirstWithABiternetMirrorIsTheSameDownload() throws Exception {
        long size = 4L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");

        Fixtures.Run r = get("--json", "--iface", "127.0.0.1", "-o", out.toString(), nginx.url("f.bin"), "--mirror",
                url(server.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(r.out()).get("verified_by").asText()).isEqualTo("piece_hashes");
    }

    @Test
    void aMirrorOfOtherBytesIsDroppedAfterThreeBadPiecesAndTheServerFinishes() throws Exception {
        long size = 16L << 20;
        randomFile(other, "f.bin", size, 42); // same size, other bytes: every piece fails the server's hash
        Path source = serve(size, other, "");
        Path out = dir.resolve("f.bin");

        // Paced, so that the mirror has joined before the server alone is done (on loopback the
        // server sent 16 MiB in 0.3 s, before the mirror's answer, on a quiet machine).
        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:rate=8M", "--iface", "127.0.0.2:rate=8M", "-o", out.toString(),
                url(server.port(), "f.bin"), "--mirror", nginx.url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        List<String> dropped = r.err().lines().filter(l -> l.contains("failed the biternet server's hash (its")).toList();
        System.out.println("dropped: " + dropped);
        assertThat(dropped).as(r.err()).hasSize(1);
        assertThat(dropped.get(0)).contains(nginx.url("f.bin")).contains("pieces failed").contains("not used any more");
        assertCountsAddUp(JSON.readTree(r.out()), size);
        long failed = 0;
        for (JsonNode l : JSON.readTree(r.out()).get("links")) {
            if (l.get("source").asText().equals("127.0.0.1:" + nginx.port())) {
                failed += l.path("failed").asLong();
            }
        }
        assertThat(failed).as("the mirror's bad pieces, counted against it").isGreaterThanOrEqualTo(3);
    }

    @Test
    void aMirrorOfAnotherSizeIsRefusedInOneLine() throws Exception {
        long size = 4L << 20;
        randomFile(other, "f.bin", size + 1, 43);
        Path source = serve(size, other, "");
        Path out = dir.resolve("f.bin");

        // Paced, so that the mirror's answer comes before the server alone is done.
        Fixtures.Run r = get("--iface", "127.0.0.1:rate=4M", "-o", out.toString(), url(server.port(), "f.bin"), "--mirror",
                nginx.url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        List<String> refused = r.err().lines().filter(l -> l.contains(nginx.url("f.bin"))).toList();
        assertThat(refused).as(r.err()).hasSize(1);
        assertThat(refused.get(0)).contains((size + 1) + " bytes").contains("not used");
    }

    @Test
    void aMirrorKilledMidDownloadCostsOnlyItsShare() throws Exception {
        long size = 16L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");

        Fixtures.Run r = midway(out, () -> {
            nginx.close();
            nginx = null;
        }, "--json", "--iface", "127.0.0.1:rate=4M", "--iface", "127.0.0.2:rate=4M");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(perSource(JSON.readTree(r.out())).get("127.0.0.1:" + server.port())).as("the server finished the file")
                .isGreaterThan(size / 2);
    }

    @Test
    void aMirrorLostAndBackIsUsedAgain() throws Exception {
        long size = 32L << 20;
        Path source = serve(size, root, Nginx.logRequests(dir.resolve("nginx")));
        Path out = dir.resolve("f.bin");

        int[] before = {0};
        Fixtures.Run r = midway(out, () -> {
            nginx.close();
            Thread.sleep(300);
            nginx = nginx.restart();
            before[0] = nginx.requests().size();
        }, "--json", "--iface", "127.0.0.1:rate=2M", "--iface", "127.0.0.2:rate=2M");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        long served = nginx.requests().stream().skip(before[0]).filter(l -> l.endsWith(" 206")).count();
        System.out.println("pieces the mirror served after it came back: " + served);
        assertThat(served).as("ranges the mirror served once it was back").isGreaterThanOrEqualTo(4);
    }

    @Test
    void theServerKilledMidDownloadLeavesTheMirrorToFinishCheckedByTheHashesReceived() throws Exception {
        long size = 16L << 20;
        Path source = serve(size, root, "");
        // The server has hashed the file before: its SessionOpened carries the root, and every digest is asked at once.
        assertThat(get("-o", dir.resolve("warm").toString(), url(server.port(), "f.bin")).exitCode()).isZero();
        Path out = dir.resolve("f.bin");

        Fixtures.Run r = midway(out, () -> {
            server.close();
            server = null;
        }, "--json", "--retry-time", "60", "--iface", "127.0.0.1:rate=4M", "--iface", "127.0.0.2:rate=4M");

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        assertThat(summary.get("verified_by").asText()).isEqualTo("piece_hashes");
        assertThat(perSource(summary).get("127.0.0.1:" + nginx.port())).as("the mirror finished the file")
                .isGreaterThan(size / 2);
    }

    @Test
    void aDownloadCutShortResumesFromTheServerAndTheMirror() throws Exception {
        long size = 16L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");
        Fixtures.Run cut = midway(out, () -> {
            server.close();
            nginx.close();
        }, "--retry-time", "1", "--iface", "127.0.0.1:rate=2M");
        assertThat(cut.exitCode()).as(cut.err()).isEqualTo(ExitCodes.NETWORK);

        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        nginx = nginx.restart();
        Fixtures.Run r = get("--json", "--iface", "127.0.0.1", "-o", out.toString(), nginx.url("f.bin"), "--mirror",
                url(server.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(r.err()).contains("resuming");
        assertThat(JSON.readTree(r.out()).get("resumed_pieces").asLong()).isGreaterThanOrEqualTo(32);
    }

    @Test
    void aChecksumWithABiternetSourceIsRefusedInOneLine() {
        Fixtures.Run r = get("--checksum", "sha256=" + "0".repeat(64), "-o", dir.resolve("f.bin").toString(),
                url(7420, "f.bin"), "--mirror", "http://127.0.0.1:1/f.bin");

        assertThat(r.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err().lines().findFirst().orElse("")).as(r.err()).contains("with a biternet:// source")
                .endsWith("drop --checksum");
    }

    @Test
    void aLinksCapCountsWhatTheServerAndTheMirrorSentOverIt() throws Exception {
        long size = 16L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");

        // Paced, so that the mirror has joined before the server alone is done.
        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:cap=4M,rate=8M", "--iface", "127.0.0.2:rate=8M", "-o", out.toString(),
                url(server.port(), "f.bin"), "--mirror", nginx.url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        Map<String, Long> capped = new java.util.HashMap<>();
        for (JsonNode l : JSON.readTree(r.out()).get("links")) {
            if (l.get("iface").asText().equals("127.0.0.1")) {
                capped.merge(l.get("source").asText(), l.get("bytes").asLong(), Long::sum);
            }
        }
        System.out.println("over the capped link, by source: " + capped);
        assertThat(capped.values()).as("both sources used the capped link").hasSize(2).allSatisfy(v -> assertThat(v)
                .isPositive());
        assertThat(capped.values().stream().mapToLong(Long::longValue).sum()).as("bytes over the capped link")
                .isLessThanOrEqualTo(4L << 20);
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void capsTooSmallForTheFileEndInOneLineNotAStall() throws Exception {
        long size = 16L << 20;
        serve(size, root, "");
        Path out = dir.resolve("f.bin");

        Fixtures.Run r = get("--iface", "127.0.0.1:cap=4M", "-o", out.toString(), url(server.port(), "f.bin"), "--mirror",
                nginx.url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
        assertThat(r.err()).contains("every link reached its data cap");
        assertThat(out).doesNotExist();
    }

    @Test
    @org.junit.jupiter.api.Timeout(15) // a mirror's first answer may take the connect timeout and the 20 s stall
    void aMirrorThatNeverAnswersHoldsUpNothing() throws Exception {
        long size = 4L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");
        List<java.net.Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Thread t = new Thread(() -> {
                try {
                    while (true) {
                        held.add(silent.accept()); // accepted, read from never, answered never
                    }
                } catch (java.io.IOException e) {
                    // closed by the test
                }
            }, "silent-mirror");
            t.setDaemon(true);
            t.start();

            Fixtures.Run r = get("--iface", "127.0.0.1", "-o", out.toString(), url(server.port(), "f.bin"), "--mirror",
                    "http://127.0.0.1:" + silent.getLocalPort() + "/f.bin");

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
        } finally {
            for (java.net.Socket s : held) {
                s.close();
            }
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void aServerThatDoesNotGiveDigestsOnRequestLeavesTheMirrorsOutInOneLine() throws Exception {
        long size = 4L << 20;
        Path source = serve(size, root, "");
        Path out = dir.resolve("f.bin");
        // A protocol-2 server from before DigestRequest: its Welcome does not say digests_on_request.
        try (FilteringProxy older = new FilteringProxy(server.port(), e -> e.hasWelcome()
                ? e.toBuilder().setWelcome(e.getWelcome().toBuilder().clearDigestsOnRequest()).build() : e)) {
            Fixtures.Run r = get("--json", "--iface", "127.0.0.1", "-o", out.toString(), url(older.port(), "f.bin"),
                    "--mirror", nginx.url("f.bin"));

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
            List<String> lines = r.err().lines().filter(l -> l.contains("HTTP mirrors")).toList();
            assertThat(lines).as(r.err()).hasSize(1);
            assertThat(lines.get(0)).contains("127.0.0.1:" + older.port()).contains("does not give piece hashes")
                    .contains("not used");
            assertThat(perSource(JSON.readTree(r.out()))).containsOnlyKeys("127.0.0.1:" + older.port());
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void theServerLostBeforeItGaveEveryDigestFailsInOneLineAndRenamesNothing() throws Exception {
        long size = 16L << 20;
        serve(size, root, "");
        Path out = dir.resolve("f.bin");
        // The answers to DigestRequest never reach the client: the mirror's pieces wait for their digests.
        try (FilteringProxy proxy = new FilteringProxy(server.port(), e -> e.hasPieceHashes()
                && !e.getPieceHashes().getDigests().isEmpty() ? null : e)) {
            CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("--retry-time", "1", "--iface",
                    "127.0.0.1:rate=2M", "-o", out.toString(), url(proxy.port(), "f.bin"), "--mirror", nginx.url("f.bin")));
            Fixtures.awaitLogged(out, 16, () -> !run.isDone());
            server.close();
            server = null;
            Fixtures.Run r = run.get(50, TimeUnit.SECONDS);

            assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
            List<String> lines = r.err().lines().filter(l -> l.contains("cannot be checked")).toList();
            assertThat(lines).as(r.err()).hasSize(1);
            assertThat(lines.get(0)).contains("no biternet server was up for 1 s").contains("rerun the same command");
            assertThat(out).doesNotExist();
            assertThat(Path.of(out + ".part")).exists();
        }
    }
}
