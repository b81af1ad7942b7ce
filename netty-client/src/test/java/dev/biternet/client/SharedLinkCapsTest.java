package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static dev.biternet.client.SeveralServersTest.url;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A link's {@code cap=} and {@code rate=} counted across several servers ({@link LinkShares}),
 * over real loopback sockets with real servers in this JVM: a server refused at open or killed
 * early leaves its part of a capped link to the one left, which carries more than half of the
 * cap there while the link never carries more than the cap, nor faster than its rate; when the
 * cap truly runs out, the download still ends in one line.
 */
@Timeout(120)
class SharedLinkCapsTest extends TwoServersBase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PIECE = 64 << 10;
    private static final long MIB = 1 << 20;

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
        startBoth(PIECE);
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
        Path source = sameFileOnBoth(32 * MIB, 43, PIECE);
        Path out = downloads.resolve("f.bin");

        CompletableFuture<Fixtures.Run> run = Fixtures.getUntilLogged(out, 16, "--json", "--retry-time", "60",
                "--iface", "127.0.0.1:cap=24Mi,rate=8Mi", "--iface", "127.0.0.2:rate=2Mi", "-o", out.toString(),
                url(a.port(), "f.bin"), "--mirror", url(b.port(), "f.bin"));
        killB();
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
        sameFileOnBoth(16 * MIB, 44, PIECE);
        Path out = downloads.resolve("f.bin");

        CompletableFuture<Fixtures.Run> run = Fixtures.getUntilLogged(out, 8, "--json", "--retry-time", "60",
                "--iface", "127.0.0.1:cap=4Mi,rate=4Mi", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                url(b.port(), "f.bin"));
        killB();
        Fixtures.Run r = run.get(100, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
        assertThat(r.err()).contains("every link reached its data cap");
        assertThat(out).doesNotExist();
        int kept = dev.biternet.client.store.ResumeLog.read(out).map(c -> c.pieces().size()).orElse(0);
        assertThat((long) kept * PIECE).as("pieces kept for a rerun: the link's whole cap was used, not the dead one's part")
                .isGreaterThan(3 * MIB).isLessThanOrEqualTo(4 * MIB);
    }

    /**
     * A loopback proxy to a mirror that holds every connection's bytes until {@code millis} after
     * it started, then passes them both ways (a mirror slow to give its first answer); once it
     * {@link #dies}, it closes every connection, and accepts the next ones but never answers (a
     * mirror that died behind a load balancer, or a path that black-holes).
     */
    private static final class LateProxy implements AutoCloseable {
        private final java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        private final java.util.List<java.net.Socket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile boolean dead;

        LateProxy(int upstreamPort, long millis) throws java.io.IOException {
            long open = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            Thread t = new Thread(() -> {
                try {
                    while (true) {
                        java.net.Socket client = listener.accept();
                        sockets.add(client);
                        if (dead) {
                            continue; // held open, never read, never answered
                        }
                        java.net.Socket upstream = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), upstreamPort);
                        sockets.add(upstream);
                        pipe(client, upstream, open);
                        pipe(upstream, client, open);
                    }
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            }, "late-proxy");
            t.setDaemon(true);
            t.start();
        }

        private static void pipe(java.net.Socket from, java.net.Socket to, long open) {
            Thread t = new Thread(() -> {
                try {
                    Thread.sleep(Math.max(0, TimeUnit.NANOSECONDS.toMillis(open - System.nanoTime())));
                    from.getInputStream().transferTo(to.getOutputStream());
                } catch (java.io.IOException | InterruptedException e) {
                    // a side closed
                }
                try {
                    to.shutdownOutput();
                } catch (java.io.IOException e) {
                    // closed already
                }
            }, "late-proxy-pipe");
            t.setDaemon(true);
            t.start();
        }

        String url(String path) {
            return "http://127.0.0.1:" + listener.getLocalPort() + "/" + path;
        }

        /** The mirror dies: every connection so far is closed, later ones are never answered. */
        void dies() throws java.io.IOException {
            dead = true;
            for (java.net.Socket s : sockets) {
                s.close();
            }
        }

        @Override
        public void close() throws java.io.IOException {
            listener.close();
            for (java.net.Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void aServerWhoseLinkIsCappedStillGivesTheHashesOfAMirrorsPieces() throws Exception {
        dev.biternet.client.http.Nginx.require();
        long size = 16 * MIB;
        randomFile(rootA, "f.bin", size, 45);
        a = serve(rootA, PIECE);
        Path out = downloads.resolve("f.bin");
        try (dev.biternet.client.http.Nginx nginx = dev.biternet.client.http.Nginx.start(rootA, downloads.resolve("nginx"), "");
             LateProxy late = new LateProxy(nginx.port(), 1500)) {
            // The server's half of the cap is used before the mirror answers, so the digests of the
            // mirror's pieces must be asked for over a capped link.
            Fixtures.Run r = get("--iface", "127.0.0.1:cap=4Mi", "-o", out.toString(), url(a.port(), "f.bin"), "--mirror",
                    late.url("f.bin"));

            assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
            assertThat(r.err()).contains("every link reached its data cap");
            int kept = dev.biternet.client.store.ResumeLog.read(out).map(c -> c.pieces().size()).orElse(0);
            assertThat((long) kept * PIECE).as("pieces verified: the mirror's half of the cap too")
                    .isGreaterThan(3 * MIB).isLessThanOrEqualTo(4 * MIB);
        }
    }

    @Test
    void aServerKilledEarlyLeavesItsPartOfACappedLinkToTheMirror() throws Exception {
        Path source = servedForAMirror(46);
        // Hashed before: every digest is asked for at once, and the mirror's pieces are judged after the server is gone.
        assertThat(get("-o", downloads.resolve("warm").toString(), url(a.port(), "f.bin")).exitCode()).isZero();
        Path out = downloads.resolve("f.bin");
        try (dev.biternet.client.http.Nginx nginx = dev.biternet.client.http.Nginx.start(rootA, downloads.resolve("nginx"), "")) {
            String mirror = "127.0.0.1:" + nginx.port();
            JsonNode summary = cappedWhileOneDies(source, out, nginx.url("f.bin"), this::killA);
            assertThat(over(summary, "127.0.0.1", mirror))
                    .as("the mirror carried more than its even part of the capped link once the server was gone")
                    .isGreaterThan(8 * MIB);
        }
    }

    @Test
    void aMirrorThatDiesLeavesItsPartOfACappedLinkToTheServerThoughItsChannelsKeepTrying() throws Exception {
        Path source = servedForAMirror(47);
        Path out = downloads.resolve("f.bin");
        try (dev.biternet.client.http.Nginx nginx = dev.biternet.client.http.Nginx.start(rootA, downloads.resolve("nginx"), "");
             LateProxy mirror = new LateProxy(nginx.port(), 0)) {
            // Its channels reconnect, and each connection then waits for an answer that never comes:
            // trying is not being up, or its part of the capped link would stay reserved for it.
            JsonNode summary = cappedWhileOneDies(source, out, mirror.url("f.bin"), mirror::dies);
            assertThat(over(summary, "127.0.0.1", "127.0.0.1:" + a.port()))
                    .as("the server carried more than its even part of the capped link once the mirror was gone")
                    .isGreaterThan(9 * MIB);
        }
    }

    /** A random 32 MiB file in rootA, served by server {@code a} in 256 KiB pieces; nginx is needed beside it. */
    private Path servedForAMirror(long seed) throws Exception {
        dev.biternet.client.http.Nginx.require();
        Path source = randomFile(rootA, "f.bin", 32 * MIB, seed);
        a = serve(rootA, PIECE * 4);
        return source;
    }

    /** What ends a source mid-download. */
    private interface Death {
        void now() throws Exception;
    }

    /**
     * The server's file at {@code source} to {@code out} from the server and {@code mirror} over
     * a capped link and a slow one, {@code death} ending a source once 4 MiB are in: its
     * {@code --json} summary, after the bytes and the capped link's bound were checked.
     */
    private JsonNode cappedWhileOneDies(Path source, Path out, String mirror, Death death) throws Exception {
        CompletableFuture<Fixtures.Run> run = Fixtures.getUntilLogged(out, 16, "--json", "--retry-time", "60",
                "--iface", "127.0.0.1:cap=16Mi,rate=8Mi", "--iface", "127.0.0.2:rate=2Mi", "-o", out.toString(),
                url(a.port(), "f.bin"), "--mirror", mirror);
        death.now();
        Fixtures.Run r = run.get(100, TimeUnit.SECONDS);

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(r.out());
        assertThat(over(summary, "127.0.0.1", null)).as("bytes over the capped link").isLessThanOrEqualTo(16 * MIB);
        return summary;
    }
}
