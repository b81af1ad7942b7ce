package dev.biternet.server.files;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntConsumer;

/**
 * The SHA-256 of every piece of one file version, filled in order by a {@link FileHasher} and
 * read by sessions while it fills: {@link #published()} pieces are final and may be served.
 * Listeners hear each newly published count. Once complete it also holds the root hash and the
 * whole file's SHA-256.
 */
public final class PieceHashes {
    private final FileVersion version;
    private final PieceLayout layout;
    private final byte[] digests;
    private final List<IntConsumer> listeners = new CopyOnWriteArrayList<>();
    private volatile int published;
    private volatile byte[] root;
    private volatile byte[] fileSha256;
    private volatile String failure;

    PieceHashes(FileVersion version, PieceLayout layout) {
        this.version = version;
        this.layout = layout;
        this.digests = new byte[Math.multiplyExact(layout.pieceCount(), Digests.SHA256_BYTES)];
    }

    public FileVersion version() {
        return version;
    }

    public PieceLayout layout() {
        return layout;
    }

    public int published() {
        return published;
    }

    public boolean complete() {
        return root != null;
    }

    /** Why hashing failed (the file changed or could not be read), or null. */
    public String failure() {
        return failure;
    }

    public byte[] root() {
        return root;
    }

    public byte[] fileSha256() {
        return fileSha256;
    }

    /** Copies published digests [from, to) out. */
    public byte[] digests(int from, int to) {
        if (to > published || from < 0 || from > to) {
            throw new IndexOutOfBoundsException(from + ".." + to + " of " + published + " published");
        }
        byte[] out = new byte[(to - from) * Digests.SHA256_BYTES];
        System.arraycopy(digests, from * Digests.SHA256_BYTES, out, 0, out.length);
        return out;
    }

    /** Registers a listener for newly published counts (called on the hashing thread). */
    public void listen(IntConsumer onPublished) {
        listeners.add(onPublished);
    }

    public void unlisten(IntConsumer onPublished) {
        listeners.remove(onPublished);
    }

    /** True while someone (a session) listens: the hasher keeps hashing a file only while it is wanted. */
    boolean listened() {
        return !listeners.isEmpty();
    }

    /** Every digest, in order (complete once every piece is set). */
    byte[] allDigests() {
        return digests;
    }

    /** Every digest at once (from a {@link HashCache} entry), before anything is published. */
    void setAll(byte[] all) {
        System.arraycopy(all, 0, digests, 0, digests.length);
    }

    void set(int index, byte[] digest) {
        System.arraycopy(digest, 0, digests, index * Digests.SHA256_BYTES, Digests.SHA256_BYTES);
    }

    void publish(int count, byte[] rootHash, byte[] fileSha) {
        if (rootHash != null) {
            this.fileSha256 = fileSha;
            this.root = rootHash;
        }
        this.published = count;
        for (IntConsumer l : listeners) {
            l.accept(count);
        }
    }

    void fail(String why) {
        this.failure = why;
        for (IntConsumer l : listeners) {
            l.accept(published);
        }
    }
}
