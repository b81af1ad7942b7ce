package dev.biternet.server.hostile;

import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** A real server on loopback for the file-system hostile tests, with the special files they make. */
abstract class FilesServerBase extends ServerBase {
    /** Creates a FIFO at {@code at} (the C library's mkfifo, fast enough to race with). */
    static Path mkfifo(Path at) throws IOException {
        int rc = Function.getFunction(Platform.C_LIBRARY_NAME, "mkfifo").invokeInt(new Object[] {at.toString(), 0600});
        if (rc != 0) {
            throw new IOException("mkfifo " + at + ": errno " + Native.getLastError());
        }
        return at;
    }

    /** A sparse file of {@code size} bytes: cheap on disk, as slow to hash as a real one. */
    static void sparse(Path file, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(size);
        }
    }
}
