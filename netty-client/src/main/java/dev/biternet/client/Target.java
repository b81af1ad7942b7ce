package dev.biternet.client;

import java.net.URI;
import java.net.URISyntaxException;

/** A parsed {@code biternet://host[:port]/path} address; IPv6 hosts go in brackets. */
public record Target(String host, int port, String path) {
    public static final int DEFAULT_PORT = 7420;

    public static Target parse(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not a biternet URL: " + url + " (" + e.getReason() + ")");
        }
        if (!"biternet".equalsIgnoreCase(uri.getScheme())) {
            throw new IllegalArgumentException("not a biternet URL: " + url + " (expected biternet://host:port/path or"
                    + " an HTTP mirror's http[s]://host:port/path)");
        }
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("no host in " + url);
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        String path = uri.getPath();
        if (path == null || path.length() <= 1) {
            throw new IllegalArgumentException("no file path in " + url);
        }
        if (path.endsWith("/")) {
            throw new IllegalArgumentException("no file name in " + url + " (it ends in /; name a file)");
        }
        return new Target(host, uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(), path.substring(1));
    }

    /** The file name part of the path, for a default output name. */
    public String fileName() {
        int slash = path.lastIndexOf('/');
        return path.substring(slash + 1);
    }
}
