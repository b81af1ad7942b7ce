package dev.biternet.client;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * What one download says on stderr besides the progress display: warnings, one-line notices,
 * and {@code -v}'s timeline (seconds since the download started). One place for the
 * {@code biternet-get:} prefix and the flush, shared by {@link Download} and
 * {@link HttpDownload}; any thread.
 */
final class Console {
    private final PrintWriter err;
    private final boolean verbose;
    private volatile long start = System.nanoTime();

    Console(PrintWriter err, boolean verbose) {
        this.err = err;
        this.verbose = verbose;
    }

    /** The timeline's zero from now on. */
    void started(long nanos) {
        start = nanos;
    }

    void warn(String message) {
        line("warning: " + message);
    }

    void line(String text) {
        synchronized (err) {
            err.println("biternet-get: " + text);
            err.flush();
        }
    }

    /** A step of the timeline, only with {@code -v}. */
    void trace(String event) {
        if (verbose) {
            line(String.format(Locale.ROOT, "%8.3f s %s", (System.nanoTime() - start) / 1e9, event));
        }
    }
}
