package dev.biternet.client.store;

import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The download's resume state: which verified pieces the {@link ResumeLog} records, and when.
 * A checkpoint first makes the part file's bytes durable, then appends the records that name
 * them, so a record never names bytes a crash could lose; it runs on a timer, once enough was
 * verified since the last one, and on close. On the next run {@link #recheck} hashes the logged
 * pieces back from the part file and keeps those the disk still holds.
 *
 * <p>This object's monitor guards the pieces not yet logged and when the next checkpoint is
 * due; it is taken under {@link PieceBook}'s monitor (never the other way round) and held only
 * to hand a batch over. A second lock keeps checkpoints from overlapping while they sync and
 * append, without holding up verdicts.
 */
final class Checkpointer implements AutoCloseable {
    static final long CHECKPOINT_MILLIS = 500;
    private static final long MIN_CHECKPOINT_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final ResumeLog log;
    private final PartFile part;
    private final PieceLayout layout;
    /**
     * A checkpoint also runs once this much has been verified since the last: 0.5 % of the file
     * (at least a piece), but not more often than every 50 ms. A killed run then loses at most
     * about that much, or 50 ms of data on a fast link (plus the pieces it was receiving), and
     * the syncs stay below 20 a second however fast the links are.
     */
    private final long checkpointBytes;
    private final ScheduledExecutorService timer;
    private final Object running = new Object();
    private List<ResumeLog.Entry> unlogged = new ArrayList<>();
    private long unloggedBytes;
    private boolean queued;
    private long lastNanos = System.nanoTime();

    /** Logs the pieces {@link #verified} in {@code part} to {@code log}, every {@value #CHECKPOINT_MILLIS} ms and more often when much is verified. */
    Checkpointer(ResumeLog log, PartFile part, PieceLayout layout) {
        this.log = log;
        this.part = part;
        this.layout = layout;
        this.checkpointBytes = Math.max(layout.pieceSize(), layout.fileSize() / 200);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "biternet-checkpoint");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::checkpointQuietly, CHECKPOINT_MILLIS, CHECKPOINT_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * Re-hashes the pieces a previous run logged, reading them back from {@code OUT.part}, and
     * returns those whose bytes still match the logged digest. A piece the log names but the
     * disk does not hold (torn, truncated, corrupted) is simply fetched again.
     */
    static Map<Integer, byte[]> recheck(Path out, PieceLayout layout, Map<Integer, byte[]> logged) throws IOException {
        Path part = PartFile.partFor(out);
        Map<Integer, byte[]> good = new TreeMap<>();
        if (logged.isEmpty() || LocalFiles.lstat(part) == null) {
            return good;
        }
        ByteBuffer buf = ByteBuffer.allocateDirect(PartFile.READ_BUFFER_BYTES);
        try (FileChannel c = LocalFiles.openExisting(part, StandardOpenOption.READ)) {
            for (Map.Entry<Integer, byte[]> e : logged.entrySet()) {
                int index = e.getKey();
                if (index >= 0 && index < layout.pieceCount()
                        && Arrays.equals(PartFile.digest(c, layout.offset(index), layout.length(index), buf), e.getValue())) {
                    good.put(index, e.getValue());
                }
            }
        }
        return good;
    }

    /** Piece {@code index} verified with {@code digest}: it goes into a coming checkpoint. */
    synchronized void verified(int index, byte[] digest) {
        unlogged.add(new ResumeLog.Entry(index, digest.clone()));
        unloggedBytes += layout.length(index);
        long now = System.nanoTime();
        if (unloggedBytes >= checkpointBytes && !queued && now - lastNanos >= MIN_CHECKPOINT_GAP_NANOS) {
            queued = true;
            lastNanos = now;
            try {
                timer.execute(this::checkpointQuietly);
            } catch (RejectedExecutionException e) {
                // closed: a late piece of a download that is over; close() checkpointed
                queued = false;
            }
        }
    }

    /**
     * Makes the pieces verified so far durable: first their bytes (the part file is forced),
     * then the log records that name them. A piece verified while this runs is in the next
     * checkpoint. Any thread; checkpoints do not overlap.
     */
    void checkpoint() throws IOException {
        synchronized (running) {
            List<ResumeLog.Entry> batch;
            synchronized (this) {
                queued = false;
                if (unlogged.isEmpty()) {
                    return;
                }
                unloggedBytes = 0;
                batch = unlogged;
                unlogged = new ArrayList<>();
            }
            try {
                part.force();
                log.append(batch);
            } catch (IOException e) {
                synchronized (this) {
                    batch.addAll(unlogged);
                    unlogged = batch;
                }
                throw e;
            }
        }
    }

    private void checkpointQuietly() {
        try {
            checkpoint();
        } catch (IOException | RuntimeException e) {
            // disk full or closed: the log lags behind the part file, which is always safe
        }
    }

    /**
     * Stops the timer and waits for a running checkpoint. Not shutdownNow: interrupting a
     * thread inside a FileChannel operation closes the channel.
     */
    void stop() {
        timer.shutdown();
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The download is complete and renamed: the log has nothing left to resume. */
    void finished() throws IOException {
        log.delete();
    }

    /** Stops the timer, logs what is verified while the part file is still open, and closes the log. */
    @Override
    public void close() throws IOException {
        try {
            stop();
            if (part.isOpen()) {
                checkpointQuietly();
            }
        } finally {
            log.close();
        }
    }
}
