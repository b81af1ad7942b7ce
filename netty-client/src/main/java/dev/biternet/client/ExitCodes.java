package dev.biternet.client;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Process exit codes of biternet-get and what each means: {@link #MEANINGS} is the list its
 * --help prints; the README's "Exit codes" table says the same.
 */
public final class ExitCodes {
    public static final int OK = 0;
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
    public static final Map<String, String> MEANINGS = meanings();

    private static Map<String, String> meanings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("" + OK, "the file is complete and verified");
        m.put("" + USAGE, "usage error (bad option or URL, unknown or unusable --iface, -o not a regular file)");
        m.put("" + NETWORK, "network failure (cannot connect, every link lost or the server busy for --retry-time)");
        m.put("" + INTEGRITY, "integrity failure (the data does not match the server's hashes)");
        m.put("" + LOCAL_IO, "local I/O failure (cannot write the output, disk full; rerun to resume)");
        m.put("" + SERVER_REFUSED, "the server refused (no such file, path outside its root, the file changed on the server)");
        m.put("" + ROUTING, "--doctor found a link whose traffic does not leave through its interface");
        m.put("" + BUSY, "another biternet-get is downloading to the same output (nothing was touched)");
        return java.util.Collections.unmodifiableMap(m);
    }

    private ExitCodes() {}
}
