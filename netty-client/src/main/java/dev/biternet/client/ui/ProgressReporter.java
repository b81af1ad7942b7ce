package dev.biternet.client.ui;

import dev.biternet.client.Progress;
import dev.biternet.common.cli.Sizes;
import java.io.PrintWriter;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Shows a running download's progress: on a terminal the lines of {@link ProgressRenderer},
 * redrawn in place four times a second; elsewhere (a pipe, a log file, a dumb terminal) one
 * {@link ProgressRenderer#plainLine plain line} every five seconds on stderr. Nothing is shown
 * before the session is open, so a download that fails at once prints only its error.
 *
 * <p>Sampling runs on one daemon thread of its own; {@link #close()} stops it and draws the
 * final state once more, so the last screen matches the summary that follows.
 */
public final class ProgressReporter implements AutoCloseable {
    static final long TERMINAL_PERIOD_MILLIS = 250;
    static final long PLAIN_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** Where lines go. */
    interface Sink {
        /** Shows the current state; {@code nanos} is the sample's time. */
        void show(Progress p, double[] rates, long nanos);

        /** Shows the final state and gives the output back (cursor below what was drawn). */
        void finish(Progress p, double[] rates);
    }

    private final Supplier<Progress> source;
    private final Supplier<Sink> sinks;
    /** Nothing is drawn before this is done (another writer to stderr, such as the routing check, finishes first). */
    private java.util.concurrent.Future<?> notBefore = java.util.concurrent.CompletableFuture.completedFuture(null);
    private final RateMeter meter = new RateMeter();
    private final ScheduledExecutorService timer;
    private Sink sink;
    private boolean closed;

    ProgressReporter(Supplier<Progress> source, Supplier<Sink> sinks, ScheduledExecutorService timer) {
        this.source = source;
        this.sinks = sinks;
        this.timer = timer;
    }

    /**
     * Starts showing progress, sizes and rates in {@code units}: redrawn in place when stderr is
     * a terminal (and {@code plain} is false), else plain lines on {@code err}; nothing is drawn
     * until {@code notBefore} is done. Finding the terminal (JLine starts a native or an
     * {@code stty} probe) happens on the progress thread at its first sample, not on the
     * download's path.
     */
    public static ProgressReporter start(Supplier<Progress> source, PrintWriter err, boolean plain,
                                         java.util.concurrent.Future<?> notBefore, Sizes units) {
        ProgressRenderer renderer = new ProgressRenderer(units);
        Supplier<Sink> sinks = () -> {
            Sink terminal = plain || !TerminalSink.stderrMayBeTerminal() ? null : TerminalSink.open(renderer);
            return terminal != null ? terminal : new PlainSink(err, PLAIN_PERIOD_NANOS, renderer);
        };
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "biternet-progress");
            t.setDaemon(true);
            return t;
        });
        ProgressReporter reporter = new ProgressReporter(source, sinks, timer);
        reporter.notBefore = notBefore;
        timer.scheduleAtFixedRate(() -> reporter.sample(System.nanoTime()), TERMINAL_PERIOD_MILLIS,
                TERMINAL_PERIOD_MILLIS, TimeUnit.MILLISECONDS);
        return reporter;
    }

    /** One sample: measure the rates and show them; on the timer thread. */
    synchronized void sample(long nanos) {
        if (closed) {
            return;
        }
        Progress p = source.get();
        double[] rates = meter.sample(p, nanos);
        if (p.phase() == Progress.Phase.CONNECTING || !notBefore.isDone()) {
            return;
        }
        if (sink == null) {
            sink = sinks.get();
        }
        sink.show(p, rates, nanos);
    }

    /**
     * Stops sampling and, if anything was shown, draws the final state so the last screen
     * matches the summary that follows; idempotent. A download over before the first sample
     * shows nothing.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        timer.shutdownNow();
        try {
            timer.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            if (sink != null) {
                sink.finish(source.get(), meter.sample(source.get(), System.nanoTime()));
            }
        }
    }

    /** A line every {@code periodNanos}, for logs and pipes; nothing at the end (the summary follows). */
    static final class PlainSink implements Sink {
        private final PrintWriter err;
        private final long periodNanos;
        private final ProgressRenderer renderer;
        private long next = Long.MIN_VALUE;

        PlainSink(PrintWriter err, long periodNanos, ProgressRenderer renderer) {
            this.err = err;
            this.periodNanos = periodNanos;
            this.renderer = renderer;
        }

        @Override
        public void show(Progress p, double[] rates, long nanos) {
            if (next == Long.MIN_VALUE) {
                // The first line after one period: a short download prints none.
                next = nanos + periodNanos;
                return;
            }
            if (nanos - next >= 0 && p.phase() == Progress.Phase.DOWNLOADING) {
                next = nanos + periodNanos;
                err.println(renderer.plainLine(p, rates));
                err.flush();
            }
        }

        @Override
        public void finish(Progress p, double[] rates) {}
    }
}
