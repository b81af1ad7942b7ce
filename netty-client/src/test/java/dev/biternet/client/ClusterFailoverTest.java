package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.testing.RedisServer;
import dev.biternet.server.ServeCommand;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A biternet-serve node of a cluster SIGKILLed mid-download (three node processes, one real
 * redis-server): the download completes from the others, bytes equal; what was sent beyond the
 * file stays within the dead node's in-flight pieces plus 1 %; the link that was on the dead node
 * reconnects to another node (whether it still gets pieces there depends on how much is left).
 */
class ClusterFailoverTest {
    private static final Pattern PORT = Pattern.compile(" port (\\d+) ");
    private static final Pattern NODE = Pattern.compile("cluster: node ([0-9a-f]+),");
    private static final int PIECE = 256 << 10;
    private static final long SIZE = 32L << 20;

    @TempDir
    Path root;
    @TempDir
    Path work;
    private RedisServer redis;
    private final List<Process> nodes = new ArrayList<>();
    private NodeProxy proxy;

    @AfterEach
    void stop() throws Exception {
        try {
            if (proxy != null) {
                proxy.close();
            }
            for (Process p : nodes) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            if (redis != null) {
                redis.close();
            }
        }
    }

    private InetSocketAddress startNode(int i) throws Exception {
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), ServeCommand.class.getName(),
                "--root", root.toString(), "--host", "127.0.0.1", "--port", "0", "--piece-size", Integer.toString(PIECE),
                "--hash-cache", "none", "--cluster", redis.uri());
        Process p = new ProcessBuilder(command).redirectError(work.resolve("node" + i + ".log").toFile()).start();
        nodes.add(p);
        BufferedReader stdout = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String first;
        do {
            first = stdout.readLine(); // on the test class path Logback first reports its several configurations
        } while (first != null && !first.startsWith("biternet-serve: serving"));
        assertThat(first).as("node %d: %s", i, log(i)).isNotNull();
        Matcher m = PORT.matcher(first);
        assertThat(m.find()).as(first).isTrue();
        return new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
    }

    private String log(int i) throws Exception {
        Path p = work.resolve("node" + i + ".log");
        return Files.exists(p) ? Files.readString(p) : "";
    }

    @Test
    void aNodeKilledMidDownloadLeavesTheDownloadToTheOthers() throws Exception {
        redis = new RedisServer();
        Path source = Fixtures.randomFile(root, "big.bin", SIZE, 30);
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            addresses.add(startNode(i));
        }
        proxy = new NodeProxy(addresses);
        Path out = work.resolve("big.bin");
        String url = "biternet://127.0.0.1:" + proxy.port() + "/big.bin";

        // Each link paced to 3 MB/s: the download takes seconds, long enough to kill a node in it.
        CompletableFuture<Fixtures.Run> download = CompletableFuture.supplyAsync(() -> Fixtures.get(
                "-v", "--iface", "127.0.0.1:rate=3M", "--iface", "127.0.0.2:rate=3M", "--iface", "127.0.0.3:rate=3M",
                "-o", out.toString(), url));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (proxy.sent(1) < SIZE / 8 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(proxy.sent(1)).as("node 1 sent an eighth of the file").isGreaterThanOrEqualTo(SIZE / 8);
        Matcher id = NODE.matcher(log(1));
        assertThat(id.find()).as(log(1)).isTrue();
        long linkTwoElsewhere = proxy.connections(2, 0) + proxy.connections(2, 2);
        nodes.get(1).destroyForcibly(); // SIGKILL
        nodes.get(1).waitFor(10, TimeUnit.SECONDS);
        int deadInFlight = inFlightOf(id.group(1));
        long sentByDead = proxy.sent(1);

        Fixtures.Run run = download.get(120, TimeUnit.SECONDS);

        System.out.println(run.out() + run.err());
        assertThat(run.exitCode()).as(run.err()).isZero();
        Fixtures.assertSameBytes(source, out);
        assertThat(run.err()).as("the link that was on the dead node").contains("link 127.0.0.2 reconnected");
        assertThat(proxy.connections(2, 0) + proxy.connections(2, 2)).as("its new connection went to a live node")
                .isGreaterThan(linkTwoElsewhere);
        long beyond = proxy.sentTotal() - SIZE;
        System.out.printf("node 1 killed after sending %d bytes, holding %d pieces; sent beyond the file: %d bytes%n",
                sentByDead, deadInFlight, beyond);
        assertThat(beyond).as("bytes sent beyond the file (node 1 sent %d, held %d pieces when killed)", sentByDead,
                deadInFlight).isLessThanOrEqualTo((long) deadInFlight * PIECE + SIZE / 100);
    }

    /** Pieces the node {@code node} holds in the store (its claims outlive it by its lease). */
    private int inFlightOf(String node) {
        RedisClient client = RedisClient.create(redis.uri());
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            int held = 0;
            for (String key : c.sync().keys("bn:{*}:h")) {
                for (String holders : c.sync().hvals(key)) {
                    if (holders.contains(" " + node + ":")) {
                        held++;
                    }
                }
            }
            return held;
        } finally {
            client.shutdown();
        }
    }
}
