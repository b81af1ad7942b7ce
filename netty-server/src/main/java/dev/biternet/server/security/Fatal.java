package dev.biternet.server.security;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Makes running out of memory fatal for the {@code biternet-serve} process: it prints one line
 * and halts with {@link #EXIT_CODE}, so a supervisor restarts it, instead of lingering with dead
 * event loops, listening but never answering. An OutOfMemoryError can end up in three places:
 * a thread's uncaught-exception handler (hasher, timers), the pipeline's {@code exceptionCaught}
 * ({@link #check}), or a log call where Netty catches a Throwable from a listener or a task and
 * only logs it (a Logback filter sees it there). The launcher's {@code -XX:+ExitOnOutOfMemoryError}
 * does the same inside the JVM; this covers a JVM started without it. An embedded server
 * ({@code BiternetServer}) does not halt its host unless {@link #install} was called.
 */
public final class Fatal {
    /** The exit code, as the JVM's own {@code -XX:+ExitOnOutOfMemoryError} uses. */
    public static final int EXIT_CODE = 3;
    private static volatile boolean installed;
    private static final String LINE = "biternet-serve: out of memory (%s), exiting so that a supervisor restarts it"
            + " (more heap: BITERNET_JAVA_OPTS=-Xmx...; or lower --session-memory)";
    /** The line, encoded while there was memory, for when even building it fails. */
    private static final byte[] LINE_BYTES = (LINE.replace("%s", "java.lang.OutOfMemoryError") + System.lineSeparator())
            .getBytes(java.nio.charset.StandardCharsets.UTF_8);
    /** Given back on an OutOfMemoryError, so that the line can be built and printed. */
    @SuppressWarnings("unused")
    private static volatile byte[] reserve = new byte[256 << 10];

    private Fatal() {}

    /** From now on an OutOfMemoryError anywhere in this process halts it. */
    public static void install() {
        installed = true;
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> {
            check(e);
            if (previous != null) {
                previous.uncaughtException(thread, e);
            } else {
                e.printStackTrace();
            }
        });
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
            logback.addTurboFilter(new TurboFilter() {
                @Override
                public FilterReply decide(Marker marker, ch.qos.logback.classic.Logger logger, Level level, String format,
                                          Object[] params, Throwable t) {
                    check(t);
                    if (params != null && params.length > 0 && params[params.length - 1] instanceof Throwable last) {
                        check(last);
                    }
                    return FilterReply.NEUTRAL;
                }
            });
        }
    }

    /** Halts the process if {@code t} is, or was caused by, an OutOfMemoryError (once installed). */
    public static void check(Throwable t) {
        if (!installed) {
            return;
        }
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof OutOfMemoryError oom) {
                halt(oom);
            }
        }
    }

    /** Synchronized: of threads out of memory at once, the first prints the line and halts, the rest wait. */
    private static synchronized void halt(OutOfMemoryError e) {
        try {
            reserve = null; // room to build the line in; no logging framework, which may need more
            System.err.println(LINE.replace("%s", String.valueOf(e.getMessage())));
        } catch (Throwable stillNoRoom) {
            System.err.write(LINE_BYTES, 0, LINE_BYTES.length);
        } finally {
            System.err.flush();
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }
}
