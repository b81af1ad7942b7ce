package dev.biternet.client.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One download per output: an exclusive lock on {@code OUT.part.lock}, taken before anything
 * reads or writes {@code OUT.part} or its state and held until the file is renamed into place
 * (or the run ends). A second biternet-get with the same {@code -o} is refused and touches
 * nothing: two runs on one part file truncate and overwrite each other's pieces, and the one
 * whose pieces were verified in memory would rename the other's bytes into place.
 *
 * <p>The lock is a file of its own, not {@code OUT.part}: a POSIX record lock is dropped when the
 * process closes any descriptor of the file, and {@code OUT.part} is opened and closed more than
 * once. The file holds the owner's pid, for the refusal's message; the owner deletes it before
 * letting go. A run that acquired a lock on a file deleted meanwhile (by the run that held it)
 * finds the name no longer leads to it, and tries again.
 */
public final class OutputLock implements AutoCloseable {
    private static final int ATTEMPTS = 5;
    /**
     * Lock files held in this JVM. Checked before opening one: closing a second descriptor of a
     * lock file this process holds would drop the lock (POSIX), so a second download in the same
     * JVM (tests, embedding) must not even open it.
     */
    private static final java.util.Set<Path> HELD = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /** Another biternet-get holds the lock (pid 0: unknown). */
    public static final class Busy extends IOException {
        private static final long serialVersionUID = 1L;
        private final long pid;

        Busy(Path out, long pid) {
            super(out + " is being downloaded by another biternet-get" + (pid > 0 ? " (pid " + pid + ")" : "")
                    + "; wait for it to finish or stop it");
            this.pid = pid;
        }

        public long pid() {
            return pid;
        }
    }

    public static Path pathFor(Path out) {
        return out.resolveSibling(out.getFileName() + ".part.lock");
    }

    /** Takes the lock for {@code out}, or throws {@link Busy} if another run holds it. */
    public static OutputLock acquire(Path out) throws IOException {
        Path p = pathFor(out).toAbsolutePath().normalize();
        if (!HELD.add(p)) {
            throw new Busy(out, ProcessHandle.current().pid());
        }
        try {
            return acquire(out, p);
        } catch (IOException | RuntimeException e) {
            HELD.remove(p);
            throw e;
        }
    }

    private static OutputLock acquire(Path out, Path p) throws IOException {
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            LocalFiles.requireOwnFile(p);
            FileChannel c = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
            FileLock l = null;
            try {
                try {
                    l = c.tryLock();
                } catch (OverlappingFileLockException e) {
                    throw new Busy(out, ProcessHandle.current().pid());
                }
                if (l == null) {
                    throw new Busy(out, readPid(c));
                }
                java.nio.file.attribute.BasicFileAttributes a = LocalFiles.lstat(p);
                // Only lock channels open lock files, so a file at the name that this process
                // holds open is this channel's.
                if (a != null && a.fileKey() != null && LocalFiles.isStill(p, a.fileKey())) {
                    c.truncate(0);
                    c.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
                    return new OutputLock(p, c, l);
                }
                // The run before let go and deleted the file after this one opened it: try the name again.
            } catch (IOException | RuntimeException e) {
                c.close();
                throw e;
            }
            c.close();
        }
        throw new IOException(p + ": the lock file keeps being replaced; rerun");
    }

    private static long readPid(FileChannel c) {
        try {
            ByteBuffer b = ByteBuffer.allocate(32);
            c.read(b, 0);
            String text = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).strip();
            return Long.parseLong(text);
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    /** Deletes the lock file and lets go of the lock. */
    @Override
    public void close() throws IOException {
        try {
            Files.deleteIfExists(path);
        } finally {
            try {
                lock.release();
            } finally {
                channel.close();
                HELD.remove(path);
            }
        }
    }
}
