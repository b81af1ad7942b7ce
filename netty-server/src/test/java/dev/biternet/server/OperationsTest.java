package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
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
        List<String> lines = sessionLog.list.stream().map(ILoggingEvent::getFormattedMessage).sorted().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).matches("session=[0-9a-f]{8} result=complete path=\"f.bin\" client=127.0.0.1 bytes=" + size
                + " file_bytes=" + size + " pieces_done=6/6 links=1 seconds=\\d+\\.\\d{3}");
        assertThat(lines.get(1)).matches("session=[0-9a-f]{8} result=shutdown path=\"f.bin\" client=127.0.0.1 bytes=0"
                + " file_bytes=" + size + " pieces_done=0/6 links=0 seconds=\\d+\\.\\d{3}");
    }
}
