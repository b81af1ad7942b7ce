package dev.biternet.server.security;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A server-wide amount (open connections, open sessions, bytes of session state) that may not
 * go beyond its maximum: what is taken must fit, or nothing is taken. Thread-safe and
 * lock-free; one instance per kind per server.
 */
public final class Capacity {
    private final long max;
    private final AtomicLong held = new AtomicLong();

    public Capacity(long max) {
        if (max < 1) {
            throw new IllegalArgumentException("capacity " + max);
        }
        this.max = max;
    }

    public long max() {
        return max;
    }

    public long held() {
        return held.get();
    }

    /** Takes {@code n}; false (and nothing taken) if that would go beyond the maximum. */
    public boolean tryAcquire(long n) {
        long now;
        do {
            now = held.get();
            if (n > max - now) {
                return false;
            }
        } while (!held.compareAndSet(now, now + n));
        return true;
    }

    /** Returns {@code n} taken by a successful {@link #tryAcquire}. */
    public void release(long n) {
        held.addAndGet(-n);
    }
}
