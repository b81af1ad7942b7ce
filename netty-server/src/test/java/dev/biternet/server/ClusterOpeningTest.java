package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.testing.RedisServer;
import dev.biternet.proto.Envelope;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opening a session on a node of a cluster waits for the store: it must not hold the event loop
 * its channel shares with others. A real redis-server, held up with {@code CLIENT PAUSE}.
 */
@Timeout(60)
class ClusterOpeningTest {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;
    private BiternetServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void anotherChannelOnTheSameEventLoopIsAnsweredWhileAnOpeningWaitsForTheStore() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 1, 3 * PIECE);
        try (RedisServer redis = new RedisServer()) {
            // One event loop: every channel shares it.
            server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                    .withCluster(redis.uri()));
            try (WireClient opener = new WireClient(server.address()); WireClient other = new WireClient(server.address())) {
                opener.hello();
                // Redis answers no client for 1.5 s (below the node's 2 s command timeout).
                Process pause = new ProcessBuilder(List.of("redis-cli", "-p", Integer.toString(redis.port()),
                        "CLIENT", "PAUSE", "1500", "ALL")).redirectErrorStream(true).start();
                assertThat(new String(pause.getInputStream().readAllBytes()).strip()).isEqualTo("OK");
                assertThat(pause.waitFor(10, TimeUnit.SECONDS)).isTrue();
                opener.open("f.bin");
                CompletableFuture<Long> opened = CompletableFuture.supplyAsync(() -> {
                    try {
                        opener.expect(Envelope.BodyCase.SESSION_OPENED);
                        return System.nanoTime();
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                Thread.sleep(300); // the OpenSession is read and waits for the store

                other.hello();
                long welcomed = System.nanoTime();

                assertThat(opened.get(30, TimeUnit.SECONDS)).as("the session opened once the store answered, after the other"
                        + " channel's Welcome (before the fix the loop waited for the store with it)").isGreaterThan(welcomed);
            }
        }
    }
}
