package dev.biternet.server.files;

import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;

/**
 * Piece digests shared by several nodes serving the same files (the cluster's store): a file
 * version hashed by one node is read by the others, which check a few sampled pieces of their
 * own copy against them instead of reading the whole file. Called on the hashing threads only.
 */
public interface SharedDigests {
    /** Every digest of a file version, and the whole file's SHA-256. */
    record Known(byte[] digests, byte[] fileSha256) { }

    /**
     * Returned by {@link #load} while another node is hashing the version: ask again later. The
     * caller must not wait on its hashing thread: that node may itself be waiting for a file
     * whose hashing this thread would otherwise go on with.
     */
    Known HASHED_ELSEWHERE = new Known(new byte[0], new byte[0]);

    /**
     * The digests of {@code version} (by path, size and modification time) cut into
     * {@code layout}'s pieces, if a node published them; {@link #HASHED_ELSEWHERE} while another
     * node is hashing them. Null: none is, and this node is now the one hashing (it calls
     * {@link #hashing} as it goes and {@link #save} at the end). Never blocks beyond one
     * exchange with the store.
     */
    Known load(FileVersion version, PieceLayout layout) throws IOException;

    /** This node still hashes {@code version}: the others keep waiting for it. */
    void hashing(FileVersion version, PieceLayout layout);

    void save(FileVersion version, PieceLayout layout, Known known) throws IOException;
}
