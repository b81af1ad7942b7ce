package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.biternet.common.cli.BuildInfo;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.metrics.MetricsEndpoint;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** What an operator sees of real downloads: the session log line (and metrics). */
@Timeout(60)
class OperationsTest {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;
    private BiternetServer server;
    private final ListAppender<ILoggingEvent> sessionLog = new ListAppender<>();

    @BeforeEach
    void captureSessionLog() {
        sessionLog.start();
        ((Logger) LoggerFactory.getLogger("biternet.sessions")).addAppender(sessionLog);
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
        ((Logger) LoggerFactory.getLogger("biternet.sessions")).detachAppender(sessionLog);
    }

    @Test
    void everySessionEndsWithOneLineSayingHowItWent() throws Exception {
        int size = 5 * PIECE + 99;
        byte[] data = TestFiles.write(root.resolve("f.bin"), 5, size);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60));
        try (WireClient c = new WireClient(server.address()); WireClient idle = new WireClient(server.address())) {
            c.hello();
            c.open("f.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            assertThat(c.fetchAll(opened, 3)).isEqualTo(data);
            idle.hello();
            idle.open("f.bin");
            idle.expect(Envelope.BodyCase.SESSION_OPENED);
            server.close();
            server = null;
        }
        List<String> lines = sessionLog.list.stream().map(ILoggingEvent::getFormattedMessage)
                .sorted(java.util.Comparator.comparing(l -> l.substring(l.indexOf(" result=")))).toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).matches("session=[0-9a-f]{8} result=complete path=\"f.bin\" client=127.0.0.1 bytes=" + size
                + " file_bytes=" + size + " pieces_done=6/6 links=1 seconds=\\d+\\.\\d{3}");
        assertThat(lines.get(1)).matches("session=[0-9a-f]{8} result=shutdown path=\"f.bin\" client=127.0.0.1 bytes=0"
                + " file_bytes=" + size + " pieces_done=0/6 links=0 seconds=\\d+\\.\\d{3}");
    }

    /** The value of the sample named exactly {@code series} (name and labels) in a Prometheus scrape. */
    private static double sample(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim().split(" ")[0]);
            }
        }
        throw new AssertionError("no sample " + series + " in:\n" + scrape);
    }

    private static String scrape(MetricsEndpoint endpoint) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + endpoint.port() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        return r.body();
    }

    @Test
    void metricsCountWhatADownloadDidAndWhatWasRefused() throws Exception {
        int size = 6 * PIECE;
        byte[] data = TestFiles.write(root.resolve("m.bin"), 6, size);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60));
        try (MetricsEndpoint endpoint = MetricsEndpoint.start("127.0.0.1", 0, server.metrics());
             WireClient c = new WireClient(server.address())) {
            String before = scrape(endpoint);
            assertThat(sample(before, "biternet_sent_bytes_total")).isZero();
            assertThat(sample(before, "biternet_build_info{commit=\"" + BuildInfo.commit() + "\",version=\""
                    + BuildInfo.version() + "\"}")).isEqualTo(1);
            assertThat(BuildInfo.commit()).matches("[0-9a-f]{12}|unknown");
            assertThat(sample(before, "process_uptime_seconds")).isPositive();
            assertThat(sample(before, "process_files_open_files")).isPositive();
            assertThat(before).contains("jvm_memory_used_bytes{area=\"heap\"", "jvm_threads_live_threads ",
                    "jvm_gc_", "process_cpu_usage ", "netty_allocator_memory_used{");
            assertThat(sample(before, "biternet_sessions_open")).isZero();

            c.hello();
            c.open("m.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            try (WireClient thief = new WireClient(server.address())) {
                thief.hello();
                thief.send(Envelope.newBuilder().setAttach(dev.biternet.proto.Attach.newBuilder()
                        .setSessionId(opened.getSessionId()).setWindow(1)).build());
                thief.expect(Envelope.BodyCase.ERROR);
            }
            assertThat(c.fetchAll(opened, 2)).isEqualTo(data);
            TestFiles.await("the refused connection is counted as closed", 10_000, () -> {
                try {
                    return sample(scrape(endpoint), "biternet_channels_open") == 1;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });

            String during = scrape(endpoint);
            assertThat(sample(during, "biternet_sessions_open")).isEqualTo(1);
            assertThat(sample(during, "biternet_sent_bytes_total")).isEqualTo(size);
            assertThat(sample(during, "biternet_pieces_claimed_total{kind=\"new\"}")).isEqualTo(6);
            assertThat(sample(during, "biternet_pieces_claimed_total{kind=\"reclaimed\"}")).isZero();
            assertThat(sample(during, "biternet_pieces_claimed_total{kind=\"copy\"}")).isZero();
            assertThat(sample(during, "biternet_pieces_done_total")).isEqualTo(6);
            assertThat(sample(during, "biternet_errors_total{code=\"UNAUTHORIZED\"}")).isEqualTo(1);
            assertThat(sample(during, "biternet_errors_total{code=\"BAD_FRAME\"}")).isZero();

            server.close();
            String after = server.metrics().scrape();
            server = null;
            assertThat(sample(after, "biternet_sessions_closed_total{result=\"complete\"}")).isEqualTo(1);
            assertThat(sample(after, "biternet_session_sent_bytes_sum")).isEqualTo(size);
            assertThat(sample(after, "biternet_session_sent_bytes_count")).isEqualTo(1);
        }
    }
}
