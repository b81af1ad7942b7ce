package dev.biternet.client.link;

import java.io.IOException;

/** Writing to the local file failed (disk full, I/O error): not the link's fault, and it ends the download. */
public final class LocalWriteException extends IOException {
    private static final long serialVersionUID = 1L;

    LocalWriteException(String message, IOException cause) {
        super(message, cause);
    }
}
