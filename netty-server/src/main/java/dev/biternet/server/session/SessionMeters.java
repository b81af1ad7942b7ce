package dev.biternet.server.session;

import dev.biternet.server.security.Capacity;

/**
 * What sessions count for the operator: bytes sent, requests refused by a limit, how sessions
 * end, and (as a {@link PieceAllocator.Listener}) how pieces are handed out. The server's
 * {@code metrics.ServerMetrics} implements it; declared here so that sessions report without
 * depending on the metrics package, which depends on this one.
 */
public interface SessionMeters extends PieceAllocator.Listener {
    /** Counts nothing (tests, and registries without an operator). */
    SessionMeters NONE = new SessionMeters() { };

    /** Registers the server-wide session limits and what is held of them. */
    default void bindSessionLimits(Capacity sessions, Capacity memory) { }

    /** A request refused with LIMIT_EXCEEDED because of {@code limit}. */
    default void refused(String limit) { }

    /** {@code n} bytes of piece payload sent. */
    default void bytesSent(long n) { }

    /** A session ended with {@code result} after sending {@code bytes} of payload. */
    default void sessionClosed(String result, long bytes) { }
}
