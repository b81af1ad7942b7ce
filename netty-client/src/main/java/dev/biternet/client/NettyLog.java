package dev.biternet.client;

import io.netty.util.internal.logging.AbstractInternalLogger;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;
import java.io.PrintStream;

/**
 * Netty's log in biternet-get: warnings and errors as one line each on stderr, with the prefix
 * of the client's own messages; nothing below them. Installed by {@code main} before Netty logs
 * anything.
 *
 * <p>Netty's default looks for SLF4J, Log4j 2 and Log4j on the class path (a failed class lookup
 * each) and then logs through {@code java.util.logging}, which prints a warning as two lines
 * with a timestamp and the logging class. What the default's set-up cost the start and what
 * this one saved: docs/DESIGN.md, "Start-up".
 */
final class NettyLog extends InternalLoggerFactory {
    private final PrintStream err;

    NettyLog(PrintStream err) {
        this.err = err;
    }

    static void install() {
        InternalLoggerFactory.setDefaultFactory(new NettyLog(System.err));
    }

    @Override
    protected InternalLogger newInstance(String name) {
        return new Logger(name, err);
    }

    /**
     * "{}" placeholders filled in order (arrays shown by content); a Throwable beyond them is
     * appended with its root cause.
     */
    static String format(String pattern, Object... args) {
        String p = String.valueOf(pattern);
        if (args == null) {
            return p;
        }
        StringBuilder b = new StringBuilder(p.length() + 32);
        int used = 0;
        int from = 0;
        for (int at = p.indexOf("{}"); at >= 0 && used < args.length; at = p.indexOf("{}", from)) {
            b.append(p, from, at).append(show(args[used++]));
            from = at + 2;
        }
        b.append(p, from, p.length());
        if (used < args.length && args[args.length - 1] instanceof Throwable t) {
            b.append(": ").append(describe(t));
        }
        return b.toString();
    }

    private static String show(Object o) {
        return o instanceof Object[] a ? java.util.Arrays.deepToString(a) : o instanceof Throwable t ? describe(t) : String.valueOf(o);
    }

    /** The exception and, when there is one, its root cause: what went wrong, on one line. */
    static String describe(Throwable t) {
        if (t == null) {
            return "null";
        }
        Throwable root = dev.biternet.common.cli.Causes.root(t);
        return root == t ? t.toString() : t + " (cause: " + root + ")";
    }

    private static final class Logger extends AbstractInternalLogger {
        private static final long serialVersionUID = 1L;
        private final transient PrintStream err;

        Logger(String name, PrintStream err) {
            super(name);
            this.err = err;
        }

        private void print(String level, String message) {
            err.println("biternet-get: " + level + ": netty: " + String.valueOf(message).replace('\r', ' ').replace('\n', ' '));
        }

        @Override public boolean isTraceEnabled() { return false; }
        @Override public void trace(String msg) { }
        @Override public void trace(String format, Object arg) { }
        @Override public void trace(String format, Object argA, Object argB) { }
        @Override public void trace(String format, Object... arguments) { }
        @Override public void trace(String msg, Throwable t) { }

        @Override public boolean isDebugEnabled() { return false; }
        @Override public void debug(String msg) { }
        @Override public void debug(String format, Object arg) { }
        @Override public void debug(String format, Object argA, Object argB) { }
        @Override public void debug(String format, Object... arguments) { }
        @Override public void debug(String msg, Throwable t) { }

        @Override public boolean isInfoEnabled() { return false; }
        @Override public void info(String msg) { }
        @Override public void info(String format, Object arg) { }
        @Override public void info(String format, Object argA, Object argB) { }
        @Override public void info(String format, Object... arguments) { }
        @Override public void info(String msg, Throwable t) { }

        @Override public boolean isWarnEnabled() { return true; }
        @Override public void warn(String msg) { print("warning", msg); }
        @Override public void warn(String format, Object arg) { print("warning", format(format, arg)); }
        @Override public void warn(String format, Object argA, Object argB) { print("warning", format(format, argA, argB)); }
        @Override public void warn(String format, Object... arguments) { print("warning", format(format, arguments)); }
        @Override public void warn(String msg, Throwable t) { print("warning", msg + ": " + describe(t)); }

        @Override public boolean isErrorEnabled() { return true; }
        @Override public void error(String msg) { print("error", msg); }
        @Override public void error(String format, Object arg) { print("error", format(format, arg)); }
        @Override public void error(String format, Object argA, Object argB) { print("error", format(format, argA, argB)); }
        @Override public void error(String format, Object... arguments) { print("error", format(format, arguments)); }
        @Override public void error(String msg, Throwable t) { print("error", msg + ": " + describe(t)); }
    }
}
