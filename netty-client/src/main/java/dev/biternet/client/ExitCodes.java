package dev.biternet.client;

import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.ParameterException;

/**
 * Process exit codes of biternet-get and what each means, the one place they are written:
 * {@link #MEANINGS} is the list its --help prints (the README's "Exit codes" table says the
 * same, checked by a test), and {@link #of} maps what ended a command to its code (picocli's
 * exit code exception mapper, and the quick path's).
 */
public final class ExitCodes {
    public static final int OK = 0;
    /** An exception nobody expected: a bug, reported with its stack trace (not in --help's list). */
    public static final int BUG = 1;
    public static final int USAGE = 2;
    public static final int NETWORK = 3;
    public static final int INTEGRITY = 4;
    public static final int LOCAL_IO = 5;
    public static final int SERVER_REFUSED = 6;
    /** --doctor: a link's traffic would not leave through its interface. */
    public static final int ROUTING = 7;
    /** Another biternet-get is downloading to the same output; nothing was touched. */
    public static final int BUSY = 8;

    /** Each code and its meaning, in order, as --help lists them. */
    public static final Map<String, String> MEANINGS = meanings(
            Map.entry(OK, "the file is complete and verified (from HTTP mirrors without --checksum: complete, not verified)"),
            Map.entry(USAGE, "usage error (bad option or URL, unknown or unusable --iface, -o not a regular file)"),
            Map.entry(NETWORK, "network failure (cannot connect, every link lost or the server busy for --retry-time)"),
            Map.entry(INTEGRITY, "integrity failure (the data does not match the server's hashes or --checksum)"),
            Map.entry(LOCAL_IO, "local I/O failure (cannot write the output, disk full; rerun to resume)"),
            Map.entry(SERVER_REFUSED, "the server refused (no such file, path outside its root, the file changed on the server;"
                    + " an HTTP mirror's 4xx, or every mirror dropped)"),
            Map.entry(ROUTING, "--doctor found a link whose traffic does not leave through its interface"),
            Map.entry(BUSY, "another biternet-get is downloading to the same output (nothing was touched)"));

    private ExitCodes() {}

    /** The exit code of a command that ended with {@code t}. */
    public static int of(Throwable t) {
        if (t instanceof DownloadException e) {
            return e.exitCode();
        }
        return t instanceof ParameterException ? USAGE : BUG;
    }

    /**
     * The name of {@code code} for programs (--json): its constant's name here in lower case
     * ({@code network}, {@code server_refused}), or {@code unknown}.
     */
    public static String name(int code) {
        for (java.lang.reflect.Field f : ExitCodes.class.getFields()) {
            try {
                if (f.getType() == int.class && java.lang.reflect.Modifier.isStatic(f.getModifiers()) && f.getInt(null) == code) {
                    return f.getName().toLowerCase(java.util.Locale.ROOT);
                }
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }
        return "unknown";
    }

    /** picocli's exit code list: each code as its key, in order. */
    @SafeVarargs
    private static Map<String, String> meanings(Map.Entry<Integer, String>... codes) {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<Integer, String> c : codes) {
            m.put(c.getKey().toString(), c.getValue());
        }
        return java.util.Collections.unmodifiableMap(m);
    }
}
