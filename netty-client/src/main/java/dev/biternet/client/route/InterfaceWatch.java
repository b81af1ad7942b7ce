package dev.biternet.client.route;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Tells a download when its machine's interfaces or addresses change: at once on the kernel's
 * own link, address and route events (rtnetlink, read through {@code ip -o monitor}), and once
 * every {@link #POLL_MILLIS} besides, in case {@code ip} is missing or an event was missed.
 * What changed is not parsed: the callback looks at the interfaces it cares about, told whether
 * an event or the poll called it.
 */
public final class InterfaceWatch implements AutoCloseable {
    /** The look taken even without an event. */
    static final long POLL_MILLIS = 1000;

    private final java.util.function.Consumer<Boolean> onChange;
    private final ScheduledExecutorService poll;
    private final Process monitor;

    private InterfaceWatch(java.util.function.Consumer<Boolean> onChange) {
        this.onChange = onChange;
        this.poll = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "biternet-ifaces"));
        this.monitor = startMonitor();
    }

    /**
     * Starts watching; {@code onChange} runs on the watch's threads, one call at a time, with
     * true when a kernel event called it, false for the poll.
     */
    public static InterfaceWatch start(java.util.function.Consumer<Boolean> onChange) {
        InterfaceWatch w = new InterfaceWatch(onChange);
        w.poll.scheduleWithFixedDelay(() -> w.changed(false), POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        return w;
    }

    private synchronized void changed(boolean event) {
        try {
            onChange.accept(event);
        } catch (RuntimeException e) {
            // a look that failed is taken again at the next event or poll
        }
    }

    /** {@code ip -o monitor link address route}, one line per event; null where it cannot run. */
    private Process startMonitor() {
        Process p;
        try {
            p = new ProcessBuilder("ip", "-o", "monitor", "link", "address", "route")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            return null;
        }
        daemon(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                while (r.readLine() != null) {
                    changed(true);
                }
            } catch (IOException e) {
                // the process ended (close): the polls go on until then
            }
        }, "biternet-ip-monitor").start();
        return p;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    @Override
    public void close() {
        poll.shutdownNow();
        if (monitor != null) {
            monitor.destroy();
        }
    }
}
