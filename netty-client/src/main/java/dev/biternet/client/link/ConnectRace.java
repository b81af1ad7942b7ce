package dev.biternet.client.link;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * When a connect that has not completed gets a second attempt beside it: a pure policy, fed the
 * connect times seen on each link.
 *
 * <p>Linux sends a lost SYN again after one second (its initial retransmission timeout), the
 * next after three. On a link that loses 1 % of its packets each way, one connect in fifty
 * waits that second; on a 10 s download that is a tenth of the time gone on one link. So a
 * connect still pending after a few of the link's round trips gets a second, parallel attempt
 * (a new socket, the same binding), and the first to complete is used, the other closed: what
 * RFC 8305's "connection attempt delay" does across address families, here against loss.
 *
 * <p>The delay is {@value #ROUND_TRIPS} times the link's last measured connect time (a
 * connect takes one round trip), and never below {@value #MIN_MILLIS} ms (RFC 8305's
 * recommended delay), so jitter and a busy server's accept do not start attempts for nothing.
 * A link not measured yet races after {@value #MIN_MILLIS} ms. A link whose round trip makes the
 * delay reach the kernel's own retransmission ({@value #KERNEL_RETRY_MILLIS} ms) gets no
 * second attempt: it would gain nothing over the kernel's.
 */
public final class ConnectRace {
    static final long MIN_MILLIS = 250;
    static final int ROUND_TRIPS = 3;
    static final long KERNEL_RETRY_MILLIS = 1000;
    /** No second attempt. */
    public static final long NEVER = -1;

    /** The last connect time measured on each link (named by the caller: its name and the address it connects to), in ms. */
    private final Map<String, Long> lastMillis = new ConcurrentHashMap<>();

    /** After how many ms a connect on {@code link} gets a second attempt; {@link #NEVER} for none. */
    public long delayMillis(String link) {
        Long last = lastMillis.get(link);
        long delay = last == null ? MIN_MILLIS : Math.max(MIN_MILLIS, ROUND_TRIPS * last);
        return delay >= KERNEL_RETRY_MILLIS ? NEVER : delay;
    }

    /**
     * An attempt on {@code link} completed {@code millis} after it started. One that took the
     * kernel's retransmission time or longer waited for a lost SYN (or the race's own delay):
     * not the link's round trip, so it is not kept.
     */
    public void measured(String link, long millis) {
        if (millis < KERNEL_RETRY_MILLIS) {
            lastMillis.put(link, Math.max(0, millis));
        }
    }
}
