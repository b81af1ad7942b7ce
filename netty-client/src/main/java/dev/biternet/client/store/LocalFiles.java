package dev.biternet.client.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * How biternet-get touches the files beside its output ({@code OUT}, {@code OUT.part} and the
 * state, temporary and lock files): it never follows a symbolic link at a path of its own, never
 * opens, writes into or renames over anything but a regular file (or nothing), and checks that
 * the file it renames into place is the one it wrote. Every failure it reports names the file
 * and the system's reason ({@link #describe}).
 */
public final class LocalFiles {
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};

    private LocalFiles() {}

    /** A file is not what biternet-get may use; the message is the whole line for the user. */
    public static final class Refused extends IOException {
        private static final long serialVersionUID = 1L;

        public Refused(String message) {
            super(message);
        }
    }

    /** What is at {@code p} itself (a link is not followed), or null if nothing is. */
    static BasicFileAttributes lstat(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Refuses with one line unless {@code p} is a regular file or does not exist. */
    public static void requireRegularOrAbsent(Path p, String advice) throws IOException {
        BasicFileAttributes a = lstat(p);
        if (a != null && !a.isRegularFile()) {
            throw new Refused(p + " is " + kind(p, a) + ", not a regular file" + advice);
        }
    }

    /** "a symbolic link", "a directory", "a character device", ... for what {@code a} describes. */
    static String kind(Path p, BasicFileAttributes a) {
        if (a.isSymbolicLink()) {
            return "a symbolic link";
        }
        if (a.isDirectory()) {
            return "a directory";
        }
        try {
            int type = (Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW) & 0170000;
            switch (type) {
                case 0020000: return "a character device";
                case 0060000: return "a block device";
                case 0010000: return "a FIFO";
                case 0140000: return "a socket";
                default: break;
            }
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            // no unix view: the generic word will do
        }
        return "a special file";
    }

    /**
     * Creates {@code p} as a new, empty regular file and opens it: a regular file left there
     * (by an earlier run) is removed first, anything else is refused. {@code CREATE_NEW} never
     * follows a link nor opens what someone put there between the check and the open.
     */
    public static FileChannel createNew(Path p, OpenOption... options) throws IOException {
        requireRegularOrAbsent(p, ownAdvice(p));
        Files.deleteIfExists(p);
        return FileChannel.open(p, with(options, StandardOpenOption.CREATE_NEW));
    }

    /**
     * Opens the existing regular file {@code p}, never through a link, and not if it has other
     * names (a hard link planted there would have writes land in someone else's file).
     */
    public static FileChannel openExisting(Path p, OpenOption... options) throws IOException {
        requireOwnFile(p);
        return FileChannel.open(p, with(options, LinkOption.NOFOLLOW_LINKS));
    }

    /** Refuses unless {@code p} is absent or a regular file with no other name. */
    static void requireOwnFile(Path p) throws IOException {
        requireRegularOrAbsent(p, ownAdvice(p));
        try {
            int names = (Integer) Files.getAttribute(p, "unix:nlink", NOFOLLOW);
            if (names > 1) {
                throw new Refused(p + " has " + names + " names (hard links)" + ownAdvice(p));
            }
        } catch (NoSuchFileException | UnsupportedOperationException | IllegalArgumentException e) {
            // absent, or no unix view to ask
        }
    }

    private static String ownAdvice(Path p) {
        return "; biternet-get does not write through links or into special files at its own paths:"
                + " remove " + p + " and rerun";
    }

    private static java.util.Set<OpenOption> with(OpenOption[] options, OpenOption extra) {
        java.util.Set<OpenOption> all = new java.util.HashSet<>(List.of(options));
        all.add(extra);
        return all;
    }

    /**
     * The identity (device and inode) of the regular file at {@code p}, checked to be a file this
     * process holds open: called right after opening {@code p}, it fails if the name was pointed
     * elsewhere between the open and the check.
     */
    public static Object openedKey(Path p) throws IOException {
        BasicFileAttributes a = lstat(p);
        if (a == null || !a.isRegularFile() || a.fileKey() == null || !heldOpen(a.fileKey())) {
            throw replacedWhileOpening(p);
        }
        return a.fileKey();
    }

    /** The refusal for a name that led elsewhere between opening it and checking what was opened. */
    static Refused replacedWhileOpening(Path p) {
        return new Refused(p + " was replaced while biternet-get opened it; rerun");
    }

    /**
     * True if {@code p} is still the regular file {@code key} names, and this process holds it
     * open (the channel it wrote through): what a rename of {@code p} would put in place.
     */
    public static boolean isStill(Path p, Object key) throws IOException {
        BasicFileAttributes a = lstat(p);
        return a != null && a.isRegularFile() && key.equals(a.fileKey()) && heldOpen(key);
    }

    /**
     * Set (true) only by a load driver running a thousand downloads in one process (LoadTest):
     * there the check below stats thousands of descriptors each time (tens of ms), where a client
     * holds a few dozen (docs/DESIGN.md, issue 20, "Load against 3 nodes").
     */
    public static final String SKIP_HELD_OPEN = "biternet.load.skipHeldOpenCheck";

    /**
     * True if one of this process's open descriptors refers to the file {@code key} names: a
     * stat through {@code /proc/self/fd/N} is an fstat of descriptor N. Where there is no
     * {@code /proc}, the path's own identity is all there is to compare, and this says true.
     */
    static boolean heldOpen(Object key) {
        if (Boolean.getBoolean(SKIP_HELD_OPEN)) {
            return true;
        }
        List<Path> fds = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            s.forEach(fds::add);
        } catch (IOException | UnsupportedOperationException e) {
            return true;
        }
        for (Path fd : fds) {
            try {
                if (key.equals(Files.readAttributes(fd, BasicFileAttributes.class).fileKey())) {
                    return true;
                }
            } catch (IOException e) {
                // closed meanwhile (the directory stream's own descriptor, among others)
            }
        }
        return false;
    }

    /**
     * One line for an I/O failure: the file (or files) it concerns and the system's reason, as
     * in {@code x.part.state.tmp: No such file or directory}. Java leaves the reason out of some
     * exceptions' messages (it is their class); it is put back here. {@code file} is named when
     * the exception names none (a failed write on an open channel).
     */
    public static String describe(Path file, IOException e) {
        if (e instanceof Refused) {
            return e.getMessage();
        }
        if (e instanceof FileSystemException f && f.getFile() != null) {
            String files = f.getOtherFile() == null ? f.getFile() : f.getFile() + " -> " + f.getOtherFile();
            return files + ": " + reason(f);
        }
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return file == null ? message : file + ": " + message;
    }

    /** The system's words for the failures Java reports by class alone. */
    private static final List<java.util.Map.Entry<Class<? extends FileSystemException>, String>> REASONS = List.of(
            java.util.Map.entry(NoSuchFileException.class, "No such file or directory"),
            java.util.Map.entry(AccessDeniedException.class, "Permission denied"),
            java.util.Map.entry(FileAlreadyExistsException.class, "File exists"),
            java.util.Map.entry(DirectoryNotEmptyException.class, "Directory not empty"),
            java.util.Map.entry(NotDirectoryException.class, "Not a directory"),
            java.util.Map.entry(FileSystemLoopException.class, "Too many levels of symbolic links"));

    private static String reason(FileSystemException f) {
        if (f.getReason() != null) {
            return f.getReason();
        }
        for (java.util.Map.Entry<Class<? extends FileSystemException>, String> r : REASONS) {
            if (r.getKey().isInstance(f)) {
                return r.getValue();
            }
        }
        return f.getClass().getSimpleName();
    }
}
