package dev.biternet.server.session;

/**
 * Decides which piece each link sends next. One allocator per session, shared by all of the
 * session's links (possibly on different event loops, and one day on different server nodes):
 * this interface is the whole of what links may ask of it, so a distributed implementation
 * (e.g. backed by Redis) can replace {@link LocalPieceAllocator} without touching the links.
 *
 * <p>Life of a piece: unclaimed, then claimed by one link (or, in the endgame, by two), then
 * done once the client acknowledges a verified copy. A released piece goes back to unclaimed
 * and is handed out again before new ones.
 */
public interface PieceAllocator {
    /** Sentinel: nothing to claim now (more may become available later). */
    int NONE = -1;

    /** How a claimed piece came to be handed out. */
    enum ClaimKind {
        /** claimed for the first time */
        NEW,
        /** claimed again after a link released it (closed, or its copy failed the hash) */
        RECLAIMED,
        /** a second copy of a piece in flight on another link (endgame) */
        COPY;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Told of claims and completions as they happen (metrics). Called under the allocator's
     * lock: implementations must be quick and must not call back into the allocator.
     */
    interface Listener {
        Listener NONE = new Listener() { };

        default void claimed(ClaimKind kind) { }

        default void done() { }

        /** {@code holds} claims of nodes whose lease ended went back to the pool (a cluster's allocator). */
        default void leaseExpired(int holds) { }
    }

    /**
     * Claims the next piece for {@code linkId}: a released piece first, then the lowest
     * unclaimed one whose hash is published. When none is left (the endgame) it offers the
     * pieces in flight on other links, oldest claim first, to {@code endgame}, and hands out a
     * second copy of the first one it accepts. Returns {@link #NONE} if there is nothing useful
     * to send now.
     */
    int claim(int linkId, EndgamePolicy endgame);

    /**
     * {@link #claim(int, EndgamePolicy)} for a caller that must not wait (an event loop): where the
     * answer has to come from a store, {@link #NONE} now and {@code wake} run (on another thread)
     * once it is here; the next call hands out what it brought. A store's failure is thrown by
     * the call after. The local allocator answers at once.
     */
    default int claimOrWake(int linkId, EndgamePolicy endgame, Runnable wake) {
        return claim(linkId, endgame);
    }

    /** {@link #claim(int, EndgamePolicy)} copying any piece in flight for at least the given age. */
    default int claim(int linkId, long endgameMinAgeNanos) {
        return claim(linkId, (index, holder, ageNanos) -> ageNanos >= endgameMinAgeNanos);
    }

    /** Whether a second copy of an in-flight piece is worth sending on the claiming link. */
    @FunctionalInterface
    interface EndgamePolicy {
        /**
         * @param holderLinkId the link that holds the piece now
         * @param ageNanos how long ago it claimed it
         */
        boolean worthCopying(int index, int holderLinkId, long ageNanos);
    }

    /** True once every hash is published and no piece is left unclaimed: only endgame copies remain. */
    boolean inEndgame();

    /** The client verified {@code index}; returns true the first time. */
    boolean complete(int index);

    /**
     * The client already holds these pieces verified (a resumed download): they are done and
     * never handed out. Pieces already claimed or done are left as they are.
     */
    void markDone(java.util.BitSet pieces);

    /** {@code linkId} will not deliver {@code index} (hash mismatch, cancelled); it becomes claimable again. */
    void release(int linkId, int index);

    /** The link is gone: every piece it held is released. */
    void releaseAll(int linkId);

    boolean isDone(int index);

    /** Pieces whose hash is published and that may therefore be claimed: [0, count). */
    void setAvailable(int count);

    /** Pieces not yet done. */
    int remaining();

    /** Pieces never claimed or released back, whether or not their hash is published yet. */
    int unclaimed();

    /** Pieces claimed by at least one link and not yet done. */
    int inFlight();

    /** Pieces handed out a second time during the endgame, so far. */
    long duplicateClaims();

    /**
     * True once the state is gone for good (a cluster's store restarted empty): the session
     * cannot go on and is forgotten, so that the client opens it again. Operations may throw
     * {@link StoreException} while the store is unreachable.
     */
    default boolean lost() {
        return false;
    }

    /**
     * Switches a new session to client-claims mode (protocol 2, a client fetching from several
     * servers): from then on {@link #claim} hands out only pieces the client {@link #grant granted}
     * this session and not yet {@link #withdraw withdrew}, and copies pieces in flight between
     * this session's links only while the client's last grant said the end is near. Returns
     * false if this allocator cannot (a cluster's).
     */
    default boolean useClientClaims() {
        return false;
    }

    /** Client-claims mode: the client wants pieces [first, first + count) from this session. */
    default void grant(int first, int count, boolean endgame) {
        throw new UnsupportedOperationException("not in client-claims mode");
    }

    /**
     * Client-claims mode: the client no longer wants [first, first + count) from this session
     * (another server delivered them, or took them over). Not handed out any more; a link
     * sending one stops at its next block ({@link #wanted}).
     */
    default void withdraw(int first, int count) {
        throw new UnsupportedOperationException("not in client-claims mode");
    }

    /** Whether a link sending {@code index} should go on: not done and, with client claims, still granted. */
    default boolean wanted(int index) {
        return !isDone(index);
    }

    /** The session is closed on this node: what the allocator holds beyond memory goes (a cluster's lease). */
    default void close() { }
}
