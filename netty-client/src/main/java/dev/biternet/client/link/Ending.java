package dev.biternet.client.link;

import dev.biternet.proto.Error;
import java.io.IOException;

/**
 * Why one connection ended, or is ending: one reason, the first given unless a later one says
 * more exactly why it closes (the server's Error, a drop, a retirement, another session);
 * whether the local file was at fault; whether the connection was dropped for pieces that failed
 * their hash; the server's error code; and the state stats show. Written on the connection's
 * event loop, read from any thread.
 */
final class Ending {
    private volatile String reason;
    private volatile boolean local;
    private volatile boolean dropped;
    private volatile Error.Code serverError;

    /** The connection closes for {@code why}, whatever was said before. */
    void because(String why) {
        reason = why;
    }

    /** The connection closes for {@code why}, unless a reason is known already. */
    void unlessKnown(String why) {
        if (reason == null) {
            reason = why;
        }
    }

    /** A failure: its message is the reason unless one is known; the file's fault if it was a local write. */
    void failed(Throwable cause) {
        if (reason == null) {
            reason = String.valueOf(cause.getMessage());
            local = cause instanceof LocalWriteException;
        }
    }

    /** The server closes the connection with {@code error}. */
    void serverSaid(Error error) {
        reason = "server: " + error.getMessage();
        serverError = error.getCode();
    }

    /** Dropped for pieces that failed their hash; true the first time only. */
    boolean drop(String why) {
        if (dropped) {
            return false;
        }
        dropped = true;
        reason = why;
        return true;
    }

    boolean dropped() {
        return dropped;
    }

    /** True if the local file could not be written. */
    boolean local() {
        return local;
    }

    /** The code of the Error frame the server closed with, or null. */
    Error.Code serverError() {
        return serverError;
    }

    /** Why it closed, once it has: the reason, or "closed". */
    String closedWith() {
        return reason == null ? "closed" : reason;
    }

    /** The failure an OpenSession still unanswered ends with. */
    IOException unanswered() {
        return new IOException(reason == null ? "connection closed" : reason);
    }

    /**
     * The state stats show: dropped, failed or closed once closed ({@code closed}); else waiting
     * (no channel yet: {@code dialed} false), standby or up.
     */
    String state(boolean closed, boolean dialed, boolean standby) {
        return dropped ? "dropped: " + reason
                : closed ? (reason == null ? "closed" : "failed: " + reason)
                : !dialed ? "waiting" : standby ? "standby" : "up";
    }
}
