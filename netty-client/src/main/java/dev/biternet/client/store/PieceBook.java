package dev.biternet.client.store;

import dev.biternet.client.store.PieceStore.IntegrityException;
import dev.biternet.client.store.PieceStore.Outcome;
import dev.biternet.client.store.PieceStore.Resolved;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * What is known about each piece and who may write into it: the server's digests and root, the
 * copies whose digest waits for its hash (the server streams hashes of a file it is still
 * hashing, so they may come after the piece), the verified pieces and their contiguous prefix, and
 * per unverified piece the links that wrote into it. It judges a link's digest ({@link Outcome}),
 * lets a write reach the {@link PartFile} only while its piece is unverified (a late copy never
 * overwrites verified bytes), and reads a piece back before it counts when two links wrote into
 * it (endgame copies racing), so the bytes that count are the bytes on disk.
 *
 * <p>Two lock domains, both here. This object's monitor guards the digests, the verified set and
 * prefix, the waiting copies and the root; what a verdict tells its {@link Listener} it tells
 * under the monitor, so in order. 1,024 stripe locks guard, per piece, the verified flag that
 * writes read and the piece's writers: a write holds its piece's stripe for the disk's time, a
 * verdict takes the stripe while it holds the monitor, never the other way round.
 */
final class PieceBook {
    /** What follows the verdicts; called under the book's monitor, in the order they happen. */
    interface Listener {
        /** A link's copy of {@code index} verified with {@code digest} (the caller's array). */
        void verified(int index, byte[] digest);

        /** Pieces [from, to) joined the verified prefix. */
        void prefix(int from, int to);
    }

    private static final Object ANONYMOUS = new Object();

    private final PieceLayout layout;
    private final PartFile part;
    private final Listener listener;
    private final byte[] expected;
    private final BitSet known = new BitSet();
    private final BitSet verified = new BitSet();
    private final Map<Integer, List<Pending>> pending = new HashMap<>();
    private int contiguous;
    private byte[] root;
    private byte[] serverFileSha;
    /** Buffer for reading contested pieces back, allocated on the first. */
    private ByteBuffer checkBuffer;
    private final CompletableFuture<Void> allVerified = new CompletableFuture<>();
    private final CompletableFuture<Void> rootKnown = new CompletableFuture<>();

    /** Verified pieces as writes see them (under the piece's stripe). */
    private final boolean[] verifiedFlags;
    /**
     * Per piece, the first link that wrote into it since it was last judged, and whether a
     * second one did too: such a piece is read back from disk and hashed before it counts.
     */
    private final Object[] writers;
    private final boolean[] contested;
    /** 1,024: a verdict waits behind an unrelated piece's write about once in a thousand. */
    private final Object[] stripes = new Object[1024];

    private record Pending(byte[] digest, Object owner) {}

    /**
     * A book for {@code layout} whose pieces go to {@code part}; {@code resumed} (index to
     * digest, re-hashed from disk by a previous run's resume) are verified from the start.
     */
    PieceBook(PieceLayout layout, PartFile part, Map<Integer, byte[]> resumed, Listener listener) {
        this.layout = layout;
        this.part = part;
        this.listener = listener;
        int count = layout.pieceCount();
        this.expected = new byte[count * Digests.SHA256_BYTES];
        this.verifiedFlags = new boolean[count];
        this.writers = new Object[count];
        this.contested = new boolean[count];
        for (int i = 0; i < stripes.length; i++) {
            stripes[i] = new Object();
        }
        synchronized (this) {
            for (Map.Entry<Integer, byte[]> e : resumed.entrySet()) {
                int index = e.getKey();
                System.arraycopy(e.getValue(), 0, expected, index * Digests.SHA256_BYTES, Digests.SHA256_BYTES);
                known.set(index);
                verified.set(index);
                verifiedFlags[index] = true;
            }
            advancePrefix();
            if (verified.cardinality() == count) {
                allVerified.complete(null);
            }
        }
    }

    /** Writes bytes of piece {@code index} at {@code position}; false (dropped) if the piece is verified. */
    boolean write(int index, long position, ByteBuffer src, Object writer) throws IOException {
        synchronized (stripe(index)) {
            if (!claim(index, writer)) {
                return false;
            }
            part.write(src, position);
            return true;
        }
    }

    /** Writes the whole of piece {@code index} from a {@link PartFile#pieceBuffer}; false (dropped) if it is verified. */
    boolean writePiece(int index, ByteBuffer piece, Object writer) throws IOException {
        synchronized (stripe(index)) {
            if (!claim(index, writer)) {
                return false;
            }
            part.writeWhole(piece, layout.offset(index));
            return true;
        }
    }

    /**
     * Under the piece's stripe lock: false if the piece is verified (the bytes are dropped);
     * otherwise records {@code writer} as one that wrote into it.
     */
    private boolean claim(int index, Object writer) {
        if (verifiedFlags[index]) {
            return false;
        }
        Object who = writer == null ? ANONYMOUS : writer;
        if (writers[index] == null) {
            writers[index] = who;
        } else if (writers[index] != who) {
            contested[index] = true;
        }
        return true;
    }

    private Object stripe(int index) {
        return stripes[index & (stripes.length - 1)];
    }

    /** See {@link PieceStore#addHashes}. */
    synchronized List<Resolved> addHashes(int first, byte[] digests) throws IOException {
        int n = digests.length / Digests.SHA256_BYTES;
        if (digests.length % Digests.SHA256_BYTES != 0 || first < 0 || first + n > layout.pieceCount()) {
            throw new IOException("server sent hashes for pieces outside 0.." + layout.pieceCount());
        }
        List<Resolved> resolved = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int index = first + i;
            int at = index * Digests.SHA256_BYTES;
            if (known.get(index)) {
                if (!Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digests, i * 32, i * 32 + 32)) {
                    throw new IOException("server sent two different hashes for piece " + index);
                }
                continue;
            }
            System.arraycopy(digests, i * Digests.SHA256_BYTES, expected, at, Digests.SHA256_BYTES);
            known.set(index);
            resolved.addAll(judgeWaiting(index));
        }
        return resolved;
    }

    /** See {@link PieceStore#addDigest}. */
    synchronized List<Resolved> addDigest(int index, com.google.protobuf.ByteString digest) throws IOException {
        if (index < 0 || index >= layout.pieceCount() || digest.size() != Digests.SHA256_BYTES) {
            throw new IOException("server sent a digest of " + digest.size() + " bytes for piece " + index);
        }
        int at = index * Digests.SHA256_BYTES;
        if (known.get(index)) {
            for (int i = 0; i < Digests.SHA256_BYTES; i++) {
                if (digest.byteAt(i) != expected[at + i]) {
                    throw new IOException("server sent two different hashes for piece " + index);
                }
            }
            return List.of();
        }
        digest.copyTo(expected, at);
        known.set(index);
        return judgeWaiting(index);
    }

    /** {@code index}'s digest just became known: judges the copies that waited for it. */
    private List<Resolved> judgeWaiting(int index) {
        List<Pending> waiting = pending.remove(index);
        if (waiting == null) {
            return List.of();
        }
        List<Resolved> out = new ArrayList<>(waiting.size());
        for (Pending p : waiting) {
            out.add(new Resolved(index, p.owner(), judge(index, p.digest())));
        }
        return out;
    }

    synchronized void setRoot(byte[] rootHash, byte[] fileSha256) {
        this.root = rootHash.clone();
        this.serverFileSha = fileSha256.clone();
        rootKnown.complete(null);
    }

    CompletableFuture<Void> rootKnown() {
        return rootKnown;
    }

    synchronized String rootHex() {
        return root == null ? "" : Digests.hex(root);
    }

    /** See {@link PieceStore#complete}. */
    synchronized Outcome complete(int index, byte[] digest, Object owner) {
        if (verified.get(index)) {
            return Outcome.DUPLICATE;
        }
        if (!known.get(index)) {
            pending.computeIfAbsent(index, k -> new ArrayList<>(1)).add(new Pending(digest, owner));
            return Outcome.PENDING;
        }
        return judge(index, digest);
    }

    private Outcome judge(int index, byte[] digest) {
        if (verified.get(index)) {
            return Outcome.DUPLICATE;
        }
        int at = index * Digests.SHA256_BYTES;
        if (!Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digest, 0, Digests.SHA256_BYTES)) {
            // The writers stay recorded: a copy still arriving on another link may have had
            // blocks overwritten by this one, and must then be checked on disk.
            return Outcome.FAILED;
        }
        boolean readBack;
        synchronized (stripe(index)) {
            // From here on no copy writes into the piece; if two did before, check the disk.
            verifiedFlags[index] = true;
            readBack = contested[index];
            writers[index] = null;
            contested[index] = false;
        }
        if (readBack && !onDiskMatches(index, at)) {
            synchronized (stripe(index)) {
                // Writes dropped while the flag was up leave the disk behind what their
                // link hashed: whatever copy completes next is checked on disk too.
                verifiedFlags[index] = false;
                writers[index] = ANONYMOUS;
                contested[index] = true;
            }
            return Outcome.OVERWRITTEN;
        }
        verified.set(index);
        listener.verified(index, digest);
        advancePrefix();
        if (verified.cardinality() == layout.pieceCount()) {
            allVerified.complete(null);
        }
        return Outcome.VERIFIED;
    }

    /**
     * Reads piece {@code index} back from the part file and compares its digest with the
     * server's. Anything that goes wrong (an I/O error, no memory for the buffer) counts as a
     * mismatch: the piece is then fetched again, never trusted unread.
     */
    private boolean onDiskMatches(int index, int at) {
        try {
            if (checkBuffer == null) {
                checkBuffer = ByteBuffer.allocateDirect(PartFile.READ_BUFFER_BYTES);
            }
            byte[] digest = part.digest(layout.offset(index), layout.length(index), checkBuffer);
            return digest != null && Arrays.equals(expected, at, at + Digests.SHA256_BYTES, digest, 0, Digests.SHA256_BYTES);
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            return false;
        }
    }

    private void advancePrefix() {
        int before = contiguous;
        while (contiguous < layout.pieceCount() && verified.get(contiguous)) {
            contiguous++;
        }
        if (contiguous > before) {
            listener.prefix(before, contiguous);
        }
    }

    synchronized int firstUnknownHash() {
        return known.nextClearBit(0);
    }

    synchronized int verifiedCount() {
        return verified.cardinality();
    }

    synchronized boolean isVerified(int index) {
        return verified.get(index);
    }

    /** The verified pieces as a bitmap: bit i (least significant first in each byte) = piece i. */
    synchronized byte[] haveBitmap() {
        return Arrays.copyOf(verified.toByteArray(), (layout.pieceCount() + 7) / 8);
    }

    CompletableFuture<Void> allVerified() {
        return allVerified;
    }

    /**
     * Once every piece is verified: checks that the piece digests add up to the server's root
     * hash, and returns the whole-file SHA-256 the server announced.
     */
    byte[] checkRoot() throws IntegrityException {
        byte[] rootHash;
        byte[] fileSha;
        synchronized (this) {
            if (verified.cardinality() != layout.pieceCount()) {
                throw new IllegalStateException("finish before all pieces verified");
            }
            rootHash = root;
            fileSha = serverFileSha;
        }
        if (rootHash == null) {
            throw new IntegrityException("the server never sent the root hash");
        }
        if (!Arrays.equals(Digests.root(expected), rootHash)) {
            throw new IntegrityException("piece hashes do not add up to the server's root hash");
        }
        return fileSha;
    }
}
