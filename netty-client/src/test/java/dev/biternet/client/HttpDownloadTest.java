package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static dev.biternet.client.Fixtures.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.http.Nginx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code biternet-get http://...} end to end against real nginx processes over several loopback
 * links (127.0.0.x: the client binds each link's channels to its address).
 */
class HttpDownloadTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * nginx sends a request's first second of its rate at once, so a rate at or above a piece
     * (256 KiB here) never slows a piece: a test that acts mid-download needs a rate below it.
     * Each piece then waits for nginx's next second: about one piece a second a connection.
     */
    private static final String SLOW = "limit_rate 160k;";

    @TempDir
    Path dir;
    private Nginx nginx;
    private Nginx other;
    private Process child;

    @AfterEach
    void stop() throws Exception {
        if (child != null) {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
        if (nginx != null) {
            nginx.close();
        }
        if (other != null) {
            other.close();
        }
    }

    private Path served(String name, long size, long seed) throws Exception {
        return randomFile(Files.createDirectories(dir.resolve("root")), name, size, seed);
    }

    @Test
    void threeLinksFromOneNginxMakeTheFileCheckedAgainstTheChecksum() throws Exception {
        Path source = served("f.bin", 20L << 20, 1);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("--json", "-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "--iface", "127.0.0.3",
                "--checksum", "sha256=" + sha256(source), "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode r = JSON.readTree(run.out());
        assertThat(r.get("verified_by").asText()).isEqualTo("checksum");
        assertThat(r.get("sha256").asText()).isEqualTo(sha256(source));
        assertThat(r.get("links")).hasSize(3);
        long sum = 0;
        for (JsonNode l : r.get("links")) {
            assertThat(l.get("source").asText()).isEqualTo("127.0.0.1:" + nginx.port());
            sum += l.get("bytes").asLong();
        }
        assertThat(sum).isEqualTo(r.get("bytes").asLong() + r.get("duplicate_bytes").asLong());
        assertThat(Path.of(out + ".part")).doesNotExist();
    }

    @Test
    void theSizeIsAskedOnAChannelsOwnConnectionNotOnAnExtraOne() throws Exception {
        Path source = served("f.bin", 8L << 20, 11);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), Nginx.logRequests(dir.resolve("nginx")));
        other = Nginx.start(dir.resolve("root"), dir.resolve("nginx-b"), Nginx.logRequests(dir.resolve("nginx-b")));
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "--mirror", other.url("f.bin"),
                "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        for (Nginx mirror : List.of(nginx, other)) {
            List<String> requests = mirror.requests();
            // One keep-alive connection a link: the first link's carried the probe, then pieces.
            Map<String, List<String>> byConnection = requests.stream()
                    .collect(java.util.stream.Collectors.groupingBy(l -> l.split(" ")[0]));
            assertThat(byConnection).as(String.join("\n", requests)).hasSizeLessThanOrEqualTo(2);
            List<String> probed = byConnection.values().stream()
                    .filter(l -> l.stream().anyMatch(r -> r.contains("\"bytes=0-"))).findFirst().orElseThrow();
            assertThat(probed).as(String.join("\n", requests)).hasSizeGreaterThan(1);
        }
    }

    /**
     * The probe for the size asks for the file's first 256 KiB, and they are piece 0 or its
     * start: no byte of them is asked for again (before, a one-byte probe took a round trip of
     * its own and piece 0 was asked for after it). A file shorter than that is the probe's answer
     * alone; of a file with larger pieces (130 MiB: 512 KiB) only the rest of piece 0 is asked for.
     * Before, the ranges of each added up to the file and one byte more.
     */
    @Test
    void theProbeForTheSizeBringsTheFilesFirstBytesAndTheyAreNotAskedForAgain() throws Exception {
        Path root = Files.createDirectories(dir.resolve("root"));
        Path tiny = served("tiny.bin", 100_000, 21);
        Path small = served("small.bin", 8L << 20, 22);
        Path large = served("large.bin", 2L << 20, 23);
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(large.toFile(), "rw")) {
            f.setLength(130L << 20); // sparse past its random start: 512 KiB pieces
        }
        nginx = Nginx.start(root, dir.resolve("nginx"), Nginx.logRequests(dir.resolve("nginx")));
        int logged = 0;
        for (Path source : List.of(tiny, small, large)) {
            Path out = dir.resolve("out-" + source.getFileName());
            // One connection: no other channel that could copy a piece.
            Fixtures.Run run = get("-q", "--iface", "127.0.0.1:flows=1", "-o", out.toString(),
                    nginx.url(source.getFileName().toString()));
            assertThat(run.exitCode()).as(run.err()).isZero();
            assertSameBytes(source, out);
            List<String> all = nginx.requests();
            List<String> requests = all.subList(logged, all.size());
            logged = all.size();
            String log = source.getFileName() + ":\n" + String.join("\n", requests);
            assertThat(requests.get(0)).as(log).endsWith("\"bytes=0-262143\" 206");
            assertThat(requests.stream().filter(r -> r.contains("\"bytes=0-"))).as(log).hasSize(1);
            // Every byte asked for once: the ranges (the probe's cut at the file's end) add up to the file.
            long size = Files.size(source);
            long asked = requests.stream().mapToLong(r -> {
                String[] range = r.replaceAll(".*\"bytes=([0-9]+-[0-9]+)\".*", "$1").split("-");
                return Math.min(Long.parseLong(range[1]) + 1, size) - Long.parseLong(range[0]);
            }).sum();
            assertThat(asked).as(log).isEqualTo(size);
            if (source == tiny) {
                assertThat(requests).as(log).hasSize(1);
            }
            if (source == large) {
                assertThat(requests).as(log).anyMatch(r -> r.endsWith("\"bytes=262144-524287\" 206"));
            }
        }
    }

    /**
     * The probe's first bytes come slowly (32 KiB/s while a marker file exists) and the mirror is
     * killed under them, then comes back fast: piece 0, whose start they were, is asked for again
     * and the file is whole.
     */
    @Test
    void theFirstBytesLostWithTheProbesConnectionAreAskedForAgain() throws Exception {
        Path source = served("f.bin", 2L << 20, 24);
        Path slow = Files.createFile(dir.resolve("slow"));
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "set $rate 0; if (-f " + slow
                + ") { set $rate 32k; } limit_rate $rate;");
        Path out = dir.resolve("out.bin");
        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("--json", "-q", "--iface",
                "127.0.0.1:flows=1", "--retry-time", "20", "-o", out.toString(), nginx.url("f.bin")));
        Path part = Path.of(out + ".part");
        for (int i = 0; i < 200 && !Files.exists(part) && !run.isDone(); i++) {
            Thread.sleep(25);
        }
        Thread.sleep(300); // the probe's answer is on its way: 32 KiB of 256 in
        assertThat(run).as("the first bytes take 7 s").isNotDone();
        Files.delete(slow);
        nginx.close();
        nginx = nginx.restart();
        Fixtures.Run r = run.get(60, TimeUnit.SECONDS);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(r.out()).get("links").get(0).get("reconnects").asInt()).isPositive();
    }

    @Test
    void withoutAChecksumTheSummarySaysTheFileWasNotVerified() throws Exception {
        Path source = served("f.bin", 3L << 20, 2);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("-q", "--iface", "127.0.0.1", "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        assertThat(run.out()).contains("NOT VERIFIED: HTTP mirrors give no piece hashes and no --checksum was given");
        // The channel's name (link>mirror) is longer than an interface's: the columns still line up.
        String header = run.out().lines().filter(l -> l.startsWith("  link ")).findFirst().orElseThrow();
        String row = run.out().lines().filter(l -> l.startsWith("  127.0.0.1>127.0.0.1:")).findFirst().orElseThrow();
        assertThat(row.indexOf(" 127.0.0.1 ") + 1).isEqualTo(header.indexOf("address"));
    }

    @Test
    void aWrongChecksumKeepsThePartFileAndSaysSoInOneLine() throws Exception {
        Path source = served("f.bin", 3L << 20, 3);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        String wrong = "0".repeat(64);
        Fixtures.Run run = get("-q", "--iface", "127.0.0.1", "--checksum", "sha256=" + wrong, "-o", out.toString(),
                nginx.url("f.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.INTEGRITY);
        assertThat(run.err()).isEqualTo("biternet-get: the file's SHA-256 is " + sha256(source) + ", not the --checksum "
                + wrong + "; " + out + ".part is kept, not renamed" + System.lineSeparator());
        assertThat(out).doesNotExist();
        assertSameBytes(source, Path.of(out + ".part"));
    }

    @Test
    void aMirrorKilledMidDownloadLeavesTheRestToTheOther() throws Exception {
        Path source = served("f.bin", 6L << 20, 4);
        // Slow enough that the kill comes mid-download (24 pieces, 4 connections).
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx-a"), SLOW);
        other = Nginx.start(dir.resolve("root"), dir.resolve("nginx-b"), SLOW);
        Path out = dir.resolve("out.bin");
        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("--json", "-q", "--iface",
                "127.0.0.1", "--iface", "127.0.0.2", "--retry-time", "5", "--mirror", other.url("f.bin"), "-o",
                out.toString(), nginx.url("f.bin")));
        Fixtures.awaitLogged(out, 4, () -> !run.isDone());
        nginx.close();
        Fixtures.Run r = run.get(60, TimeUnit.SECONDS);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        long fromOther = 0;
        for (JsonNode l : JSON.readTree(r.out()).get("links")) {
            if (l.get("source").asText().equals("127.0.0.1:" + other.port())) {
                fromOther += l.get("bytes").asLong();
            }
        }
        assertThat(fromOther).isGreaterThan(Files.size(source) / 2);
    }

    @Test
    void killedThenRerunResumesAndAChangedFileStartsOver() throws Exception {
        Path source = served("f.bin", 4L << 20, 5);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), SLOW);
        Path out = dir.resolve("out.bin");
        // One connection a link, so that it is killed mid-download: each request's answer
        // starts with a second of the rate at once, and a busy machine's slow first connect can
        // read as a round trip that starts a link at four or sixteen connections (CI: the
        // download ended in 1.9 s, before 5 pieces were logged).
        child = new ProcessBuilder(Prerequisites.clientCommand("-q", "--iface", "127.0.0.1:flows=1", "--iface",
                "127.0.0.2:flows=1", "-o", out.toString(), nginx.url("f.bin"))).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        Fixtures.awaitLogged(out, 5, child::isAlive);
        child.destroyForcibly(); // SIGKILL: no shutdown hook, no final checkpoint
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(out).doesNotExist();

        // The checksum is of the whole file read back from disk: the resumed pieces count in it.
        Fixtures.Run again = get("--json", "-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "--checksum",
                "sha256=" + sha256(source), "-o", out.toString(), nginx.url("f.bin"));
        assertThat(again.exitCode()).as(again.err()).isZero();
        assertThat(again.err()).contains("biternet-get: resuming " + out + ".part: ");
        assertSameBytes(source, out);
        JsonNode r = JSON.readTree(again.out());
        assertThat(r.get("resumed_pieces").asInt()).isGreaterThanOrEqualTo(5);
        assertThat(r.get("verified_by").asText()).isEqualTo("checksum");
        assertThat(r.get("received_bytes").asLong()).isLessThan(Files.size(source));

        // Killed again, then the file changes on the mirror (nginx's ETag is its mtime and size).
        Files.delete(out);
        child = new ProcessBuilder(Prerequisites.clientCommand("-q", "--iface", "127.0.0.1:flows=1", "-o", out.toString(),
                nginx.url("f.bin"))).redirectErrorStream(true).redirectOutput(dir.resolve("child2.log").toFile()).start();
        Fixtures.awaitLogged(out, 2, child::isAlive);
        child.destroyForcibly();
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        Path changed = served("f.bin", 4L << 20, 6);
        Files.setLastModifiedTime(changed, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        Fixtures.Run fresh = get("-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(),
                nginx.url("f.bin"));
        assertThat(fresh.exitCode()).as(fresh.err()).isZero();
        assertThat(fresh.err()).contains("biternet-get: warning: the file changed on " + nginx.url("f.bin") + " since "
                + out + ".part was started (now ETag ").contains("; the download starts over");
        assertThat(fresh.err()).doesNotContain("resuming");
        assertSameBytes(changed, out);
    }

    @Test
    void aFileChangedMidDownloadIsNeverMixedIn() throws Exception {
        Path source = served("f.bin", 24L << 20, 9);
        // At 2m no piece was held back, and the whole file could arrive before the swap (CI, exit 0).
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), SLOW);
        Path out = dir.resolve("out.bin");
        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("-q", "--iface", "127.0.0.1",
                "-o", out.toString(), nginx.url("f.bin")));
        Fixtures.awaitLogged(out, 2, () -> !run.isDone());
        // Same size, other bytes, another modification time: nginx's ETag and Last-Modified change.
        Path tmp = randomFile(dir, "new.bin", 24L << 20, 10);
        Files.setLastModifiedTime(tmp, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        Files.move(tmp, source, java.nio.file.StandardCopyOption.ATOMIC_MOVE); // rename(2): never a moment without it
        Fixtures.Run r = run.get(60, TimeUnit.SECONDS);
        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(r.err()).contains("biternet-get: " + nginx.url("f.bin") + ": the file changed on the mirror (ETag ")
                .contains(".part is kept (a rerun starts over with the new file)");
        assertThat(out).doesNotExist();
    }

    @Test
    void aMirrorThatIgnoresRangeServesAloneOrIsLeftOut() throws Exception {
        Path source = served("f.bin", 3L << 20, 7);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "max_ranges 0;");
        other = Nginx.start(dir.resolve("root"), dir.resolve("nginx-b"), "");
        Path out = dir.resolve("out.bin");
        Fixtures.Run alone = get("--json", "-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(),
                nginx.url("f.bin"));
        assertThat(alone.exitCode()).as(alone.err()).isZero();
        assertThat(alone.err()).contains("biternet-get: warning: " + nginx.url("f.bin")
                + ": the mirror ignores Range requests; the whole file comes over one link");
        assertSameBytes(source, out);
        JsonNode links = JSON.readTree(alone.out()).get("links");
        assertThat(links).hasSize(1);
        assertThat(links.get(0).get("bytes").asLong()).isEqualTo(Files.size(source));
        Files.delete(out);
        Fixtures.Run mixed = get("-q", "--iface", "127.0.0.1", "--mirror", other.url("f.bin"), "-o", out.toString(),
                nginx.url("f.bin"));
        assertThat(mixed.exitCode()).as(mixed.err()).isZero();
        assertThat(mixed.err()).contains("biternet-get: warning: " + nginx.url("f.bin") + ": the mirror ignores Range"
                + " requests (a mirror used with others must serve ranges); not used");
        assertSameBytes(source, out);
    }

    @Test
    void backupIsRefusedNotIgnored() throws Exception {
        Fixtures.Run backup = get("-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2:backup", "-o",
                dir.resolve("x").toString(), "http://127.0.0.1:1/f.bin");
        assertThat(backup.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(backup.err()).isEqualTo("biternet-get: --iface 127.0.0.2: the per-link option backup is not"
                + " supported with http[s]:// URLs yet (cap, rate and flows are); drop it" + System.lineSeparator());
    }

    @Test
    void flowsGivesALinkThatManyConnectionsToTheMirror() throws Exception {
        Path source = served("f.bin", 8L << 20, 12);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), Nginx.logRequests(dir.resolve("nginx")));
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("--json", "-q", "--iface", "127.0.0.1:flows=3", "--iface", "127.0.0.2:flows=1", "-o",
                out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        Map<String, Long> connections = nginx.requests().stream().map(l -> l.split(" "))
                .collect(java.util.stream.Collectors.groupingBy(f -> f[1],
                        java.util.stream.Collectors.mapping(f -> f[0], java.util.stream.Collectors.collectingAndThen(
                                java.util.stream.Collectors.toSet(), set -> (long) set.size()))));
        assertThat(connections).as(String.join("\n", nginx.requests())).containsEntry("127.0.0.1", 3L)
                .containsEntry("127.0.0.2", 1L);
        JsonNode links = JSON.readTree(run.out()).get("links");
        assertThat(links.get(0).get("flows").asInt()).isEqualTo(3);
        assertThat(links.get(1).get("flows").asInt()).isEqualTo(1);
        assertThat(links.get(0).get("bytes").asLong() + links.get(1).get("bytes").asLong())
                .isGreaterThanOrEqualTo(Files.size(source));
    }

    @Test
    void theRoutingDoctorAndTheInterfaceListTakeAnHttpUrl() {
        Fixtures.Run doctor = get("--doctor", "--iface", "127.0.0.1", "http://127.0.0.1:1/f.bin");
        assertThat(doctor.exitCode()).as(doctor.err()).isZero();
        assertThat(doctor.out()).contains("127.0.0.1").doesNotContain("bytes");
        Fixtures.Run list = get("--list-ifaces", "https://127.0.0.1:1/f.bin");
        assertThat(list.exitCode()).as(list.err()).isZero();
        assertThat(list.out()).contains("lo");
    }

    @Test
    void aUrlWithoutAUsableNameAsksForMinusO() {
        Fixtures.Run run = get("-q", "http://127.0.0.1:1/d/%2E%2E");
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).startsWith("no usable file name in http://127.0.0.1:1/d/%2E%2E; name the"
                + " output with -o").doesNotContain("Exception");
    }

    @Test
    void autoTakesTheInterfacesThatReachTheMirror() throws Exception {
        Path source = served("f.bin", 1L << 20, 11);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("--json", "-q", "--iface", "auto", "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(run.out()).get("links")).isNotEmpty();
    }

    @Test
    void aMirrorThatEndsEveryConnectionAfterOneAnswerIsNoFault() throws Exception {
        Path source = served("f.bin", 3L << 20, 12);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "keepalive_requests 1;");
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("--json", "-v", "-q", "--iface", "127.0.0.1", "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        // Each request after the first on a connection is asked again at once on a new one: no
        // backoff, no lost link.
        assertThat(JSON.readTree(run.out()).get("links").get(0).get("reconnects").asInt()).as(run.err()).isZero();
    }

    @Test
    void aMissingFileIsOneLine() throws Exception {
        served("f.bin", 1000, 8);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Fixtures.Run run = get("-q", "-o", dir.resolve("x").toString(), nginx.url("nope.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(run.err()).isEqualTo("biternet-get: " + nginx.url("nope.bin") + ": the mirror answered HTTP 404 Not Found"
                + System.lineSeparator());
    }
}
