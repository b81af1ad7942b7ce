package dev.biternet.server.files;

import dev.biternet.proto.Error;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * The directory the server serves from, and the one place that turns a client's path into a
 * file. A request path is relative, uses '/' as separator and may not contain "..", empty
 * segments' tricks, NUL or backslashes; after resolving symlinks the file must still lie below
 * the root, and it must be a regular file (no directories, FIFOs or devices).
 */
public final class ServedRoot {
    private final Path root;

    public ServedRoot(Path root) throws IOException {
        this.root = root.toRealPath();
        if (!Files.isDirectory(this.root)) {
            throw new IOException("root " + root + " is not a directory");
        }
    }

    public Path path() {
        return root;
    }

    /** Resolves a request path to a regular file below the root, or says why not. */
    public Path resolve(String requested) throws RequestException {
        if (requested.isEmpty()) {
            throw forbidden(requested, "empty path");
        }
        if (requested.startsWith("/") || requested.indexOf('\\') >= 0 || requested.indexOf('\0') >= 0) {
            throw forbidden(requested, "paths must be relative to the served root");
        }
        for (String segment : requested.split("/", -1)) {
            if (segment.equals("..")) {
                throw forbidden(requested, "path leaves the served root");
            }
        }
        Path real;
        try {
            Path candidate = root.resolve(requested).normalize();
            if (!candidate.startsWith(root)) {
                throw forbidden(requested, "path leaves the served root");
            }
            real = candidate.toRealPath();
        } catch (NoSuchFileException e) {
            throw new RequestException(Error.Code.NOT_FOUND, "no such file: " + printable(requested));
        } catch (InvalidPathException e) {
            throw forbidden(requested, "invalid path");
        } catch (IOException e) {
            throw new RequestException(Error.Code.IO_ERROR, "cannot open " + printable(requested) + ": " + e.getMessage());
        }
        if (!real.startsWith(root)) {
            throw forbidden(requested, "a link leads outside the served root");
        }
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new RequestException(Error.Code.IO_ERROR, "cannot read " + printable(requested) + ": " + e.getMessage());
        }
        if (!attrs.isRegularFile()) {
            throw forbidden(requested, attrs.isDirectory() ? "is a directory" : "is not a regular file");
        }
        return real;
    }

    private static RequestException forbidden(String requested, String why) {
        return new RequestException(Error.Code.FORBIDDEN_PATH, "refused path '" + printable(requested) + "': " + why);
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 200));
        for (int i = 0; i < s.length() && i < 200; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return b.toString();
    }
}
