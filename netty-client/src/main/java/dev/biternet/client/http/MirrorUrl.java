package dev.biternet.client.http;

import java.net.URI;
import java.net.URISyntaxException;

/**
 * An {@code http://} or {@code https://} address of a file on a plain web server (a mirror):
 * what a connection dials, the name its certificate must carry, and the request target.
 * Redirects resolve against it ({@link #resolve}).
 */
public record MirrorUrl(boolean tls, String host, int port, String target) {
    /** True if {@code url} names an HTTP(S) mirror rather than a biternet server. */
    public static boolean isHttp(String url) {
        String u = url.toLowerCase(java.util.Locale.ROOT);
        return u.startsWith("http://") || u.startsWith("https://");
    }

    public static MirrorUrl parse(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not an HTTP URL: " + url + " (" + e.getReason() + ")");
        }
        return of(uri, url);
    }

    private static MirrorUrl of(URI uri, String text) {
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new IllegalArgumentException("not an HTTP URL: " + text + " (expected http://HOST[:PORT]/PATH)");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("no host in " + text);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String path = uri.getRawPath();
        if (path == null || path.length() <= 1 || path.endsWith("/")) {
            throw new IllegalArgumentException("no file name in " + text + " (name a file)");
        }
        boolean tls = scheme.equals("https");
        int port = uri.getPort() < 0 ? (tls ? 443 : 80) : uri.getPort();
        return new MirrorUrl(tls, host, port, uri.getRawQuery() == null ? path : path + "?" + uri.getRawQuery());
    }

    /**
     * Where a redirect's {@code Location} leads from here (it may be relative). A redirect from
     * https to plain http is refused: it would give up the certificate check the user asked for.
     */
    public MirrorUrl resolve(String location) {
        URI next;
        try {
            next = toUri().resolve(new URI(location.trim()));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new IllegalArgumentException("a redirect to an unreadable Location: " + location);
        }
        MirrorUrl to = of(next, next.toString());
        if (tls && !to.tls) {
            throw new IllegalArgumentException("refused a redirect from https to plain http (" + next + ")");
        }
        return to;
    }

    /** The Host header's value. */
    public String hostHeader() {
        String h = host.indexOf(':') >= 0 ? "[" + host + "]" : host;
        return port == (tls ? 443 : 80) ? h : h + ":" + port;
    }

    /**
     * The file name at the end of the decoded path, for a default output name (after the last
     * slash, a %2F included, so never a directory); refused if it is no name ("..", empty).
     */
    public String fileName() {
        String path = toUri().getPath();
        String name = path.substring(path.lastIndexOf('/') + 1);
        if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("no usable file name in " + this + "; name the output with -o");
        }
        return name;
    }

    private URI toUri() {
        return URI.create((tls ? "https://" : "http://") + hostHeader() + target);
    }

    @Override
    public String toString() {
        return toUri().toString();
    }
}
