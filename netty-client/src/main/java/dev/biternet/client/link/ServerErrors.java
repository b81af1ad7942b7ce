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
     * True if asking again gets the same answer (the file is missing, forbidden, unreadable or
     * changed, the client is not let in, the two sides speak different protocol versions): the
     * download stops (exit 6) and {@code OUT.part} is not renamed. Everything else is asked
     * again within {@code --retry-time}. docs/PROTOCOL.md section 7 lists both sides.
     */
    public static boolean isFinal(Error.Code code) {
        return switch (code) {
            case NOT_FOUND, FORBIDDEN_PATH, IO_ERROR, FILE_CHANGED, UNAUTHORIZED, UNSUPPORTED_VERSION -> true;
            case UNKNOWN, BAD_FRAME, BAD_STATE, UNKNOWN_SESSION, LIMIT_EXCEEDED, INTERNAL, SHUTTING_DOWN, UNRECOGNIZED -> false;
        };
    }
}
