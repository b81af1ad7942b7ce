package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One file from several biternet servers (protocol 2), over real loopback sockets with real
 * servers in this JVM, each serving its own copy of the file: both deliver, bytes equal, few
 * duplicates; a server of another file, a protocol-1 server and a server killed mid-download
 * each cost only their share.
 */
class SeveralServersTest extends TwoServersBase {
    private static final ObjectMapper JSON = new ObjectMapper();

    static String url(int port, String path) {
        return "biternet://127.0.0.1:" + port + "/" + path;
    }

    /** Two servers, each with its own copy of the same bytes. */
    private Path twoServers(long size) throws Exception {
        return sameFileOnBoth(size, 19, 0);
    }

    /** Bytes each server's channels delivered, and the duplicates over all of them, from --json. */
    static Map<String, Long> perSource(JsonNode summary) {
        Map<String, Long> bytes = new HashMap<>();
        for (JsonNode l : summary.get("links")) {
            bytes.merge(l.get("source").asText(), l.get("bytes").asLong(), Long::sum);
        }
        return bytes;
    }

    @Test
    void twoServersOneFileBothDeliverBytesEqualFewDuplicates() throws Exception {
        long size = 32L << 20;
        Path source = twoServers(size);
        Path out = downloads.resolve("f.bin");

        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:rate=16M", "--iface", "127.0.0.2:rate=16M", "-o",
                out.toString(), url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        Map<String, Long> bySource = perSource(summary);
        System.out.println("two servers: bytes by source " + bySource + ", duplicate bytes "
                + summary.get("duplicate_bytes").asLong());
        assertThat(bySource).as("a channel per (link, server)").hasSize(2);
        assertThat(bySource.values()).as("both servers delivered").allSatisfy(v -> assertThat(v).isGreaterThan(size / 10));
        // The bound: 1 % of the file, plus the tail rule's copies: at most one piece per
        // (link, server) channel in flight when no piece was left to assign (64 KiB pieces, 4 channels).
        long pieceSize = summary.get("piece_size").asLong();
        assertThat(summary.get("duplicate_bytes").asLong()).as("duplicate bytes across the servers")
                .isLessThanOrEqualTo(size / 100 + 4 * pieceSize);
    }

    @Test
    void aServerOfAnotherFileIsRefusedInOneLineAndTheFirstFinishes() throws Exception {
        long size = 8L << 20;
        Path source = randomFile(rootA, "f.bin", size, 23);
        randomFile(rootB, "f.bin", size + 4096, 24);
        startBoth();
        Path out = downloads.resolve("f.bin");

        // A answers first: B's link waits a moment behind a slow connect (its rate alone does not delay the open).
        Fixtures.Run r = get("--iface", "127.0.0.1", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        String refusal = r.err().lines().filter(l -> l.contains("another file")).reduce((x, y) -> x + "\n" + y).orElse("");
        System.out.println("refusal: " + refusal);
        assertThat(refusal).as(r.err()).doesNotContain("\n")
                .contains("127.0.0.1:" + b.port())
                .contains("serves another file at f.bin")
                .contains(String.valueOf(size + 4096));
    }

    /** Two servers of files of the same size and other bytes; with {@code warm}, each has hashed its file before. */
    private void sameSizeOtherBytes(boolean warm) throws Exception {
        long size = 8L << 20;
        Path source = randomFile(rootA, "f.bin", size, 31);
        randomFile(rootB, "f.bin", size, 32);
        startBoth();
        if (warm) {
            // A session each before: the roots are known when the download opens (SessionOpened carries them).
            assertThat(get("-o", downloads.resolve("warm-a").toString(), url(a.port(), "f.bin")).exitCode()).isZero();
            assertThat(get("-o", downloads.resolve("warm-b").toString(), url(b.port(), "f.bin")).exitCode()).isZero();
        }
        Path out = downloads.resolve("f.bin");

        Fixtures.Run r = get("--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(), url(a.port(), "f.bin"),
                "--mirror", url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(r.err().lines().filter(l -> l.contains("another file"))).as(r.err()).singleElement()
                .satisfies(l -> assertThat(l).contains("127.0.0.1:" + b.port()).contains("root hash"));
    }

    @Test
    void aServerWhoseRootDiffersAtOpenIsRefusedInOneLine() throws Exception {
        sameSizeOtherBytes(true);
    }

    @Test
    void aServerWhoseRootDiffersOnceHashedIsRefusedInOneLineBeforeItSendsAPiece() throws Exception {
        sameSizeOtherBytes(false);
    }

    @Test
    void aServerKilledMidDownloadCostsOnlyItsShare() throws Exception {
        long size = 32L << 20;
        Path source = twoServers(size);
        Path out = downloads.resolve("f.bin");

        CompletableFuture<Fixtures.Run> run = Fixtures.getUntilLogged(out, 64, "--json", "--retry-time", "60",
                "--iface", "127.0.0.1:rate=8M", "--iface", "127.0.0.2:rate=8M", "-o", out.toString(),
                url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin"));
        killB();
        Fixtures.Run r = run.get(120, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        Map<String, Long> bySource = perSource(JSON.readTree(r.out()));
        assertThat(bySource.get("127.0.0.1:" + a.port())).as("the server left finished the file")
                .isGreaterThan(size / 2);
    }

    @Test
    void aDownloadCutShortResumesWithTheServersTheOtherWayRound() throws Exception {
        long size = 32L << 20;
        Path source = twoServers(size);
        Path out = downloads.resolve("f.bin");
        CompletableFuture<Fixtures.Run> run = Fixtures.getUntilLogged(out, 64, "--retry-time", "1",
                "--iface", "127.0.0.1:rate=8M", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                url(b.port(), "f.bin"));
        a.close();
        b.close();
        Fixtures.Run cut = run.get(60, TimeUnit.SECONDS);
        assertThat(cut.exitCode()).as(cut.err()).isEqualTo(ExitCodes.NETWORK);

        // New processes (nothing hashed yet), and B first: its copy has another file version than A's.
        startBoth();
        Fixtures.Run r = get("--json", "--iface", "127.0.0.1", "-o", out.toString(), url(b.port(), "f.bin"), "--mirror",
                url(a.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        assertThat(r.err()).contains("resuming");
        JsonNode summary = JSON.readTree(r.out());
        assertThat(summary.get("resumed_pieces").asInt()).isGreaterThanOrEqualTo(64);
        assertThat(summary.get("received_bytes").asLong()).as("the resumed pieces were not fetched again")
                .isLessThanOrEqualTo(size - 64L * summary.get("piece_size").asLong() + size / 100);
    }

    @Test
    void aLinksCapCountsWhatEveryServerSentOverIt() throws Exception {
        long size = 16L << 20;
        Path source = twoServers(size);
        Path out = downloads.resolve("f.bin");

        Fixtures.Run r = get("--json", "--iface", "127.0.0.1:cap=4M", "--iface", "127.0.0.2", "-o", out.toString(),
                url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        long capped = 0;
        for (JsonNode l : JSON.readTree(r.out()).get("links")) {
            if (l.get("iface").asText().equals("127.0.0.1")) {
                capped += l.get("bytes").asLong();
            }
        }
        assertThat(capped).as("bytes over the capped link from both servers").isPositive().isLessThanOrEqualTo(4L << 20);
    }

    @Test
    @org.junit.jupiter.api.Timeout(60)
    void capsTooSmallForTheFileEndInOneLineNotAStall() throws Exception {
        long size = 16L << 20;
        twoServers(size);
        Path out = downloads.resolve("f.bin");

        Fixtures.Run r = get("--iface", "127.0.0.1:cap=4M", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                url(b.port(), "f.bin"));

        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
        assertThat(r.err()).contains("every link reached its data cap");
        assertThat(out).doesNotExist();
    }

    @Test
    void aProtocolOneServerAmongSeveralIsRefusedInOneLine() throws Exception {
        long size = 4L << 20;
        Path source = randomFile(rootA, "f.bin", size, 29);
        a = serve(rootA, 0);
        try (ProtocolOneServer old = new ProtocolOneServer()) {
            Path out = downloads.resolve("f.bin");
            Fixtures.Run r = get("--iface", "127.0.0.1", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                    url(old.port(), "f.bin"));

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
            assertThat(r.err()).contains("server 127.0.0.1:" + old.port() + " speaks protocol 1; several sources need 2");
            assertThat(r.err().lines().filter(l -> l.contains("speaks protocol"))).hasSize(1);
        }
    }

    /**
     * What a version-1 server answers a version-2 Hello (its ControlHandler before protocol 2):
     * UNSUPPORTED_VERSION, then the connection closes.
     */
    private static final class ProtocolOneServer implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        private final Thread thread = new Thread(this::serve, "protocol-1-server");

        ProtocolOneServer() throws Exception {
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        private void serve() {
            while (!socket.isClosed()) {
                try (Socket c = socket.accept()) {
                    DataInputStream in = new DataInputStream(c.getInputStream());
                    int length = in.readInt();
                    in.readFully(new byte[length]);
                    byte[] frame = dev.biternet.common.wire.Frames.error(dev.biternet.proto.Error.Code.UNSUPPORTED_VERSION,
                            "client speaks protocol 2, this server speaks 1").toByteArray();
                    DataOutputStream o = new DataOutputStream(c.getOutputStream());
                    o.writeInt(frame.length + 1);
                    o.writeByte(dev.biternet.common.wire.Frames.TYPE_CONTROL);
                    o.write(frame);
                    o.flush();
                } catch (java.io.IOException e) {
                    // closed, or the client went away
                }
            }
        }

        @Override
        public void close() throws java.io.IOException {
            socket.close();
        }
    }
}
