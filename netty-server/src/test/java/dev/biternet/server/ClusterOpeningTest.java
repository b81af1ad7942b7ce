package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.testing.RedisServer;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.OpenSession;
import dev.biternet.server.cluster.ClusterStore;
import dev.biternet.server.cluster.RedisSessions;
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
 * its channel shares with others, nor wait for ever for another opening. A real redis-server,
 * held up with {@code CLIENT PAUSE} so that openings meet while they wait for it.
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
                pause(redis, 1500);
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

    @Test
    void anotherChannelOnTheSameEventLoopIsAnsweredWhileALinksClaimWaitsForTheStore() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 1, 3 * PIECE);
        try (RedisServer redis = new RedisServer()) {
            server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                    .withCluster(redis.uri()));
            try (WireClient link = new WireClient(server.address()); WireClient other = new WireClient(server.address())) {
                link.hello();
                link.open("f.bin");
                var opened = link.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
                pause(redis, 1500);
                // Attached, the link's first claim asks the store.
                link.send(Envelope.newBuilder().setAttach(dev.biternet.proto.Attach.newBuilder()
                        .setSessionId(opened.getSessionId()).setSecret(opened.getAttachSecret()).setWindow(2)).build());
                link.expect(Envelope.BodyCase.ATTACHED);
                CompletableFuture<Long> piece = CompletableFuture.supplyAsync(() -> {
                    try {
                        while (!(link.read() instanceof BiternetServerTest.Piece)) {
                            // hashes and the like before the first piece
                        }
                        return System.nanoTime();
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                Thread.sleep(300); // the claim waits for the store

                other.hello();
                long welcomed = System.nanoTime();

                assertThat(piece.get(30, TimeUnit.SECONDS)).as("the first piece came once the store answered the claim,"
                        + " after the other channel's Welcome").isGreaterThan(welcomed);
            }
        }
    }

    @Test
    void twoOpeningsWhoseJoinKeysAndSessionsCrossEachOthersLocksBothOpen() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 1, 3 * PIECE);
        try (RedisServer redis = new RedisServer(); ClusterStore store = ClusterStore.connect(redis.uri())) {
            BiternetServer.Config config = new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60).withCluster(redis.uri());
            BiternetServer other = BiternetServer.start(config);
            server = BiternetServer.start(config);
            try (WireClient first = new WireClient(server.address()); WireClient second = new WireClient(server.address())) {
                // Two sessions the other node opened, whose ids fall in different lock stripes.
                ByteString a;
                ByteString b;
                try (WireClient c = new WireClient(other.address())) {
                    c.hello();
                    a = openOn(c);
                    do {
                        b = openOn(c);
                    } while (stripe(b) == stripe(a));
                }
                // Join keys naming them, each in the stripe of the other's id (the registry's 64
                // stripes by hash): opening by key A locks B's stripe and then adopts A, and the
                // other way round. Locked by one array, the two waited for each other for ever.
                ByteString keyA = keyInStripe(stripe(b));
                ByteString keyB = keyInStripe(stripe(a));
                RedisSessions shared = new RedisSessions(store);
                assertThat(shared.join(keyA, a)).isEqualTo(a);
                assertThat(shared.join(keyB, b)).isEqualTo(b);
                first.hello();
                second.hello();

                pause(redis, 1000); // both openings hold their key's lock, waiting for the store
                first.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("f.bin").setJoinKey(keyA)).build());
                second.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("f.bin").setJoinKey(keyB)).build());

                // (A reader waits 15 s at most: a deadlock fails here.)
                assertThat(first.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getSessionId()).isEqualTo(a);
                assertThat(second.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getSessionId()).isEqualTo(b);
            } finally {
                other.close();
            }
        }
    }

    private static ByteString openOn(WireClient c) throws java.io.IOException {
        c.open("f.bin");
        return c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getSessionId();
    }

    private static int stripe(ByteString b) {
        return Math.floorMod(b.hashCode(), 64);
    }

    private static ByteString keyInStripe(int stripe) {
        java.util.Random random = new java.util.Random(stripe);
        byte[] key = new byte[16];
        while (true) {
            random.nextBytes(key);
            if (stripe(ByteString.copyFrom(key)) == stripe) {
                return ByteString.copyFrom(key);
            }
        }
    }

    /** Redis answers no client for {@code millis} (keep it below the node's 2 s command timeout). */
    private static void pause(RedisServer redis, int millis) throws Exception {
        Process pause = new ProcessBuilder(List.of("redis-cli", "-p", Integer.toString(redis.port()),
                "CLIENT", "PAUSE", Integer.toString(millis), "ALL")).redirectErrorStream(true).start();
        assertThat(new String(pause.getInputStream().readAllBytes()).strip()).isEqualTo("OK");
        assertThat(pause.waitFor(10, TimeUnit.SECONDS)).isTrue();
    }
}
