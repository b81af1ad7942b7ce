package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.testing.RedisServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster's store (a real redis-server) goes down and comes back, empty: nodes open no
 * session while it is down and say why, open them again once it is back, and a download under
 * way through it finishes with the right bytes, never a wrong file.
 */
class ClusterStoreOutageTest {
    private static final int PIECE = 256 << 10;
    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private InProcessCluster cluster;
    private RedisServer redis;
    private NodeProxy proxy;

    @BeforeEach
    void start() throws Exception {
        cluster = new InProcessCluster(List.of(root, root), PIECE);
        redis = cluster.redis;
        proxy = cluster.proxy;
    }

    @AfterEach
    void stop() throws Exception {
        cluster.close();
    }

    private String url(String name) {
        return cluster.url(name);
    }

    @Test
    void whileTheStoreIsDownNoSessionOpensAndOnceBackTheyDo() throws Exception {
        Path source = Fixtures.randomFile(root, "a.bin", 2L << 20, 40);
        redis.stop();

        Fixtures.Run down = Fixtures.get("--retry-time", "2", "--iface", "127.0.0.1", "-o",
                downloads.resolve("down.bin").toString(), url("a.bin"));

        assertThat(down.exitCode()).as(down.out()).isNotZero();
        assertThat(down.err()).contains("the cluster's store at 127.0.0.1:" + redis.port() + " is unreachable");
        assertThat(downloads.resolve("down.bin")).doesNotExist();
        assertThat(cluster.nodes.get(0).metrics().scrape()).containsPattern(
                "biternet_cluster_store_seconds_count\\{result=\"error\"\\} [1-9]");

        redis.start();
        Path out = downloads.resolve("a.bin");
        Fixtures.Run back = Fixtures.get("--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(), url("a.bin"));

        assertThat(back.exitCode()).as(back.err()).isZero();
        Fixtures.assertSameBytes(source, out);
    }

    @Test
    void aStoreRestartMidDownloadStillEndsWithTheRightBytes() throws Exception {
        long size = 24L << 20;
        Path source = Fixtures.randomFile(root, "b.bin", size, 41);
        Path out = downloads.resolve("b.bin");
        CompletableFuture<Fixtures.Run> download = CompletableFuture.supplyAsync(() -> Fixtures.get("-v",
                "--iface", "127.0.0.1:rate=3M", "--iface", "127.0.0.2:rate=3M", "-o", out.toString(), url("b.bin")));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (proxy.sentTotal() < size / 4 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        redis.stop();
        Thread.sleep(500);
        redis.start(); // empty: every session's shared state is gone

        Fixtures.Run run = download.get(120, TimeUnit.SECONDS);

        System.out.println(run.out() + run.err());
        assertThat(run.exitCode()).as(run.err()).isZero();
        Fixtures.assertSameBytes(source, out);
        assertThat(Files.exists(out.resolveSibling("b.bin.part"))).isFalse();
    }
}
