package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The budget that bounds the pieces a download holds in memory: never more taken than it has,
 * and a connection never left with more pieces under way at the server than its own plus what
 * it holds, whatever the order of windows, pieces and acks.
 */
class PieceBudgetTest {

    @Test
    void sizedInPiecesOfTheDownloadAtLeastOne() {
        assertThat(PieceBudget.forPieceSize(1 << 20).capacity()).isEqualTo((int) (PieceBudget.SHARED_BYTES >> 20));
        assertThat(PieceBudget.forPieceSize(1 << 16).capacity()).isEqualTo((int) (PieceBudget.SHARED_BYTES >> 16));
        assertThat(PieceBudget.forPieceSize(Integer.MAX_VALUE).capacity()).isEqualTo(1);
    }

    @Test
    void aWindowBeyondTheConnectionsOwnPiecesWaitsForTheBudget() {
        PieceBudget budget = new PieceBudget(10);
        PieceBudget.Share a = budget.share();
        PieceBudget.Share b = budget.share();
        assertThat(a.afford(3)).isEqualTo(3);
        assertThat(a.afford(PieceBudget.OWN_PIECES + 8)).isEqualTo(PieceBudget.OWN_PIECES + 8);
        assertThat(b.afford(PieceBudget.OWN_PIECES + 8)).as("two left").isEqualTo(PieceBudget.OWN_PIECES + 2);
        assertThat(b.afford(PieceBudget.OWN_PIECES + 8)).as("still two").isEqualTo(PieceBudget.OWN_PIECES + 2);
        a.close();
        assertThat(b.afford(PieceBudget.OWN_PIECES + 8)).as("a's given back").isEqualTo(PieceBudget.OWN_PIECES + 8);
        assertThat(budget.taken()).isEqualTo(8);
        assertThat(budget.peak()).isEqualTo(10);
    }

    @Test
    void manyThreadsNeverTakeMoreThanTheBudget() throws Exception {
        PieceBudget budget = new PieceBudget(37);
        int threads = 16;
        CountDownLatch start = new CountDownLatch(1);
        AtomicInteger over = new AtomicInteger();
        List<Thread> all = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = t;
            Thread th = new Thread(() -> {
                SplittableRandom rnd = new SplittableRandom(seed);
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 20_000; i++) {
                    int got = budget.take(1 + rnd.nextInt(8));
                    if (budget.taken() > budget.capacity()) {
                        over.incrementAndGet();
                    }
                    budget.give(got);
                }
            });
            th.start();
            all.add(th);
        }
        start.countDown();
        for (Thread th : all) {
            th.join();
        }
        assertThat(over.get()).isZero();
        assertThat(budget.peak()).isLessThanOrEqualTo(budget.capacity());
        assertThat(budget.taken()).isZero();
    }

    /**
     * A model of the credit loop, message by message: the connection grants windows the budget
     * affords (Credit), the server sends while its pieces unacknowledged are under the last
     * window it read, the connection acks, and Credit and acks reach the server in the order
     * they were written. However windows rise and fall, the pieces the server has out on a
     * connection and not yet acknowledged (in the network or in the client's memory) never
     * exceed its own pieces plus what it holds, and the connections never hold more than the
     * budget.
     */
    @Test
    void piecesOutOnAConnectionNeverExceedTheCreditItHolds() {
        for (long seed = 0; seed < 300; seed++) {
            SplittableRandom rnd = new SplittableRandom(seed);
            PieceBudget budget = new PieceBudget(1 + rnd.nextInt(40));
            int n = 1 + rnd.nextInt(8);
            List<Conn> conns = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                conns.add(new Conn(budget.share()));
            }
            for (int step = 0; step < 5_000; step++) {
                Conn c = conns.get(rnd.nextInt(n));
                switch (rnd.nextInt(4)) {
                    case 0 -> { // a tick: a new window, as large as the budget affords
                        c.window = c.share.afford(rnd.nextInt(48));
                        c.toServer.add(-1 - c.window);
                    }
                    case 1 -> { // the server reads the next message from the connection
                        Integer m = c.toServer.poll();
                        if (m != null && m < 0) {
                            c.serverWindow = -1 - m;
                        } else if (m != null) {
                            c.unacked--;
                        }
                    }
                    case 2 -> { // the server sends a piece if its window lets it
                        if (c.unacked < c.serverWindow) {
                            c.unacked++;
                            c.received++;
                        }
                    }
                    default -> { // the connection acks a piece it has
                        if (c.received > 0) {
                            c.received--;
                            c.toServer.add(0);
                            c.share.acked(c.window);
                        }
                    }
                }
                // What the connection may hold: the server's count less the acks it has not read.
                long acksOnTheWay = c.toServer.stream().filter(m -> m == 0).count();
                assertThat(c.unacked - acksOnTheWay).as("seed %d step %d", seed, step)
                        .isLessThanOrEqualTo(PieceBudget.OWN_PIECES + c.share.held());
                assertThat(budget.taken()).isLessThanOrEqualTo(budget.capacity());
            }
            for (Conn c : conns) {
                c.share.close();
            }
            assertThat(budget.taken()).isZero();
        }
    }

    private static final class Conn {
        final PieceBudget.Share share;
        /** Messages on their way to the server: an ack (0) or a window w (-1 - w). */
        final ArrayDeque<Integer> toServer = new ArrayDeque<>();
        int window = PieceBudget.OWN_PIECES;
        int serverWindow = PieceBudget.OWN_PIECES;
        int unacked;
        int received;

        Conn(PieceBudget.Share share) {
            this.share = share;
        }
    }
}
