package dev.biternet.client;

import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkSecurity;
import dev.biternet.common.transport.Transport;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.Limits;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ResourceLeakDetector;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One server, many concurrent downloads of 3 links each over loopback (127.0.0.1, .2, .3), with
 * the real client ({@link Download}): every download must verify byte for byte and none may
 * fail. Files: mostly small ones of odd sizes, every 25th a large one; session {@code s} fetches
 * file {@code s % 100}, so files are shared by concurrent sessions in larger runs.
 *
 * <p>In CI: {@value #CI_SESSIONS} sessions against an in-process server, leak detection at
 * PARANOID. The larger run (see README, "Load test") points it at a separate biternet-serve
 * process with {@code -Dbiternet.load.server=HOST:PORT -Dbiternet.load.root=DIR
 * -Dbiternet.load.sessions=1000}, so the server's heap and RSS can be measured alone. Against a
 * cluster's nodes (bench/load-test.sh --cluster-nodes), {@code -Dbiternet.load.addresses=A,B,C}
 * makes the server's name resolve to the nodes' addresses, as DNS would: each download's three
 * links land on three nodes.
 *
 * <p>The downloads' links share {@code -Dbiternet.load.loops} event loops (default
 * {@value #LOOPS}; 4 were too few, starved among the driver's other threads), as a thousand
 * client machines would each have their own few: a loop group per download would be thousands
 * of threads contending for the driver machine's cores with the servers under test.
 */
@Timeout(600)
class LoadTest {
    static final int CI_SESSIONS = 100;
    private static final int SESSIONS = Integer.getInteger("biternet.load.sessions", CI_SESSIONS);
    private static final String EXTERNAL = System.getProperty("biternet.load.server");
    private static final long LARGE = Long.getLong("biternet.load.largeBytes", 16L << 20);
    private static final int FILES = 100;
    /** Spread the starts over this long (0: all at once). */
    private static final double RAMP_SECONDS = Double.parseDouble(System.getProperty("biternet.load.rampSeconds", "0"));
    /** Per-link rate limit, e.g. 64k (empty: none): slower sessions overlap longer. */
    private static final String RATE = System.getProperty("biternet.load.rate", "");
    /** The addresses the server's name resolves to (empty: the system's resolver). */
    private static final String ADDRESSES = System.getProperty("biternet.load.addresses", "");
    static final int LOOPS = 32;
    /** The event loops all downloads' links share. */
    private static final int SHARED_LOOPS = Integer.getInteger("biternet.load.loops", LOOPS);

    @TempDir
    Path tmp;
    private BiternetServer server;
    private EventLoopGroup loops;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        if (loops != null) {
            loops.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    private static java.net.InetAddress[] resolve(String addresses) throws java.net.UnknownHostException {
        String[] names = addresses.split(",");
        java.net.InetAddress[] all = new java.net.InetAddress[names.length];
        for (int i = 0; i < names.length; i++) {
            all[i] = java.net.InetAddress.getByName(names[i].trim());
        }
        return all;
    }

    static long size(int file) {
        return file % 25 == 0 ? LARGE + file : (file * 7919L % 512) * 1024 + file * 13L;
    }

    @Test
    void manyConcurrentSessionsOfThreeLinksAllVerify() throws Exception {
        Path root = EXTERNAL != null ? Path.of(System.getProperty("biternet.load.root")) : Files.createDirectory(tmp.resolve("root"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        int files = Math.min(FILES, SESSIONS);
        List<Path> sources = new ArrayList<>();
        for (int f = 0; f < files; f++) {
            sources.add(randomFile(root, "f" + f + ".bin", size(f), f));
        }
        String host;
        int port;
        if (EXTERNAL != null) {
            // Only the driver: the client JVM's leak tracking would slow the load it generates.
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
            // Each download's check that the files it opened are its own stats every descriptor
            // of the process: thousands here, a few dozen on a client machine.
            System.setProperty(dev.biternet.client.store.LocalFiles.SKIP_HELD_OPEN, "true");
            host = EXTERNAL.substring(0, EXTERNAL.lastIndexOf(':'));
            port = Integer.parseInt(EXTERNAL.substring(EXTERNAL.lastIndexOf(':') + 1));
        } else {
            // All sessions come from the same three loopback addresses: raise the per-address limits.
            server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0)
                    .withAccess(Access.DEFAULT.withLimits(new Limits(SESSIONS * 2, SESSIONS * 4, 30, 120))));
            host = "127.0.0.1";
            port = server.port();
        }

        loops = Transport.best().newGroup(SHARED_LOOPS);
        ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<String>> results = new ArrayList<>();
        long start = System.nanoTime();
        for (int s = 0; s < SESSIONS; s++) {
            int session = s;
            results.add(pool.submit(() -> {
                Path source = sources.get(session % files);
                Path target = out.resolve("s" + session + ".bin");
                StringWriter err = new StringWriter();
                go.await();
                Thread.sleep((long) (RAMP_SECONDS * 1000 * session / SESSIONS));
                List<String> links = List.of("127.0.0.1", "127.0.0.2", "127.0.0.3").stream()
                        .map(a -> RATE.isEmpty() ? a : a + ":rate=" + RATE).toList();
                try {
                    Download.Request request = new Download.Request(Target.parse("biternet://" + host + ":" + port + "/"
                            + source.getFileName()), target, links, 30_000, false);
                    if (!ADDRESSES.isEmpty()) {
                        request = new Download.Request(request.target(), target, links, 30_000, false,
                                Download.DEFAULT_RETRY_SECONDS, false, name -> resolve(ADDRESSES));
                    }
                    DownloadResult r = new Download(request, new PrintWriter(err, true), LinkSecurity.NONE, loops).run();
                    if (r.bytes() != Files.size(source) || Files.mismatch(source, target) != -1) {
                        return "session " + session + ": " + target + " differs from " + source;
                    }
                    return null;
                } catch (DownloadException e) {
                    return "session " + session + ": exit " + e.exitCode() + ": " + e.getMessage() + " " + err;
                } finally {
                    Files.deleteIfExists(target);
                }
            }));
        }
        go.countDown();
        List<String> failures = new ArrayList<>();
        for (Future<String> f : results) {
            String failure = f.get(590, TimeUnit.SECONDS);
            if (failure != null) {
                failures.add(failure);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        long bytes = 0;
        for (int s = 0; s < SESSIONS; s++) {
            bytes += Files.size(sources.get(s % files));
        }
        System.out.printf("load: %d sessions x 3 links, %d files, %.1f MB in %.1f s%n", SESSIONS, files, bytes / 1e6, seconds);
        assertThat(failures).as("failed downloads of %d", SESSIONS).isEmpty();
        if (server != null) {
            String metrics = server.metrics().scrape();
            assertThat(metrics).as("no Error frame sent during the load").doesNotContainPattern("biternet_errors_total\\{[^}]*\\} [1-9]");
        }
    }
}
