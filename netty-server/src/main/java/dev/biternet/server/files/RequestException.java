package dev.biternet.server.files;

import dev.biternet.proto.Error;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;

/** A request the server refuses, with the code and one-line reason the client is told. */
public final class RequestException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Error.Code code;

    public RequestException(Error.Code code, String message) {
        super(message);
        this.code = code;
    }

    /**
     * An {@code IO_ERROR} for the file a client asked for, named as it asked (never by the
     * server's own path) and with the system's reason. The path is left as the client sent it:
     * the session registry renders the whole message for the wire and the log
     * ({@code UntrustedText.message}: escaped, bounded, without the root).
     */
    public static RequestException ioError(String requested, String reason) {
        return new RequestException(Error.Code.IO_ERROR, "cannot open '" + requested + "': " + reason);
    }

    /** {@link #ioError(String, String)} with the reason an exception gives, without the path it may carry. */
    public static RequestException ioError(String requested, IOException e) {
        String reason = e instanceof FileSystemException fse ? fse.getReason() : e.getMessage();
        if (reason == null) {
            reason = e instanceof AccessDeniedException ? "permission denied" : e.getClass().getSimpleName();
        }
        return ioError(requested, reason);
    }

    public Error.Code code() {
        return code;
    }
}
