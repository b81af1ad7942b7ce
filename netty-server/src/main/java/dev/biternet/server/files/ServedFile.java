package dev.biternet.server.files;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A regular file below the served root, held by an {@code O_PATH} descriptor: what {@link
 * ServedRoot#open} checked is what every later read uses. Readers get their own channels on this
 * very file by opening {@code /proc/self/fd/N} (the file, not its name, whatever has been renamed
 * over it since), and the hasher its own duplicate descriptor; each owner closes what it was given.
 */
public final class ServedFile implements AutoCloseable {
    private final int fd;
    private final FileVersion version;
    private boolean closed;

    private ServedFile(int fd, FileVersion version) {
        this.fd = fd;
        this.version = version;
    }

    /**
     * Takes ownership of {@code fd} (open, not yet checked): reads its attributes through the
     * descriptor, with the real path it has now. Closes it on failure.
     */
    static ServedFile adopt(int fd) throws IOException {
        try {
            Path self = Path.of("/proc/self/fd/" + fd);
            Path real = Files.readSymbolicLink(self);
            return new ServedFile(fd, versionOf(self, real));
        } catch (IOException | RuntimeException e) {
            Posix.closeQuietly(fd);
            throw e;
        }
    }

    /** The version this file had when it was opened (its real path then, size, times, device and inode). */
    public FileVersion version() {
        return version;
    }

    /** Its size, times, device and inode now, read through the descriptor. */
    public FileVersion current() throws IOException {
        return versionOf(self(), version.path());
    }

    /** A new read-only channel on this file (not on its name), for the caller to close. */
    public FileChannel channel() throws IOException {
        return FileChannel.open(self(), StandardOpenOption.READ);
    }

    /** Another descriptor on this file, for another owner to close. */
    public ServedFile duplicate() throws IOException {
        try {
            return new ServedFile(Posix.dup(fd), version);
        } catch (com.sun.jna.LastErrorException e) {
            throw new IOException(Posix.describe(e));
        }
    }

    private Path self() throws IOException {
        if (closed) {
            throw new IOException("file closed");
        }
        return Path.of("/proc/self/fd/" + fd);
    }

    private static FileVersion versionOf(Path self, Path real) throws IOException {
        return FileVersion.read(self, real);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Posix.closeQuietly(fd);
        }
    }
}
