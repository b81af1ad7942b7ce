package dev.biternet.server.files;

import com.sun.jna.LastErrorException;
import dev.biternet.proto.Error;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The directory the server serves from, and the one place that turns a client's path into an
 * open file. A request path is relative, uses '/' as separator and may not contain "..", NUL or
 * backslashes. It is opened once, one component at a time from the root with {@code O_PATH} and
 * {@code O_NOFOLLOW}: a symbolic link is read and followed by hand only while it stays below the
 * root (one leading out is refused before its target is looked at, so the answer tells nothing
 * about files outside), and nothing is opened for reading until it is known to be a regular file
 * (a FIFO cannot make the open wait, a device is never opened). What was opened is checked
 * through its descriptor (a regular file, below the root, not on proc, sysfs or the like) and
 * every later read goes through that descriptor ({@link ServedFile}), so a name swapped during
 * or after the checks cannot change what is served. Refusals name the requested path, never the
 * root's.
 */
public final class ServedRoot {
    /** Longest request path, in UTF-8 bytes (Linux's PATH_MAX). */
    static final int MAX_PATH_BYTES = 4096;
    /** Symbolic links followed for one request at most (the kernel's own limit). */
    private static final int MAX_LINKS = 40;
    private static final String LINK_LEAVES = "a link leads outside the served root";
    private final Path root;
    /** The root's real path as a string, and with a trailing '/'. */
    private final String rootName;
    private final String rootPrefix;

    public ServedRoot(Path root) throws IOException {
        Posix.check();
        this.root = root.toRealPath();
        if (!Files.isDirectory(this.root)) {
            throw new IOException("root " + root + " is not a directory");
        }
        this.rootName = this.root.toString();
        this.rootPrefix = rootName.endsWith("/") ? rootName : rootName + "/";
    }

    public Path path() {
        return root;
    }

    /** Opens a request path as a regular file below the root, or says why not. */
    public ServedFile open(String requested) throws RequestException {
        checkSyntax(requested);
        Deque<String> todo = new ArrayDeque<>(segments(requested));
        Deque<Integer> dirs = new ArrayDeque<>(); // directories below the root, innermost first
        int rootFd;
        try {
            rootFd = Posix.openAt(Posix.AT_FDCWD, rootName, Posix.O_PATH | Posix.O_DIRECTORY | Posix.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw RequestException.ioError(requested, "the served root: " + Posix.describe(e));
        }
        int links = 0;
        try {
            while (!todo.isEmpty()) {
                String name = todo.pop();
                if (name.equals("..")) {
                    if (dirs.isEmpty()) {
                        throw forbidden(requested, LINK_LEAVES);
                    }
                    Posix.closeQuietly(dirs.pop());
                    continue;
                }
                int dir = dirs.isEmpty() ? rootFd : dirs.peek();
                boolean last = todo.isEmpty();
                int fd = -1;
                String target;
                try {
                    // O_PATH: nothing is opened for reading here (no FIFO waits, no device acts);
                    // O_NOFOLLOW: a link is this fd itself (last) or ENOTDIR (on the way).
                    fd = Posix.openAt(dir, name, Posix.O_PATH | Posix.O_NOFOLLOW | Posix.O_CLOEXEC
                            | (last ? 0 : Posix.O_DIRECTORY));
                    target = last ? Posix.readLinkAt(fd, "") : null;
                } catch (LastErrorException e) {
                    Posix.closeQuietly(fd);
                    fd = -1;
                    target = e.getErrorCode() == Posix.ENOTDIR || e.getErrorCode() == Posix.ELOOP
                            ? readLink(dir, name, requested) : null;
                    if (target == null) {
                        throw refusal(requested, e);
                    }
                }
                if (target == null) {
                    if (last) {
                        return checked(fd, requested);
                    }
                    dirs.push(fd);
                    continue;
                }
                Posix.closeQuietly(fd);
                if (++links > MAX_LINKS) {
                    throw forbidden(requested, "too many symbolic links");
                }
                if (target.startsWith("/")) {
                    if (!target.equals(rootName) && !target.startsWith(rootPrefix)) {
                        throw forbidden(requested, LINK_LEAVES);
                    }
                    dirs.forEach(Posix::closeQuietly);
                    dirs.clear();
                    target = target.length() <= rootPrefix.length() ? "" : target.substring(rootPrefix.length());
                }
                List<String> parts = segments(target);
                for (int i = parts.size() - 1; i >= 0; i--) {
                    todo.push(parts.get(i));
                }
            }
            throw forbidden(requested, "is a directory");
        } finally {
            dirs.forEach(Posix::closeQuietly);
            Posix.closeQuietly(rootFd);
        }
    }

    private static void checkSyntax(String requested) throws RequestException {
        if (requested.isEmpty()) {
            throw forbidden(requested, "empty path");
        }
        if (requested.startsWith("/") || requested.indexOf('\\') >= 0 || requested.indexOf('\0') >= 0) {
            throw forbidden(requested, "paths must be relative to the served root");
        }
        if (requested.length() > MAX_PATH_BYTES || requested.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw forbidden(requested, "longer than " + MAX_PATH_BYTES + " bytes");
        }
        for (String segment : requested.split("/", -1)) {
            if (segment.equals("..")) {
                throw forbidden(requested, "path leaves the served root");
            }
        }
    }

    /**
     * Checks what {@code fd} (just opened, owned here until returned) is, through the descriptor
     * alone: a regular file on a real file system, whose real path is below the root.
     */
    private ServedFile checked(int fd, String requested) throws RequestException {
        ServedFile file = null;
        try {
            BasicFileAttributes a = Files.readAttributes(Path.of("/proc/self/fd/" + fd), BasicFileAttributes.class);
            if (!a.isRegularFile()) {
                throw forbidden(requested, a.isDirectory() ? "is a directory" : "is not a regular file");
            }
            String pseudo = Posix.pseudoFileSystem(fd);
            if (pseudo != null) {
                throw forbidden(requested, "is on " + pseudo + ", a pseudo file system (its sizes are not its contents)");
            }
            int owned = fd;
            fd = -1; // adopt owns it now, and closes it if it fails
            file = ServedFile.adopt(owned);
            if (!file.version().path().startsWith(root)) {
                throw forbidden(requested, "path leaves the served root"); // a directory moved out while it was walked
            }
            ServedFile ok = file;
            file = null;
            return ok;
        } catch (IOException | LastErrorException e) {
            throw e instanceof IOException io ? RequestException.ioError(requested, io)
                    : RequestException.ioError(requested, Posix.describe((LastErrorException) e));
        } finally {
            Posix.closeQuietly(fd);
            if (file != null) {
                file.close();
            }
        }
    }

    private static String readLink(int dir, String name, String requested) throws RequestException {
        try {
            return Posix.readLinkAt(dir, name);
        } catch (LastErrorException e) {
            throw refusal(requested, e);
        }
    }

    /** The answer to a failed open: what a client may learn is only about names below the root. */
    private static RequestException refusal(String requested, LastErrorException e) {
        return switch (e.getErrorCode()) {
            case Posix.ENOENT, Posix.ENOTDIR -> new RequestException(Error.Code.NOT_FOUND, "no such file: " + requested);
            case Posix.ELOOP -> forbidden(requested, "too many symbolic links");
            default -> RequestException.ioError(requested, Posix.describe(e));
        };
    }

    private static List<String> segments(String path) {
        List<String> out = new ArrayList<>();
        for (String s : path.split("/")) {
            if (!s.isEmpty() && !s.equals(".")) {
                out.add(s);
            }
        }
        return out;
    }

    private static RequestException forbidden(String requested, String why) {
        return new RequestException(Error.Code.FORBIDDEN_PATH, "refused path '" + requested + "': " + why);
    }
}
