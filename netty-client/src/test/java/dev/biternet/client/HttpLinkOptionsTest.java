package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.http.Nginx;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --iface NAME:cap=SIZE} and {@code :rate=SIZE} with HTTP mirrors, against real nginx
 * processes over loopback links: the client holds each link to them itself.
 */
class HttpLinkOptionsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private Nginx nginx;
    private Nginx other;

    @AfterEach
    void stop() throws Exception {
        if (nginx != null) {
            nginx.close();
        }
        if (other != null) {
            other.close();
        }
    }

    private Path served(long size, long seed) throws Exception {
        return randomFile(Files.createDirectories(dir.resolve("root")), "f.bin", size, seed);
    }

    /** The bytes each link carried, summed over its channels to every mirror. */
    private static long carried(JsonNode result, String iface) {
        long sum = 0;
        for (JsonNode l : result.get("links")) {
            if (l.get("iface").asText().equals(iface)) {
                sum += l.get("bytes").asLong();
            }
        }
        return sum;
    }

    @Test
    void aCappedLinkCarriesNoMoreThanItsCapOverAllMirrorsAndTheOtherTheRest() throws Exception {
        Path source = served(16L << 20, 21);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx-a"), "");
        other = Nginx.start(dir.resolve("root"), dir.resolve("nginx-b"), "");
        Path out = dir.resolve("out.bin");
        long cap = 3L << 20;
        Fixtures.Run run = get("--json", "-q", "--iface", "127.0.0.1:cap=3Mi", "--iface", "127.0.0.2", "--mirror",
                other.url("f.bin"), "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode r = JSON.readTree(run.out());
        long a = carried(r, "127.0.0.1");
        assertThat(a).isLessThanOrEqualTo(cap);
        assertThat(carried(r, "127.0.0.2")).isGreaterThanOrEqualTo(Files.size(source) - a);
        for (JsonNode l : r.get("links")) {
            if (l.get("iface").asText().equals("127.0.0.1")) {
                assertThat(l.get("cap_bytes").asLong()).isEqualTo(cap);
            }
        }
    }

    @Test
    void aRateLimitedLinkAveragesNoMoreThanItsRate() throws Exception {
        Path source = served(3L << 20, 22);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        long rate = 1_000_000;
        Fixtures.Run run = get("--json", "-q", "--iface", "127.0.0.1:rate=1M", "-o", out.toString(), nginx.url("f.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, out);
        JsonNode link = JSON.readTree(run.out()).get("links").get(0);
        assertThat(link.get("rate_limit").asLong()).isEqualTo(rate);
        // The rate the user set, not above it: a slow machine makes the average lower, not higher. The
        // pacer counts headers too, so the bodies stay a little under; reads of up to 1 MiB left the
        // last ones unpaid and the average at 1.01-1.08 of the rate.
        assertThat(link.get("bytes").asLong() / link.get("seconds").asDouble()).isLessThanOrEqualTo(rate);
    }

    @Test
    void whenEveryLinkIsCappedBelowTheFileTheDownloadStopsWithTheSameErrorAsABiternetOne() throws Exception {
        served(8L << 20, 23);
        nginx = Nginx.start(dir.resolve("root"), dir.resolve("nginx"), "");
        Path out = dir.resolve("out.bin");
        Fixtures.Run run = get("-q", "--iface", "127.0.0.1:cap=1Mi", "--iface", "127.0.0.2:cap=1Mi", "-o", out.toString(),
                nginx.url("f.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(run.err().strip()).startsWith("biternet-get: every link reached its data cap (or was lost) before the"
                + " download finished (").endsWith("; raise a cap or add a link, then rerun").doesNotContain("\n");
        assertThat(out).doesNotExist();
        assertThat(Path.of(out + ".part")).exists();
    }
}
