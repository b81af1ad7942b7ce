package dev.biternet.client.link;

import dev.biternet.common.piece.Digests;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Hashes one link's pieces off its event loop. The event loop copies a block into the piece's
 * buffer, releases the network buffer and hands that range of the piece buffer here; SHA-256
 * runs on a small shared pool while the event loop goes back to the socket, so receiving
 * overlaps hashing on another core. Blocks of one link are hashed in the order they were handed
 * in (a per-link queue drained by at most one pool thread at a time), so the digest is that of
 * the piece's bytes in order.
 *
 * <p>The bytes hashed are the bytes written: they are read from the piece buffer
 * {@link PieceWriter} writes, which the event loop no longer touches in that range. Nothing
 * waits here but ranges of piece buffers, which the link's window and the download's
 * {@link dev.biternet.client.store.PieceBudget} bound.
 */
final class PieceHasher {
    /** Threads shared by every link of the process: one per core, daemons. */
    private static final ExecutorService POOL = Executors.newFixedThreadPool(
            Math.max(1, Runtime.getRuntime().availableProcessors()), r -> {
                Thread t = new Thread(r, "biternet-hash");
                t.setDaemon(true);
                return t;
            });
    /** Tasks run per turn before the pool thread is given to another link. */
    private static final int BATCH = 64;

    private final MessageDigest digest = Digests.sha256();
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();

    /** Starts a new piece (the previous one, if unfinished, was abandoned). */
    void reset() {
        submit(digest::reset);
    }

    /** Hashes {@code block}, a range of a piece buffer nobody writes into any more. */
    void update(ByteBuffer block) {
        submit(() -> digest.update(block));
    }

    /** Runs {@code task} on a pool thread once every block handed in before it is hashed. */
    void then(Runnable task) {
        submit(task);
    }

    /** Finishes the piece and hands its digest to {@code done} on a pool thread. */
    void finish(Consumer<byte[]> done) {
        submit(() -> done.accept(digest.digest()));
    }

    /** Waits until every block handed in so far is hashed and its completion posted (tests). */
    void awaitIdle() throws InterruptedException {
        java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
        submit(done::countDown);
        if (!done.await(10, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IllegalStateException("hashing did not finish in 10 s");
        }
    }

    private void submit(Runnable task) {
        tasks.add(task);
        schedule();
    }

    private void schedule() {
        if (!tasks.isEmpty() && scheduled.compareAndSet(false, true)) {
            POOL.execute(this::drain);
        }
    }

    private void drain() {
        try {
            Runnable task;
            for (int n = 0; n < BATCH && (task = tasks.poll()) != null; n++) {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    // a completion that could not be posted (the link's event loop is gone): nothing waits for it
                }
            }
        } finally {
            scheduled.set(false);
            schedule();
        }
    }
}
