package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static dev.biternet.client.Fixtures.sha256;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Whole downloads over real loopback sockets, through the biternet-get command line. */
class LoopbackDownloadTest {
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

    private String url(String path) {
        return "biternet://127.0.0.1:" + server.port() + "/" + path;
    }

    @Test
    void verifyDiskReadsTheFileBackAndReportsItsOwnSha256() throws Exception {
        Path source = randomFile(root, "v.bin", 5L << 20, 11);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("v.bin");

        Fixtures.Run plain = get("--json", "--iface", "127.0.0.1", "-o", out.toString(), url("v.bin"));
        assertThat(plain.exitCode()).as(plain.err()).isZero();
        assertThat(JSON.readTree(plain.out()).get("sha256_read_back").asBoolean()).isFalse();
        Files.delete(out);
        Fixtures.Run checked = get("--iface", "127.0.0.1", "--verify-disk", "-o", out.toString(), url("v.bin"));

        assertThat(checked.exitCode()).as(checked.err()).isZero();
        assertSameBytes(source, out);
        assertThat(checked.out()).contains("sha256 " + sha256(source) + " (read back from disk)");
    }

    @Test
    void sixtyFourMebibytesOverThreeLocalAddresses() throws Exception {
        Path source = randomFile(root, "big.bin", 64L << 20, 1);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("big.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "--iface", "127.0.0.3",
                "-o", out.toString(), url("big.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(run.out());
        assertThat(summary.get("sha256").asText()).isEqualTo(sha256(source));
        assertThat(summary.get("bytes").asLong()).isEqualTo(64L << 20);
        assertThat(summary.get("file").asText()).isEqualTo(out.toString());
        assertThat(summary.get("seconds").asDouble()).isPositive();
        JsonNode links = summary.get("links");
        assertThat(links).hasSize(3);
        long sum = 0;
        long extra = 0;
        int pieces = 0;
        List<String> addresses = new ArrayList<>();
        for (JsonNode l : links) {
            assertThat(l.get("pieces").asInt()).as("pieces over %s", l.get("iface")).isPositive();
            assertThat(l.get("rtt_ms").asDouble()).as("round trip measured over %s", l.get("iface"))
                    .isPositive().isLessThan(1000);
            sum += l.get("bytes").asLong();
            extra += l.get("duplicate_bytes").asLong() + l.get("failed_bytes").asLong();
            pieces += l.get("pieces").asInt();
            addresses.add(l.get("address").asText());
        }
        assertThat(addresses).containsExactly("127.0.0.1", "127.0.0.2", "127.0.0.3");
        assertThat(pieces).isEqualTo(summary.get("pieces").asInt());
        assertThat(sum).isEqualTo((64L << 20) + extra);
        assertThat(summary.get("duplicate_bytes").asLong() + summary.get("failed_bytes").asLong()).isEqualTo(extra);
        assertThat(out.resolveSibling("big.bin.part")).doesNotExist();
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 65535, 65536, 3 * 65536 + 17})
    void oddSizesArriveWhole(long size) throws Exception {
        Path source = randomFile(root, "f" + size, size, size);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0).withPieceSize(65536));
        Path out = downloads.resolve("f" + size);

        Fixtures.Run run = get("--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(), url("f" + size));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        assertThat(run.out()).contains(sha256(source));
    }

    @Test
    void interfaceNameBindsTheDevice() throws Exception {
        Path source = randomFile(root, "dev.bin", 3 << 20, 3);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("dev.bin");

        Fixtures.Run run = get("--json", "--iface", "lo", "-o", out.toString(), url("dev.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode link = JSON.readTree(run.out()).get("links").get(0);
        assertThat(link.get("iface").asText()).isEqualTo("lo");
        assertThat(link.get("address").asText()).isEqualTo("127.0.0.1");
    }

    @Test
    void ipv6ServerAndLinks() throws Exception {
        Path source = randomFile(root, "v6.bin", 5 << 20, 6);
        server = BiternetServer.start(BiternetServer.Config.of(root, "::1", 0));
        Path out = downloads.resolve("v6.bin");

        Fixtures.Run run = get("--json", "--iface", "::1", "-o", out.toString(),
                "biternet://[::1]:" + server.port() + "/v6.bin");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(run.out()).get("links").get(0).get("address").asText()).isEqualTo("::1");
    }

    @Test
    void subdirectoryPathsWork() throws Exception {
        Files.createDirectories(root.resolve("a/b"));
        Path source = randomFile(root.resolve("a/b"), "c.bin", 100_000, 9);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("c.bin");

        Fixtures.Run run = get("-o", out.toString(), url("a/b/c.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
    }

    @Test
    void aCappedLinkCarriesNoMoreThanItsCap() throws Exception {
        Path source = randomFile(root, "capped.bin", 16L << 20, 11);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("capped.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1:cap=2Mi", "--iface", "127.0.0.2", "-o", out.toString(),
                url("capped.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode capped = JSON.readTree(run.out()).get("links").get(0);
        assertThat(capped.get("cap_bytes").asLong()).isEqualTo(2L << 20);
        assertThat(capped.get("bytes").asLong()).isPositive().isLessThanOrEqualTo(2L << 20);
    }

    @Test
    void whenEveryLinkIsCappedTheDownloadStopsWithAClearError() throws Exception {
        randomFile(root, "toobig.bin", 8L << 20, 12);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("toobig.bin");

        Fixtures.Run run = get("--iface", "127.0.0.1:cap=1Mi", "--iface", "127.0.0.2:cap=1Mi", "-o", out.toString(),
                url("toobig.bin"));

        assertThat(run.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(run.err().strip()).startsWith("biternet-get: every link reached its data cap").doesNotContain("\n");
        assertThat(out).doesNotExist();
        assertThat(downloads.resolve("toobig.bin.part")).exists();
    }

    @Test
    void aRateLimitedLinkTakesAtLeastAsLongAsItsLimitAllows() throws Exception {
        // A lower bound on time holds on a slow machine too: it fails only if the limit leaks.
        Path source = randomFile(root, "slow.bin", 3L << 20, 13);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("slow.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1:rate=2Mi", "-o", out.toString(), url("slow.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(run.out());
        assertThat(summary.get("links").get(0).get("rate_limit").asLong()).isEqualTo(2L << 20);
        // 3 MiB at 2 MiB/s: 1.5 s; allow the kernel's buffers a head start of 0.5 MiB.
        assertThat(summary.get("seconds").asDouble()).isGreaterThanOrEqualTo(1.25);
    }

    @Test
    void aLinkOfFourFlowsCarriesItsShareAndSaysSo() throws Exception {
        Path source = randomFile(root, "flows.bin", 24L << 20, 14);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("flows.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1:flows=4", "--iface", "127.0.0.2:flows=1",
                "-o", out.toString(), url("flows.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode links = JSON.readTree(run.out()).get("links");
        assertThat(links.get(0).get("flows").asInt()).isEqualTo(4);
        assertThat(links.get(1).get("flows").asInt()).isEqualTo(1);
        assertThat(links.get(0).get("bytes").asLong() + links.get(1).get("bytes").asLong()
                - links.get(0).get("duplicate_bytes").asLong() - links.get(1).get("duplicate_bytes").asLong())
                .isEqualTo(24L << 20);
    }

    @Test
    void theFlowsOfACappedLinkShareItsCap() throws Exception {
        // Each flow held to the whole cap would let the link carry four times it.
        Path source = randomFile(root, "capped4.bin", 16L << 20, 15);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("capped4.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1:cap=2Mi,flows=4", "--iface", "127.0.0.2",
                "-o", out.toString(), url("capped4.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode capped = JSON.readTree(run.out()).get("links").get(0);
        assertThat(capped.get("flows").asInt()).isEqualTo(4);
        assertThat(capped.get("bytes").asLong()).isPositive().isLessThanOrEqualTo(2L << 20);
    }

    @Test
    void theFlowsOfARateLimitedLinkShareItsRate() throws Exception {
        Path source = randomFile(root, "slow4.bin", 6L << 20, 16);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("slow4.bin");

        Fixtures.Run run = get("--json", "--iface", "127.0.0.1:rate=2Mi,flows=4", "-o", out.toString(), url("slow4.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(run.out());
        assertThat(summary.get("links").get(0).get("flows").asInt()).isEqualTo(4);
        // 6 MiB at 2 MiB/s over all four flows: 3 s of sending (four flows each at the limit: under 1 s)
        assertThat(summary.get("links").get(0).get("seconds").asDouble()).isGreaterThanOrEqualTo(2.5);
    }
}
