package dev.biternet.client;

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

    public int exitCode() {
        return exitCode;
    }
}
