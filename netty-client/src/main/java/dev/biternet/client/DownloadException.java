package dev.biternet.client;

import dev.biternet.client.store.LocalFiles;
import java.io.IOException;
import java.nio.file.Path;

/** A download failed in a way the user is told in one line; carries the process exit code. */
public final class DownloadException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    public DownloadException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public DownloadException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    /** A local file failure: the file, the system's reason, and what was being done ({@code file} may be null). */
    static DownloadException localIo(String doing, Path file, IOException e) {
        return new DownloadException(ExitCodes.LOCAL_IO, e instanceof LocalFiles.Refused ? e.getMessage()
                : doing + ": " + LocalFiles.describe(file, e));
    }

    public int exitCode() {
        return exitCode;
    }
}
