package dev.biternet.server.session;

/**
 * The store that holds sessions shared by a cluster's nodes failed: unreachable, or (if
 * {@link #lost()}) it no longer has this session's state (it restarted empty, or the state
 * expired). The links are told in one line and closed; a lost session is forgotten here, so the
 * client's next open finds none and opens it again.
 */
public final class StoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final boolean lost;

    public StoreException(String message, boolean lost, Throwable cause) {
        super(message, cause);
        this.lost = lost;
    }

    public boolean lost() {
        return lost;
    }
}
