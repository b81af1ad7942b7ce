package dev.biternet.client;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The plain download command lines, read without picocli: building picocli's model and parsing
 * with it takes 45-60 ms of a fresh JVM (its code runs interpreted the first time), and every
 * download paid that before its first connect. This reads only the forms a download is
 * normally given ({@code --iface X}, {@code --iface=X}, {@code -o F}, {@code --output F},
 * {@code --output=F}, the flags {@code --json -v --verbose -q --quiet --verify-disk}, the two
 * timeouts as plain digits, one URL) and gives up on anything else: help, version, the other
 * options, clustered or attached short options, {@code @argfiles}, {@code --}, a value that
 * looks like an option, an option given twice, a URL that does not parse. Picocli then reads
 * the line as before, with its messages and usage for every error; so a line this accepts
 * means to picocli exactly what it means here ({@code QuickArgsTest} checks that against
 * picocli over generated command lines), and every other line behaves as it always did.
 */
final class QuickArgs {
    /** A download's options, as picocli would have set them. */
    record Line(String url, List<String> ifaces, Path output, boolean json, boolean verbose, boolean quiet,
                boolean verifyDisk, int connectTimeout, int retryTime) {}

    private static final java.util.Set<String> FLAGS = java.util.Set.of("--json", "--verbose", "--quiet", "--verify-disk");

    private QuickArgs() {}

    /** The download {@code args} ask for, or null when picocli must read them. */
    static Line parse(String[] args) {
        for (Object key : System.getProperties().keySet()) {
            if (key instanceof String k && k.startsWith("picocli.")) {
                return null; // picocli's own switches (picocli.trimQuotes, ...) change how it reads a line
            }
        }
        String url = null;
        List<String> ifaces = new ArrayList<>();
        java.util.Map<String, String> single = new java.util.HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String name = a;
            String value = null;
            if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
            } else if (!a.startsWith("-")) {
                if (url != null || a.isEmpty() || a.charAt(0) == '@') {
                    return null; // a second positional is an error; @FILE is an argument file
                }
                url = a;
                continue;
            }
            String option = canonical(name);
            if (option == null) {
                return null;
            }
            if (FLAGS.contains(option)) {
                if (value != null || single.put(option, "true") != null) {
                    return null;
                }
                continue;
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    return null;
                }
                value = args[++i];
            }
            if (value.isEmpty() || value.charAt(0) == '-' || value.charAt(0) == '@') {
                return null;
            }
            if (option.equals("--iface")) {
                ifaces.add(value);
            } else if (single.put(option, value) != null) {
                return null; // picocli: "option should be specified only once"
            }
        }
        if (url == null) {
            return null;
        }
        try {
            Target.parse(url);
            String output = single.get("--output");
            Integer connectTimeout = digits(single.getOrDefault("--connect-timeout", "10"));
            Integer retryTime = digits(single.getOrDefault("--retry-time", "" + Download.DEFAULT_RETRY_SECONDS));
            if (connectTimeout == null || retryTime == null) {
                return null;
            }
            return new Line(url, ifaces, output == null ? null : Path.of(output), single.containsKey("--json"),
                    single.containsKey("--verbose"), single.containsKey("--quiet"), single.containsKey("--verify-disk"),
                    connectTimeout, retryTime);
        } catch (IllegalArgumentException e) { // InvalidPathException too
            return null;
        }
    }

    /** The long name of an option this reads, or null. */
    private static String canonical(String name) {
        return switch (name) {
            case "-o", "--output" -> "--output";
            case "-v", "--verbose" -> "--verbose";
            case "-q", "--quiet" -> "--quiet";
            case "--iface", "--json", "--verify-disk", "--connect-timeout", "--retry-time" -> name;
            default -> null;
        };
    }

    /** A plain decimal of at most 9 digits, or null. */
    private static Integer digits(String s) {
        if (s.length() > 9) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return null;
            }
        }
        return Integer.parseInt(s);
    }
}
