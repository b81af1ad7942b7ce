package dev.biternet.client;

/**
 * When to ask a biternet server again for the piece digests a download still lacks (for its
 * HTTP mirrors' pieces). A server still hashing the file answers with what it has, so the ask
 * is repeated; but an answer is up to 8 MiB, and on a slow link it is still on its way a second
 * later: asked again every second, the server queued the same digests again and again ahead of
 * the link's pieces. So the next ask comes {@link #FIRST_MILLIS} after one that brought digests
 * (the count known rose), and otherwise after twice the previous wait, up to {@link #MAX_MILLIS}.
 * Pure: the caller passes the time and what is known.
 */
final class DigestAsks {
    static final long FIRST_MILLIS = 1000;
    static final long MAX_MILLIS = 32_000;

    private long askedNanos;
    private boolean asked;
    private int knownAtAsk = -1;
    private long waitMillis = FIRST_MILLIS;

    /** True if it is time to ask, with {@code known} digests (from the first) in hand now. */
    boolean due(int known, long nowNanos) {
        if (!asked) {
            return true;
        }
        long wait = known > knownAtAsk ? FIRST_MILLIS : waitMillis;
        return nowNanos - askedNanos >= wait * 1_000_000;
    }

    /** An ask went out now, with {@code known} digests in hand. */
    void asked(int known, long nowNanos) {
        waitMillis = !asked || known > knownAtAsk ? FIRST_MILLIS : Math.min(MAX_MILLIS, 2 * waitMillis);
        asked = true;
        askedNanos = nowNanos;
        knownAtAsk = known;
    }
}
