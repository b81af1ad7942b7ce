package dev.biternet.client.link;

import java.util.concurrent.ThreadLocalRandom;

/**
 * How long a flow waits before connecting again: 0.25 s doubling to 5 s, each wait given or
 * taken 20 % so that links (and clients) that lost the server together do not return together.
 * Back to the first wait once a connection carried data.
 */
public final class Backoff {
    public static final long FIRST_MILLIS = 250;
    public static final long MAX_MILLIS = 5000;

    private long delay;

    /** Waits from the first wait on. */
    public Backoff() {
        this(FIRST_MILLIS);
    }

    private Backoff(long delay) {
        this.delay = delay;
    }

    /** Connects at once the first time (a new flow), then waits as usual. */
    static Backoff immediate() {
        return new Backoff(0);
    }

    /** The next wait, milliseconds, jittered; the one after it is twice as long, up to the cap. */
    public long next() {
        long wait = jittered(delay);
        delay = Math.min(MAX_MILLIS, Math.max(FIRST_MILLIS, delay * 2));
        return wait;
    }

    /** The next wait is the first again. */
    public void reset() {
        delay = FIRST_MILLIS;
    }

    /** {@code delay} give or take 20 %. */
    static long jittered(long delay) {
        return (long) (delay * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble()));
    }
}
