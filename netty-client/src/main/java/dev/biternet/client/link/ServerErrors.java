package dev.biternet.client.link;

import dev.biternet.proto.Error;

/**
 * The one rule for a server's {@code Error}: is it final, or is the server asked again? Used
 * wherever the client meets one (opening the session, a link's connection closed with an error,
 * re-opening a session the server forgot), so the answer cannot differ between them. It is the
 * rule of docs/PROTOCOL.md, section 7.
 */
public final class ServerErrors {
    private ServerErrors() {}

    /**
     * True if asking again gets the same answer, so the download stops (exit 6) and
     * {@code OUT.part} is not renamed: the file is missing, forbidden, unreadable or changed,
     * the client is not let in, or the two sides do not speak the same protocol version.
     * Everything else is asked again within {@code --retry-time}: a busy server
     * ({@code LIMIT_EXCEEDED}), one on its way down or restarting ({@code SHUTTING_DOWN}), a
     * forgotten session ({@code UNKNOWN_SESSION}: re-opened) and one connection's trouble
     * ({@code BAD_FRAME}, {@code BAD_STATE}, {@code INTERNAL}, {@code UNKNOWN}).
     */
    public static boolean isFinal(Error.Code code) {
        return switch (code) {
            case NOT_FOUND, FORBIDDEN_PATH, IO_ERROR, FILE_CHANGED, UNAUTHORIZED, UNSUPPORTED_VERSION -> true;
            case UNKNOWN, BAD_FRAME, BAD_STATE, UNKNOWN_SESSION, LIMIT_EXCEEDED, INTERNAL, SHUTTING_DOWN, UNRECOGNIZED -> false;
        };
    }
}
