package dev.biternet.client.link;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The threads that write whole pieces to the part file and judge them, shared by every link of
 * the process. Writes with {@code O_DIRECT} wait for the disk, so they run here and not on a
 * hashing thread, which goes on with the next piece meanwhile (docs/DESIGN.md, "Whole pieces,
 * written directly").
 * Two threads: a disk takes several writes at once, and the threads mostly wait.
 */
final class PieceWriter {
    private static final ExecutorService POOL = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "biternet-write");
        t.setDaemon(true);
        return t;
    });

    private PieceWriter() {}

    static void execute(Runnable task) {
        POOL.execute(task);
    }
}
