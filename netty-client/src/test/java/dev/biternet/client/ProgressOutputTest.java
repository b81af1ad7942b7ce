package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.server.BiternetServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Progress when stderr is not a terminal (as under surefire): plain lines on stderr every few
 * seconds, stdout's JSON untouched; {@code --quiet} shows none. The links are rate-limited to
 * about 3 MB/s together so a 20 MB download lasts several progress periods.
 */
class ProgressOutputTest {
    private static final long SIZE = 20_000_000;

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private BiternetServer server;
    private Path source;

    @BeforeEach
    void start() throws Exception {
        source = randomFile(root, "slow.bin", SIZE, 11);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Fixtures.Run slowDownload(String... extra) {
        Path out = downloads.resolve("slow.bin");
        String[] base = {"--iface", "127.0.0.1:rate=1500k", "--iface", "127.0.0.2:rate=1500k", "-o", out.toString(),
            "biternet://127.0.0.1:" + server.port() + "/slow.bin"};
        String[] args = new String[extra.length + base.length];
        System.arraycopy(extra, 0, args, 0, extra.length);
        System.arraycopy(base, 0, args, extra.length, base.length);
        return get(args);
    }

    /** A size as the progress shows it in SI units (the --iface options are typed so): 3 significant digits. */
    private static final String SIZE_SHOWN = "(\\d+ B|\\d\\.\\d\\d [kMG]B|\\d\\d\\.\\d [kMG]B|\\d\\d\\d [kMG]B)";
    private static final String RATE = SIZE_SHOWN.replace("B", "B/s");

    @Test
    void plainProgressLinesOnStderrAndCleanJsonOnStdout() throws Exception {
        Fixtures.Run run = slowDownload("--json");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, downloads.resolve("slow.bin"));
        assertThat(new ObjectMapper().readTree(run.out()).get("bytes").asLong()).isEqualTo(SIZE);
        assertThat(run.out().lines()).hasSize(1);
        assertThat(run.err().lines()).isNotEmpty().allSatisfy(l -> assertThat(l).matches(
                "biternet-get: total +\\d+\\.\\d% +" + RATE + " +ETA [-\\d]+:[-\\d]+ +" + SIZE_SHOWN + " of 20\\.0 MB verified;"
                        + " 127\\.0\\.0\\.1 up " + RATE + ", 127\\.0\\.0\\.2 up " + RATE));
    }

    @Test
    void quietShowsNoProgress() throws Exception {
        Fixtures.Run run = slowDownload("--quiet");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(source, downloads.resolve("slow.bin"));
        assertThat(run.err()).isEmpty();
        assertThat(run.out()).startsWith(downloads.resolve("slow.bin") + ": " + SIZE + " bytes (20.0 MB) in ");
    }
}
