package dev.biternet.server.cluster;

import static dev.biternet.server.session.PieceAllocator.NONE;
import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.testing.RedisServer;
import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.PieceAllocatorContract;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link PieceAllocatorContract} for the allocator in Redis, against a real redis-server; and what
 * only a shared allocator must do: a piece claimed once however many nodes claim at once, and a
 * dead node's claims back in the pool once its lease ends.
 */
class RedisPieceAllocatorTest extends PieceAllocatorContract {
    private static final long NEVER = Long.MAX_VALUE;
    private static RedisServer redis;
    private static ClusterStore store;
    private static final AtomicInteger SESSIONS = new AtomicInteger();

    @BeforeAll
    static void startRedis() throws Exception {
        redis = new RedisServer();
        store = ClusterStore.connect(redis.uri());
    }

    @AfterAll
    static void stopRedis() throws Exception {
        try {
            if (store != null) {
                store.close();
            }
        } finally {
            redis.close();
        }
    }

    @Override
    protected PieceAllocator allocator(int count) {
        return new RedisPieceAllocator(store, "s" + SESSIONS.incrementAndGet(), count, PieceAllocator.Listener.NONE);
    }

    @Override
    protected int examples() {
        return 60;
    }

    @Test
    void nodesClaimingAtOnceGetEachPieceExactlyOnce() throws Exception {
        int pieces = 3000;
        int nodes = 3;
        int threadsPerNode = 2;
        String session = "exactly-once";
        List<ClusterStore> stores = new ArrayList<>();
        try {
            for (int i = 0; i < nodes; i++) {
                stores.add(ClusterStore.connect(redis.uri()));
            }
            new RedisPieceAllocator(stores.get(0), session, pieces, PieceAllocator.Listener.NONE).setAvailable(pieces);
            ConcurrentLinkedQueue<Integer> claimed = new ConcurrentLinkedQueue<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int n = 0; n < nodes; n++) {
                RedisPieceAllocator a = new RedisPieceAllocator(stores.get(n), session, pieces, PieceAllocator.Listener.NONE);
                a.setAvailable(pieces); // each node claims only pieces whose digests it has
                for (int t = 1; t <= threadsPerNode; t++) {
                    int link = t;
                    Thread th = new Thread(() -> {
                        try {
                            go.await();
                        } catch (InterruptedException e) {
                            return;
                        }
                        for (int p; (p = a.claim(link, NEVER)) != NONE; ) {
                            claimed.add(p);
                            if (p % 3 == 0) {
                                a.complete(p);
                            }
                        }
                    });
                    th.start();
                    threads.add(th);
                }
            }
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            assertThat(claimed).hasSize(pieces).doesNotHaveDuplicates();
            RedisPieceAllocator view = new RedisPieceAllocator(stores.get(0), session, pieces, PieceAllocator.Listener.NONE);
            view.setAvailable(pieces);
            assertThat(view.remaining()).isEqualTo(pieces - pieces / 3);
            assertThat(view.inFlight()).isEqualTo(pieces - pieces / 3);
            assertThat(view.inEndgame()).isTrue();
        } finally {
            stores.forEach(ClusterStore::close);
        }
    }

    @Test
    void piecesClaimedAheadForALinkAreItsOwnAndGoBackWithItsReleaseAll() {
        int pieces = 10_000;
        RedisPieceAllocator a = new RedisPieceAllocator(store, "ahead", pieces, PieceAllocator.Listener.NONE);
        a.setAvailable(pieces);
        assertThat(a.claim(1, NEVER)).isZero();
        assertThat(a.inFlight()).as("held for link 1 in the store").isEqualTo(RedisPieceAllocator.AHEAD);
        assertThat(a.claim(2, NEVER)).as("link 2 gets none of link 1's").isEqualTo(RedisPieceAllocator.AHEAD);
        assertThat(a.claim(1, NEVER)).as("link 1's next is its own claimed ahead").isEqualTo(1);
        a.complete(1);

        a.releaseAll(1);

        List<Integer> again = new ArrayList<>();
        for (int i = 0; i < RedisPieceAllocator.AHEAD - 1; i++) {
            again.add(a.claim(3, NEVER));
        }
        assertThat(again).as("link 1's pieces, released (the one done stays done), first")
                .containsExactly(0, 2, 3, 4, 5, 6, 7);
        assertThat(new RedisPieceAllocator(store, "ahead", pieces, PieceAllocator.Listener.NONE).remaining())
                .as("the completion carried by the next call, in the store").isEqualTo(pieces - 1);
    }

    @Test
    void aSessionsStateExpiresEvenIfItsNodeDiesBeforeRenewingIt() {
        new RedisPieceAllocator(store, "ttl", 8, PieceAllocator.Listener.NONE).claim(1, NEVER);
        io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create(redis.uri());
        try (var c = client.connect()) {
            for (String key : c.sync().keys("bn:{ttl}:*")) {
                assertThat(c.sync().pttl(key)).as("time to live of %s", key).isPositive();
            }
        } finally {
            client.shutdown();
        }
    }

    @Test
    void aNodeClaimsOnlyPiecesWhoseDigestsItHas() throws Exception {
        try (ClusterStore other = ClusterStore.connect(redis.uri())) {
            RedisPieceAllocator hashed = new RedisPieceAllocator(store, "digests", 6, PieceAllocator.Listener.NONE);
            RedisPieceAllocator waiting = new RedisPieceAllocator(other, "digests", 6, PieceAllocator.Listener.NONE);
            hashed.setAvailable(6);
            waiting.setAvailable(2);
            assertThat(waiting.claim(1, 0)).isEqualTo(0);
            assertThat(hashed.claim(1, 0)).isEqualTo(1);
            assertThat(waiting.claim(1, 0)).as("pieces 2-5: the other node has their digests, this one not yet")
                    .isEqualTo(NONE);
            assertThat(waiting.inEndgame()).isFalse();
            hashed.release(1, 1);
            waiting.setAvailable(6);
            assertThat(waiting.claim(1, NEVER)).as("released first").isEqualTo(1);
            assertThat(waiting.claim(1, NEVER)).isEqualTo(2);
        }
    }

    @Test
    void aLinkWithNothingToClaimLooksAgainWithoutAskingTheStoreEachTimeButSeesChangesOfAnyNode() throws Exception {
        try (ClusterStore counted = ClusterStore.connect(redis.uri()); ClusterStore other = ClusterStore.connect(redis.uri())) {
            AtomicInteger commands = new AtomicInteger();
            counted.meter((nanos, ok) -> commands.incrementAndGet());
            RedisPieceAllocator a = new RedisPieceAllocator(counted, "idle", 3, PieceAllocator.Listener.NONE);
            RedisPieceAllocator b = new RedisPieceAllocator(other, "idle", 3, PieceAllocator.Listener.NONE);
            a.setAvailable(3);
            b.setAvailable(3);
            assertThat(List.of(a.claim(1, NEVER), a.claim(2, NEVER), b.claim(1, NEVER))).containsExactly(0, 1, 2);

            commands.set(0);
            for (int i = 0; i < 200; i++) {
                assertThat(a.claim(3, NEVER)).isEqualTo(NONE);
            }
            // A link near the end looks every 20 ms (PiecePusher): 200 looks were 200 round trips.
            assertThat(commands).as("store commands for 200 looks in a row").hasValueLessThan(10);

            a.release(1, 0);
            assertThat(a.claim(3, NEVER)).as("this node's own release, at once").isZero();
            b.release(1, 2);
            long deadline = System.nanoTime() + 2 * RedisPieceAllocator.IDLE_NANOS + 1_000_000_000L;
            int got;
            while ((got = a.claim(3, NEVER)) == NONE && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(got).as("another node's release, once the link looks again").isEqualTo(2);
        }
    }

    @Test
    void aClaimThatMustNotWaitAnswersAtOnceAndWakesTheLinkWhenItsPieceIsIn() throws Exception {
        RedisPieceAllocator a = new RedisPieceAllocator(store, "later", 4, PieceAllocator.Listener.NONE);
        a.setAvailable(4);
        PieceAllocator.EndgamePolicy never = (index, holder, age) -> false;
        CountDownLatch woken = new CountDownLatch(1);
        Process pause = new ProcessBuilder(List.of("redis-cli", "-p", Integer.toString(redis.port()), "CLIENT", "PAUSE",
                "1000", "ALL")).redirectErrorStream(true).start();
        assertThat(new String(pause.getInputStream().readAllBytes()).strip()).isEqualTo("OK");

        assertThat(a.claimOrWake(1, never, woken::countDown)).as("nothing yet: the store is held").isEqualTo(NONE);
        assertThat(woken.getCount()).as("not woken before the store answered").isOne();
        assertThat(a.claimOrWake(1, never, woken::countDown)).as("one request at a time").isEqualTo(NONE);

        assertThat(woken.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(a.claimOrWake(1, never, () -> { })).as("the piece the answer brought").isZero();
        assertThat(a.claim(2, never)).as("claimed once").isEqualTo(1);
    }

    @Test
    void aNodeHasAtMostItsBoundOfClaimsOnTheirWayAndTheOtherLinksAreWokenInTurn() throws Exception {
        int links = ClusterStore.MAX_IN_FLIGHT + 8;
        try (ClusterStore node = ClusterStore.connect(redis.uri())) {
            RedisPieceAllocator a = new RedisPieceAllocator(node, "bound", links, PieceAllocator.Listener.NONE);
            a.setAvailable(links);
            PieceAllocator.EndgamePolicy never = (index, holder, age) -> false;
            java.util.concurrent.ConcurrentHashMap<Integer, Integer> got = new java.util.concurrent.ConcurrentHashMap<>();
            java.util.concurrent.LinkedBlockingQueue<Integer> woken = new java.util.concurrent.LinkedBlockingQueue<>();
            Process pause = new ProcessBuilder(List.of("redis-cli", "-p", Integer.toString(redis.port()), "CLIENT", "PAUSE",
                    "1000", "ALL")).redirectErrorStream(true).start();
            assertThat(new String(pause.getInputStream().readAllBytes()).strip()).isEqualTo("OK");
            for (int link = 1; link <= links; link++) {
                int l = link;
                assertThat(a.claimOrWake(link, never, () -> woken.add(l))).isEqualTo(NONE);
            }
            assertThat(node.places.availablePermits()).as("every place taken while the store is held").isZero();
            // Each link woken takes its piece (or asks again); all end with one piece each, none failing.
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
            while (got.size() < links && System.nanoTime() < deadline) {
                Integer l = woken.poll(1, java.util.concurrent.TimeUnit.SECONDS);
                if (l != null && !got.containsKey(l)) {
                    int p = a.claimOrWake(l, never, () -> woken.add(l));
                    if (p != NONE) {
                        got.put(l, p);
                    }
                }
            }
            assertThat(got).as("links with a piece").hasSize(links);
            assertThat(new java.util.HashSet<>(got.values())).as("each piece once").hasSize(links);
        }
    }

    @Test
    void piecesPublishedWhileTheStoreDoesNotAnswerAreClaimableOnceItDoes() throws Exception {
        try (ClusterStore node = ClusterStore.connect(redis.uri(), Duration.ofMillis(600))) {
            RedisPieceAllocator a = new RedisPieceAllocator(node, "publish", 4, PieceAllocator.Listener.NONE);
            Process pause = new ProcessBuilder(List.of("redis-cli", "-p", Integer.toString(redis.port()), "CLIENT", "PAUSE",
                    "2500", "ALL")).redirectErrorStream(true).start();
            assertThat(new String(pause.getInputStream().readAllBytes()).strip()).isEqualTo("OK");

            // The hasher publishing: past the 2 s command timeout. Thrown (when it was waited for),
            // it failed the file's hashing.
            a.setAvailable(4);

            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            int got = NONE;
            while (got == NONE && System.nanoTime() < deadline) {
                try {
                    got = a.claim(1, NEVER);
                } catch (dev.biternet.server.session.StoreException stillPaused) {
                    // asked again
                }
                Thread.sleep(50);
            }
            // (A claim that timed out while Redis was paused still ran once it was back: its piece
            // is that link's in the store, as if the link had claimed it and then been lost.)
            assertThat(got).as("a piece, once the store answers").isBetween(0, 3);
        }
    }

    @Test
    void piecesPublishedAreNotWaitedForOnTheHashersThread() throws Exception {
        try (SlowLink far = new SlowLink(redis.port(), 300); ClusterStore slow = ClusterStore.connect(far.uri())) {
            RedisPieceAllocator a = new RedisPieceAllocator(slow, "unwaited", 4, PieceAllocator.Listener.NONE);
            String m = RedisPieceAllocator.key("unwaited", "m");

            // The hasher publishes to every session of the file in turn: waiting for each answer,
            // 1,000 sessions took it over a minute under load.
            a.setAvailable(4);

            String atReturn = store.call(r -> r.hget(m, "av"));
            assertThat(atReturn).as("returned before the store took it").isEqualTo("0");
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (!"4".equals(store.call(r -> r.hget(m, "av"))) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String later = store.call(r -> r.hget(m, "av"));
            assertThat(later).as("then taken").isEqualTo("4");
        }
    }

    @Test
    void aNodeFarFromTheStoreKeepsItsClaimsOnManySessions() throws Exception {
        int sessions = 80;
        Duration lease = Duration.ofSeconds(1);
        // 30 ms a round trip: renewing 80 sessions one after the other takes 2.4 s, past the lease.
        try (SlowLink far = new SlowLink(redis.port(), 15); ClusterStore slow = ClusterStore.connect(far.uri(), lease);
             ClusterStore near = ClusterStore.connect(redis.uri(), lease)) {
            java.util.concurrent.ExecutorService opening = java.util.concurrent.Executors.newFixedThreadPool(16);
            List<java.util.concurrent.Future<Integer>> claims = new ArrayList<>();
            for (int i = 0; i < sessions; i++) {
                String name = "far" + i;
                claims.add(opening.submit(() -> {
                    RedisPieceAllocator a = new RedisPieceAllocator(slow, name, 2, PieceAllocator.Listener.NONE);
                    a.setAvailable(2);
                    return a.claim(1, NEVER);
                }));
            }
            for (java.util.concurrent.Future<Integer> c : claims) {
                assertThat(c.get()).isZero();
            }
            opening.shutdown();
            Thread.sleep(lease.toMillis() * 5 / 2);

            AtomicInteger expired = new AtomicInteger();
            PieceAllocator.Listener counting = new PieceAllocator.Listener() {
                @Override
                public void leaseExpired(int holds) {
                    expired.addAndGet(holds);
                }
            };
            for (int i = 0; i < sessions; i++) {
                RedisPieceAllocator other = new RedisPieceAllocator(near, "far" + i, 2, counting);
                other.setAvailable(2);
                assertThat(other.claim(1, NEVER)).as("session %d: piece 0 still the far node's", i).isEqualTo(1);
            }
            assertThat(expired).as("holds of the far node dropped for an ended lease").hasValue(0);
        }
    }

    @Test
    void aDeadNodesClaimsGoBackToThePoolWhenItsLeaseEnds() throws Exception {
        Duration lease = Duration.ofMillis(600);
        try (ClusterStore alive = ClusterStore.connect(redis.uri(), lease)) {
            ClusterStore dying = ClusterStore.connect(redis.uri(), lease);
            java.util.concurrent.atomic.AtomicInteger expired = new java.util.concurrent.atomic.AtomicInteger();
            RedisPieceAllocator mine = new RedisPieceAllocator(alive, "lease", 10, new PieceAllocator.Listener() {
                @Override
                public void leaseExpired(int holds) {
                    expired.addAndGet(holds);
                }
            });
            RedisPieceAllocator theirs = new RedisPieceAllocator(dying, "lease", 10, PieceAllocator.Listener.NONE);
            mine.setAvailable(10);
            theirs.setAvailable(10);
            for (int i = 0; i < 4; i++) {
                assertThat(theirs.claim(1, NEVER)).isEqualTo(i);
            }
            assertThat(theirs.complete(1)).isTrue();
            for (int i = 4; i < 10; i++) {
                assertThat(mine.claim(1, NEVER)).isEqualTo(i);
            }
            // Alive, the other node keeps its claims past its first lease (it renews them).
            Thread.sleep(2 * lease.toMillis());
            assertThat(mine.claim(1, NEVER)).as("nothing free while the other node lives").isEqualTo(NONE);
            dying.close(); // dies: no more renewals
            Thread.sleep(lease.toMillis() + 200);
            List<Integer> back = new ArrayList<>();
            for (int p; (p = mine.claim(2, NEVER)) != NONE; ) {
                back.add(p);
            }
            assertThat(back).as("its unfinished pieces, lowest first").containsExactly(0, 2, 3);
            assertThat(expired).as("claims counted as expired (metrics)").hasValue(3);
            assertThat(mine.remaining()).isEqualTo(9);
        }
    }
}
