package dev.biternet.server.security;

import java.nio.charset.StandardCharsets;

/**
 * The one place that renders text a client chose (a path, a link name) for the server's log
 * and its Error messages: control characters, line separators, quotes and backslashes escaped,
 * so one request is one log line that cannot pose as another; at most {@link #MAX_CHARS}
 * characters of it, then {@code …(N bytes)}, so a megabyte path is not a megabyte of log or
 * of answer; and never the served root's absolute path, which is none of the client's business.
 */
public final class UntrustedText {
    /** Characters of one untrusted field kept; the rest is counted, not shown. */
    public static final int MAX_CHARS = 200;
    /** Characters of a whole message around untrusted fields (the reason stays readable). */
    public static final int MAX_MESSAGE_CHARS = 1000;

    private UntrustedText() {}

    /** {@code s} for a key=value log field: in double quotes, escaped, bounded. */
    public static String quoted(String s) {
        return '"' + field(s) + '"';
    }

    /** {@code s} escaped and bounded, without quotes. */
    public static String field(String s) {
        return bounded(escape(s), MAX_CHARS, s);
    }

    /**
     * A message about a request for {@code path} (a refusal, an I/O error): the served root's
     * absolute path {@code root} removed, every occurrence of {@code path} bounded as a
     * {@link #field}, everything escaped, and the whole at most {@link #MAX_MESSAGE_CHARS}.
     */
    public static String message(String text, String path, String root) {
        String s = text;
        if (root != null && !root.isEmpty()) {
            s = s.replace(root + "/", "").replace(root, ".");
        }
        String escaped = escape(s);
        if (!path.isEmpty()) {
            escaped = escaped.replace(escape(path), field(path));
        }
        return bounded(escaped, MAX_MESSAGE_CHARS, s);
    }

    private static String bounded(String escaped, int max, String original) {
        if (escaped.length() <= max) {
            return escaped;
        }
        int end = max;
        if (Character.isHighSurrogate(escaped.charAt(end - 1))) {
            end--;
        }
        return escaped.substring(0, end) + "…(" + original.getBytes(StandardCharsets.UTF_8).length + " bytes)";
    }

    private static String escape(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            String e = switch (c) {
                case '\\' -> "\\\\";
                case '"' -> "\\\"";
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                default -> c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029'
                        ? String.format("\\u%04x", (int) c) : null;
            };
            if (e != null && b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (b != null) {
                if (e != null) {
                    b.append(e);
                } else {
                    b.append(c);
                }
            }
        }
        return b == null ? s : b.toString();
    }
}
