package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static dev.biternet.client.SeveralServersTest.url;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link's {@code cap=} and {@code rate=} counted across several servers ({@link LinkShares}),
 * over real loopback sockets with real servers in this JVM: a server refused at open or killed
 * early leaves its part of a capped link to the one left, which carries more than half of the
 * cap there while the link never carries more than the cap, nor faster than its rate; when the
 * cap truly runs out, the download still ends in one line.
 */
@Timeout(120)
class SharedLinkCapsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PIECE = 64 << 10;
    private static final long MIB = 1 << 20;

    @TempDir
    Path rootA;
    @TempDir
    Path rootB;
    @TempDir
    Path downloads;
    private BiternetServer a;
    private BiternetServer b;

    @AfterEach
    void stop() {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    private void start() throws Exception {
        a = BiternetServer.start(BiternetServer.Config.of(rootA, "127.0.0.1", 0).withPieceSize(PIECE));
        b = BiternetServer.start(BiternetServer.Config.of(rootB, "127.0.0.1", 0).withPieceSize(PIECE));
    }

    /** Bytes over link {@code iface} from {@code source} ("host:port"), or from every source with null. */
    private static long over(JsonNode summary, String iface, String source) {
        long n = 0;
        for (JsonNode l : summary.get("links")) {
            if (l.get("iface").asText().equals(iface) && (source == null || l.get("source").asText().equals(source))) {
                n += l.get("bytes").asLong();
            }
        }
        return n;
    }

    @Test
    void aServerRefusedAtOpenLeavesItsPartOfTheCapToTheOther() throws Exception {
        long size = 16 * MIB;
        Path source = randomFile(rootA, "f.bin", size, 41);
        randomFile(rootB, "f.bin", size, 42); // the same size, other bytes: refused for its root hash
        start();
        // Hashed before: the roots are in SessionOpened, so B is refused as it opens.
        assertThat(get("-o", downloads.resolve("warm-a").toString(), url(a.port(), "f.bin")).exitCode()).isZero();
        assertThat(get("-o", downloads.resolve("warm-b").toString(), url(b.port(), "f.bin")).exitCode()).isZero();
        Path out = downloads.resolve("f.bin");

        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:cap=12Mi", "--iface", "127.0.0.2:rate=2Mi", "-o",
                out.toString(), url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(r.err()).contains("another file");
        JsonNode summary = JSON.readTree(r.out());
        assertThat(over(summary, "127.0.0.1", null)).as("bytes over the capped link").isLessThanOrEqualTo(12 * MIB);
        assertThat(over(summary, "127.0.0.1", "127.0.0.1:" + a.port()))
                .as("the server left carried more than its even part of the capped link").isGreaterThan(6 * MIB);
    }

    @Test
    void aServerKilledEarlyLeavesWhatItDidNotCarryToTheOtherAndTheRateHolds() throws Exception {
        long size = 32 * MIB;
        Path source = randomFile(rootA, "f.bin", size, 43);
        Files.copy(source, rootB.resolve("f.bin"));
        start();
        Path out = downloads.resolve("f.bin");

        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("--json", "--retry-time", "60",
                "--iface", "127.0.0.1:cap=24Mi,rate=8Mi", "--iface", "127.0.0.2:rate=2Mi", "-o", out.toString(),
                url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin")));
        Fixtures.awaitLogged(out, 16, () -> !run.isDone());
        b.close();
        b = null;
        Fixtures.Run r = run.get(100, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        long capped = over(summary, "127.0.0.1", null);
        assertThat(capped).as("bytes over the capped link").isLessThanOrEqualTo(24 * MIB);
        assertThat(over(summary, "127.0.0.1", "127.0.0.1:" + a.port()))
                .as("the server left carried more than its even part of the capped link").isGreaterThan(12 * MIB);
        // The bound held (not a speed): the link's rate over both servers, plus a window's burst.
        assertThat(capped).as("bytes over a link of 8 MiB/s in " + summary.get("seconds") + " s")
                .isLessThanOrEqualTo((long) (8 * MIB * summary.get("seconds").asDouble()) + 2 * MIB);
    }

    @Test
    void aCapThatTrulyRunsOutStillEndsInOneLineOnceTheDeadServersPartIsHandedOn() throws Exception {
        long size = 16 * MIB;
        Path source = randomFile(rootA, "f.bin", size, 44);
        Files.copy(source, rootB.resolve("f.bin"));
        start();
        Path out = downloads.resolve("f.bin");

        CompletableFuture<Fixtures.Run> run = CompletableFuture.supplyAsync(() -> get("--json", "--retry-time", "60",
                "--iface", "127.0.0.1:cap=4Mi,rate=4Mi", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                url(b.port(), "f.bin")));
        Fixtures.awaitLogged(out, 8, () -> !run.isDone());
        b.close();
        b = null;
        Fixtures.Run r = run.get(100, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
        assertThat(r.err()).contains("every link reached its data cap");
        assertThat(out).doesNotExist();
        int kept = dev.biternet.client.store.ResumeLog.read(out).map(c -> c.pieces().size()).orElse(0);
        assertThat((long) kept * PIECE).as("pieces kept for a rerun: the link's whole cap was used, not the dead one's part")
                .isGreaterThan(3 * MIB).isLessThanOrEqualTo(4 * MIB);
    }
}
