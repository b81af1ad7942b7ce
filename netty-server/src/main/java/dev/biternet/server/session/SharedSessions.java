package dev.biternet.server.session;

import com.google.protobuf.ByteString;

/**
 * Sessions kept where the other nodes of a cluster find them: the {@link SessionRegistry} asks it
 * for a session or join key it does not hold, and serves the session found with a
 * {@link PieceAllocator} shared through it. Null in the registry: one node, nothing shared.
 */
public interface SharedSessions {
    /**
     * What another node needs to serve a session: its id and secret, the file (path as the client
     * named it, size and modification time) and the layout and version tag the client was given.
     */
    record Shared(SessionId id, ByteString secret, String path, long size, long mtimeNanos, int pieceSize, long tag) { }

    /**
     * Where the registry opens and adopts sessions, which asks this several times in a row: not
     * on a server event loop. It throws {@link java.util.concurrent.RejectedExecutionException}
     * when it has too much queued.
     */
    java.util.concurrent.Executor opening();

    /** The allocator of session {@code id}, shared by every node serving it. */
    PieceAllocator allocator(SessionId id, int pieceCount, PieceAllocator.Listener listener);

    /** Makes a session this node opened findable by the others. */
    void publish(Shared session);

    /** The session {@code id} as a node published it, or null. */
    Shared find(ByteString id);

    /** The id of the session {@code joinKey} names, or null. */
    ByteString joined(ByteString joinKey);

    /** Names {@code id} the session of {@code joinKey} unless another already is; returns the one that is. */
    ByteString join(ByteString joinKey, ByteString id);
}
