package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Attach;
import dev.biternet.proto.OpenSession;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.BiternetServerTest.Piece;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.Limits;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Bounds a hostile client must not get past, over real loopback sockets against a real server:
 * the server-wide session limit and memory budget, paths that try to forge log lines or flood
 * the answer, and windows beyond 2^31.
 */
@Timeout(30)
class BoundsTest {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;
    private BiternetServer server;
    private final List<WireClient> clients = new ArrayList<>();
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @AfterEach
    void tearDown() throws IOException {
        for (WireClient c : clients) {
            c.close();
        }
        ((Logger) LoggerFactory.getLogger("biternet.server")).detachAppender(log);
        if (server != null) {
            server.close();
        }
    }

    private void start(Limits limits) throws Exception {
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(limits)));
    }

    private WireClient client(int lastOctet) throws IOException {
        WireClient c = new WireClient(server.address(), InetAddress.getByName("127.0.0." + lastOctet));
        clients.add(c);
        c.hello();
        return c;
    }

    private static void attach(WireClient c, SessionOpened opened, int window) throws IOException {
        c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(opened.getSessionId())
                .setSecret(opened.getAttachSecret()).setWindow(window).setLinkName("bounds")).build());
        c.expect(Envelope.BodyCase.ATTACHED);
    }

    /** Opens {@code path}: the session, or null if refused with LIMIT_EXCEEDED (whose message {@code busy} checks). */
    private static SessionOpened openOrBusy(WireClient c, String path, Consumer<String> busy) throws IOException {
        c.open(path);
        Envelope answer = (Envelope) c.read();
        if (answer.hasSessionOpened()) {
            return answer.getSessionOpened();
        }
        assertThat(answer.getError().getCode()).isEqualTo(Error.Code.LIMIT_EXCEEDED);
        busy.accept(answer.getError().getMessage());
        return null;
    }

    /** The next piece frame; control frames before it (the root hash) are skipped. */
    private static void nextPiece(WireClient c) throws IOException {
        Object frame;
        while (!((frame = c.read()) instanceof Piece)) {
            assertThat(((Envelope) frame).getBodyCase()).isEqualTo(Envelope.BodyCase.PIECE_HASHES);
        }
    }

    /** A meter's value from the server's Prometheus text, as an operator scrapes it. */
    static double meter(BiternetServer server, String line) {
        for (String l : server.metrics().scrape().split("\n")) {
            if (l.startsWith(line + " ")) {
                return Double.parseDouble(l.substring(line.length() + 1));
            }
        }
        return 0;
    }

    private static long openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void sessionsBeyondTheServersLimitAreRefusedAndANormalClientStillDownloads() throws Exception {
        byte[] data = TestFiles.write(root.resolve("f.bin"), 1, 5 * PIECE + 3);
        int limit = 24;
        start(new Limits(64, 256, 5, 120).withServerWide(limit, Limits.defaultSessionMemory(), 10_000));
        long fdsBefore = openDescriptors();
        int opened = 0;
        int refused = 0;
        for (int address = 10; address < 22; address++) {
            WireClient c = client(address);
            for (int i = 0; i < 3; i++) {
                if (openOrBusy(c, "f.bin", m -> assertThat(m).isEqualTo(
                        "server busy: 24 sessions open, its limit (--max-sessions); try again later")) != null) {
                    opened++;
                } else {
                    refused++;
                }
            }
        }
        assertThat(opened).as("sessions opened from 12 addresses, 3 each").isEqualTo(limit);
        assertThat(refused).isEqualTo(12);
        assertThat(meter(server, "biternet_sessions_open")).isEqualTo(limit);
        assertThat(meter(server, "biternet_refused_total{limit=\"sessions\"}")).isEqualTo(12);
        assertThat(openDescriptors() - fdsBefore).as("descriptors: 12 connections and 24 sessions")
                .isLessThanOrEqualTo(12 + limit + 16);

        // Sessions nobody attached to give way to a client that downloads (it asks again while busy).
        WireClient normal = client(1);
        SessionOpened session = null;
        for (long deadline = System.nanoTime() + 15_000_000_000L; session == null && System.nanoTime() < deadline; ) {
            session = openOrBusy(normal, "f.bin", m -> { });
            if (session == null) {
                Thread.sleep(200);
            }
        }
        assertThat(session).as("a session for the normal client within 15 s").isNotNull();
        assertThat(normal.fetchAll(session, 8)).isEqualTo(data);
        assertThat(meter(server, "biternet_sessions_open")).isLessThanOrEqualTo(limit);
    }

    @Test
    void piecesStateOfOpenSessionsStaysWithinTheMemoryBudget() throws Exception {
        try (RandomAccessFile sparse = new RandomAccessFile(root.resolve("big.bin").toFile(), "rw")) {
            sparse.setLength(64L << 20); // 4,096 pieces of 16 KiB: 139,264 bytes of state a session
        }
        start(new Limits(64, 256, 5, 120).withServerWide(1000, 1 << 20, 10_000));
        WireClient c = client(2);
        int opened = 0;
        for (int i = 0; i < 10; i++) {
            if (openOrBusy(c, "big.bin", m -> assertThat(m).startsWith("server busy: its sessions hold")
                    .contains("its limit is 1.00 MiB (--session-memory)")) != null) {
                opened++;
            }
        }
        assertThat(opened).as("sessions of 136 KiB in a 1 MiB budget").isEqualTo(7);
        assertThat(meter(server, "biternet_session_memory_bytes")).isLessThanOrEqualTo(1 << 20);
        assertThat(meter(server, "biternet_refused_total{limit=\"session_memory\"}")).isEqualTo(3);
    }

    @Test
    void connectionsBeyondTheServersLimitAreRefusedUntilOneCloses() throws Exception {
        start(new Limits(64, 256, 5, 120).withServerWide(100, Limits.defaultSessionMemory(), 3));
        for (int address = 30; address < 33; address++) {
            client(address);
        }
        WireClient extra = new WireClient(server.address(), InetAddress.getByName("127.0.0.33"));
        clients.add(extra);
        Error error = extra.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(error.getCode()).isEqualTo(Error.Code.LIMIT_EXCEEDED);
        assertThat(error.getMessage()).isEqualTo("server busy: 3 connections open, its limit (--max-connections); try again later");
        assertThat(extra.closedByServer()).isTrue();
        clients.remove(0).close();
        TestFiles.await("the closed connection to be counted out", 5_000,
                () -> meter(server, "biternet_channels_open") < 3);
        client(34);
        assertThat(meter(server, "biternet_refused_total{limit=\"connections\"}")).isEqualTo(1);
    }

    private List<String> serverLog() {
        return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    private void captureLog() {
        log.start();
        ((Logger) LoggerFactory.getLogger("biternet.server")).addAppender(log);
    }

    @Test
    void aPathWithLineBreaksIsOneEscapedLineAndTheAnswerNeverShowsTheRoot() throws Exception {
        start(Limits.DEFAULT);
        captureLog();
        // A component longer than NAME_MAX: the file system's error names the whole absolute path.
        String forged = "x\n2026-01-01T00:00:00.000Z INFO  biternet.sessions session=1 result=complete path=\"f\"\r\n"
                + "y".repeat(300) + "/f.bin";
        WireClient c = client(3);
        c.open(forged);
        Error error = c.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(error.getMessage()).doesNotContain("\n").doesNotContain("\r")
                .doesNotContain(root.toRealPath().toString()).contains("x\\n2026").contains("\\\"f\\\"");
        assertThat(error.getMessage().length()).isLessThan(1100);
        List<String> lines = serverLog().stream().filter(l -> l.contains("refused open")).toList();
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).doesNotContain("\n").doesNotContain("\r").doesNotContain(root.toRealPath().toString())
                .contains("x\\n2026");
    }

    @Test
    void aMegabytePathGetsAShortAnswerAndAShortLogLine() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 4, PIECE);
        start(Limits.DEFAULT);
        captureLog();
        WireClient c = client(4);
        c.open("d/" + "p".repeat(1_000_000));
        Error error = c.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(error.getCode()).isEqualTo(Error.Code.FORBIDDEN_PATH);
        assertThat(error.getMessage()).startsWith("refused path 'd/ppp").endsWith("…(1000002 bytes)': longer than 4096 bytes");
        assertThat(error.getMessage().length()).isLessThan(300);
        assertThat(serverLog()).allSatisfy(l -> assertThat(l.length()).isLessThan(1500));
        c.open("f.bin");
        assertThat(c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getFileSize()).as("still served").isEqualTo(PIECE);
    }

    @Test
    void aPathFillingTheLargestFrameGetsAnAnswer() throws Exception {
        start(Limits.DEFAULT);
        int length = Frames.MAX_FRAME_LENGTH;
        while (Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("q".repeat(length))).build()
                .getSerializedSize() + 1 > Frames.MAX_FRAME_LENGTH) {
            length--;
        }
        WireClient c = client(5);
        c.open("q".repeat(length));
        Error error = c.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(error.getCode()).isEqualTo(Error.Code.FORBIDDEN_PATH);
        assertThat(error.getMessage()).endsWith("…(" + length + " bytes)': longer than 4096 bytes");
    }

    @Test
    void windowsOf2To31AndMoreAreLargeNotOne() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 5, 8 * PIECE);
        start(Limits.DEFAULT);
        WireClient attacher = client(6);
        attacher.open("f.bin");
        SessionOpened first = attacher.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
        attach(attacher, first, Integer.MIN_VALUE); // 2^31 on the wire
        for (int i = 0; i < 8; i++) {
            nextPiece(attacher); // times out if the window were 1
        }

        WireClient crediter = client(6);
        crediter.open("f.bin");
        SessionOpened second = crediter.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
        attach(crediter, second, 1);
        nextPiece(crediter);
        crediter.send(Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(-1)).build()); // 2^32 - 1
        for (int i = 1; i < 8; i++) {
            nextPiece(crediter);
        }
    }
}
