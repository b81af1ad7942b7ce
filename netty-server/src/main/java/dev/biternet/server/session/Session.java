package dev.biternet.server.session;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.PieceHashes;
import dev.biternet.server.files.FileVersion;
import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;

/**
 * One client's download of one file version: the open file every link sends from, the piece
 * hashes, the {@link PieceAllocator} (the session is its single owner) and the attached links.
 * A piece's digest travels with the piece ({@link #digest}); newly published hashes make more
 * pieces claimable and wake the links, and the root hash, once known, goes to every link.
 */
public final class Session implements AutoCloseable {
    private final SessionId id;
    private final ByteString attachSecret;
    private final SessionMeters metrics;
    private final String path;
    /** The address that opened the session (counted against its per-address limit), or null. */
    private final SocketAddress client;
    private final long openedNanos = System.nanoTime();
    /** When the last piece was verified; 0 until then. */
    private volatile long finishedNanos;
    private final dev.biternet.server.files.PieceHashes hashes;
    private final FileChannel file;
    private final PieceAllocator allocator;
    private final long versionTag;
    private final boolean hashesCompleteAtOpen;
    private final Map<Integer, SessionLink> links = new ConcurrentHashMap<>();
    /** Budgets of the client links attached with a flow group, while a channel of theirs is. */
    private final Map<Integer, LinkBudget> budgets = new java.util.HashMap<>();
    private final AtomicInteger nextLinkId = new AtomicInteger();
    /** What each link last reported of its rate and load, for the tail rules. */
    private final RateBoard rates;
    private final AtomicLong bytesSent = new AtomicLong();
    private final IntConsumer onPublished = this::published;
    /** Pieces made claimable so far (their digests are published). */
    private int forwarded;
    /** True once the links have been sent the root hash (in SessionOpened or a PieceHashes). */
    private boolean rootForwarded;
    private volatile long lastDetach = System.nanoTime();
    /** When the served file was last compared with the version this session pinned. */
    private final AtomicLong lastStat = new AtomicLong(System.nanoTime());
    private volatile boolean changed;
    /** How often a claiming link may stat the file (a cheap syscall, but not one per piece). */
    private static final long STAT_EVERY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    Session(SessionId id, ByteString attachSecret, dev.biternet.server.files.PieceHashes hashes, FileChannel file,
            String path, SocketAddress client, SessionMeters metrics) {
        this(id, attachSecret, hashes, file, path, client, metrics,
                new LocalPieceAllocator(hashes.layout().pieceCount(), metrics), hashes.version().tag());
    }

    /**
     * @param allocator the session's own (it closes it)
     * @param versionTag the version tag the client is given: this file version's, or on another
     *                   node of a cluster the one the opening node gave
     */
    Session(SessionId id, ByteString attachSecret, dev.biternet.server.files.PieceHashes hashes, FileChannel file,
            String path, SocketAddress client, SessionMeters metrics, PieceAllocator allocator, long versionTag) {
        this.versionTag = versionTag;
        this.metrics = metrics;
        this.id = id;
        this.path = path;
        this.client = client;
        this.attachSecret = attachSecret;
        this.hashes = hashes;
        this.file = file;
        this.allocator = allocator;
        this.rates = new RateBoard(hashes.layout().pieceSize());
        // The hasher may publish (and call published() on its thread) as soon as this session
        // listens: hold the lock published() takes until the starting point is set, so that it
        // sees it, rather than setting a count this constructor would then lower. Whether hashing
        // is complete is read after listening too: read before, a hasher finishing in between
        // told nobody, and the session never sent the root hash (a download waiting forever).
        synchronized (this) {
            hashes.listen(onPublished);
            this.hashesCompleteAtOpen = hashes.complete();
            this.forwarded = hashes.published();
            this.rootForwarded = hashesCompleteAtOpen;
            try {
                allocator.setAvailable(forwarded);
            } catch (StoreException e) {
                hashes.unlisten(onPublished); // never opened: the hasher need not go on for it
                throw e;
            }
        }
    }

    /**
     * Marks the pieces a resuming client holds as done, if the request names this very file
     * version (size, version tag and piece size); otherwise the client gets a different
     * SessionOpened, starts over, and every piece is sent.
     */
    public void markHave(dev.biternet.proto.OpenSession request) {
        PieceLayout layout = layout();
        ByteString have = request.getHave();
        if (have.isEmpty() || request.getExpectedFileVersion() != versionTag
                || request.getExpectedFileSize() != layout.fileSize() || request.getHavePieceSize() != layout.pieceSize()
                || have.size() != (layout.pieceCount() + 7) / 8) {
            return;
        }
        allocator.markDone(java.util.BitSet.valueOf(have.asReadOnlyByteBuffer()));
    }

    /**
     * True once the served file's size or mtime differs from this session's version (checked
     * at most every 100 ms, by whichever link claims). The first link to notice tells every
     * link with FILE_CHANGED and closes them: bytes of a changed file must not be mixed with
     * the old ones. A file replaced by rename or deleted is not a change for this session: it
     * keeps reading the old file through its own descriptor.
     */
    public boolean fileChanged() {
        return fileChanged(false);
    }

    /** As {@link #fileChanged()}; {@code now} stats the file whenever it was last checked. */
    private boolean fileChanged(boolean now) {
        if (changed) {
            return true;
        }
        long last = lastStat.get();
        long t = System.nanoTime();
        if (!now && (t - last < STAT_EVERY_NANOS || !lastStat.compareAndSet(last, t))) {
            return false;
        }
        FileVersion pinned = version();
        String why;
        try {
            FileVersion current = FileVersion.of(pinned.path());
            if (!java.util.Objects.equals(current.fileKey(), pinned.fileKey())) {
                // Replaced by rename: this session's descriptor still reads the old, intact
                // file (only its size can be checked through the descriptor).
                long size = file.size();
                if (size == pinned.size()) {
                    return false;
                }
                why = "was " + pinned.size() + " bytes, now " + size;
            } else if (current.size() == pinned.size() && current.mtimeNanos() == pinned.mtimeNanos()) {
                return false;
            } else {
                why = "was " + pinned.size() + " bytes, now " + current.size()
                        + (current.size() == pinned.size() ? " and modified" : "");
            }
        } catch (NoSuchFileException e) {
            // Deleted: the open descriptor still reads the whole, unchanged file.
            return false;
        } catch (IOException e) {
            why = "cannot stat it: " + e.getMessage();
        }
        changed = true;
        Envelope error = Frames.error(Error.Code.FILE_CHANGED, "the file changed on the server during the download ("
                + why + ")");
        links.values().forEach(l -> l.fail(error));
        return true;
    }

    public SessionId id() {
        return id;
    }

    /**
     * True if {@code secret} is this session's attach secret. The id alone does not let a
     * client attach: ids appear in logs, the secret never does.
     */
    public boolean acceptsSecret(ByteString secret) {
        return dev.biternet.server.security.Secrets.matches(attachSecret, secret);
    }

    /** The path the client asked for. */
    public String path() {
        return path;
    }

    public SocketAddress client() {
        return client;
    }

    /**
     * Seconds from opening to the last piece verified, or to {@code nowNanos} if pieces remain.
     */
    public double seconds(long nowNanos) {
        long end = finishedNanos != 0 ? finishedNanos : allocator.remaining() == 0 ? openedNanos : nowNanos;
        return (end - openedNanos) / 1e9;
    }

    /** The client verified {@code index} (an ack ok); returns true the first time. */
    public boolean complete(int index) {
        boolean first = allocator.complete(index);
        if (first && allocator.remaining() == 0) {
            finishedNanos = System.nanoTime();
        }
        return first;
    }

    /** Why hashing the file failed, or null. */
    public String failure() {
        return hashes.failure();
    }

    /** Links attached so far, over the session's life. */
    public int linksEverAttached() {
        return nextLinkId.get();
    }

    public PieceLayout layout() {
        return hashes.layout();
    }

    public FileVersion version() {
        return hashes.version();
    }

    public FileChannel file() {
        return file;
    }

    public PieceAllocator allocator() {
        return allocator;
    }

    /** The links' reports of their rate, backlog and round trip, for the tail rules. */
    public RateBoard rates() {
        return rates;
    }

    public void addBytesSent(long n) {
        bytesSent.addAndGet(n);
        metrics.bytesSent(n);
    }

    public long bytesSent() {
        return bytesSent.get();
    }

    /**
     * The SessionOpened answer: the layout, and the root hash if it is known now. No digests:
     * each piece's digest goes with the piece, on the link that sends it, so the answer (which
     * the other links wait for before they attach) stays a few hundred bytes whatever the file's
     * size, and no link carries digests of pieces it does not send.
     */
    public Envelope opened() {
        var b = dev.biternet.proto.SessionOpened.newBuilder()
                .setSessionId(id.bytes())
                .setAttachSecret(attachSecret)
                .setFileSize(layout().fileSize())
                .setPieceSize(layout().pieceSize())
                .setPieceCount(layout().pieceCount())
                .setFileVersion(versionTag);
        if (hashesCompleteAtOpen) {
            b.setHashes(rootBatch());
        }
        return Envelope.newBuilder().setSessionOpened(b).build();
    }

    /** SHA-256 of piece {@code index}, which must be published (claimed pieces are). */
    public ByteString digest(int index) {
        return com.google.protobuf.UnsafeByteOperations.unsafeWrap(hashes.digests(index, index + 1));
    }

    /**
     * Attaches a link and returns its id, or -1 if the session failed (the link was told and
     * closed). A link attaching after hashing finished, to a session opened before, gets the
     * root hash (the others got it when hashing finished).
     */
    public int attach(SessionLink link, java.util.function.IntConsumer answer) {
        int linkId = nextLinkId.incrementAndGet();
        answer.accept(linkId);
        String failure = hashes.failure();
        if (failure != null) {
            link.fail(Frames.error(Error.Code.IO_ERROR, "file changed or unreadable on the server: " + failure));
            return -1;
        }
        if (changed) {
            link.fail(Frames.error(Error.Code.FILE_CHANGED, "the file changed on the server during the download"));
            return -1;
        }
        boolean root;
        synchronized (this) {
            links.put(linkId, link);
            root = rootForwarded && !hashesCompleteAtOpen;
        }
        if (root) {
            link.send(Envelope.newBuilder().setPieceHashes(rootBatch()).build());
        }
        return linkId;
    }

    /**
     * The budget a channel attaching with {@code group} shares with the link's other channels:
     * the group's, made from this attach's limits if none of its channels is attached
     * ({@code capAdded}: Attach.cap_added).
     * Group 0 is a channel alone.
     */
    public LinkBudget joinBudget(int group, long capBytes, long rateLimit, long capAdded) {
        LinkBudget b;
        synchronized (budgets) {
            b = group == 0 ? new LinkBudget(capBytes, rateLimit, capAdded) : budgets.computeIfAbsent(group,
                    g -> new LinkBudget(capBytes, rateLimit, capAdded));
            b.join();
        }
        return b;
    }

    /** A channel of {@code group} left; the group's budget goes with its last channel. */
    public void leaveBudget(int group, LinkBudget budget) {
        synchronized (budgets) {
            if (budget.leave() && group != 0) {
                budgets.remove(group, budget);
            }
        }
    }

    public void detach(int linkId) {
        if (links.remove(linkId) != null) {
            try {
                allocator.releaseAll(linkId);
            } catch (StoreException e) {
                // unreachable: this node's claims go back to the pool when its lease ends
            }
            lastDetach = System.nanoTime();
            wakeAll();
        }
    }

    public int linkCount() {
        return links.size();
    }

    /** Nanos since the last link left, or -1 while links are attached. */
    public long idleNanos() {
        return links.isEmpty() ? System.nanoTime() - lastDetach : -1;
    }

    /**
     * A Claim or Unclaim from the client (protocol 2): grants or withdraws pieces in a session
     * opened with {@code client_claims}, then wakes the links. A session not in that mode, or a
     * range outside the file, is the client's protocol violation.
     */
    public void clientClaim(Envelope message) {
        boolean claim = message.hasClaim();
        int first = claim ? message.getClaim().getFirst() : message.getUnclaim().getFirst();
        int count = claim ? message.getClaim().getCount() : message.getUnclaim().getCount();
        if ((long) Integer.toUnsignedLong(first) + Integer.toUnsignedLong(count) > layout().pieceCount()) {
            throw new dev.biternet.common.wire.ProtocolException(Error.Code.BAD_FRAME, (claim ? "Claim" : "Unclaim")
                    + " of pieces " + Integer.toUnsignedString(first) + " + " + Integer.toUnsignedString(count) + " past the file's "
                    + layout().pieceCount());
        }
        try {
            if (claim) {
                allocator.grant(first, count, message.getClaim().getEndgame());
            } else {
                allocator.withdraw(first, count);
            }
        } catch (IllegalStateException | UnsupportedOperationException e) {
            throw new dev.biternet.common.wire.ProtocolException(Error.Code.BAD_STATE,
                    message.getBodyCase() + " for a session not opened with client_claims");
        }
        wakeAll();
    }

    /** Digests a {@code PieceHashes} batch carries at most (its frame stays under 1 MiB). */
    static final int DIGESTS_PER_BATCH = 32_767;

    /**
     * The answer to a DigestRequest: the digests of the asked pieces hashed so far, in batches
     * of at most {@link #DIGESTS_PER_BATCH}; none for a piece not hashed yet (the client asks
     * again). A range outside the file is the client's protocol violation.
     */
    public List<Envelope> digests(dev.biternet.proto.DigestRequest asked) {
        long first = Integer.toUnsignedLong(asked.getFirst());
        long end = first + Integer.toUnsignedLong(asked.getCount());
        if (end > layout().pieceCount()) {
            throw new dev.biternet.common.wire.ProtocolException(Error.Code.BAD_FRAME, "DigestRequest of pieces " + first
                    + " + " + asked.getCount() + " past the file's " + layout().pieceCount());
        }
        int to = (int) Math.min(end, hashes.published());
        List<Envelope> out = new java.util.ArrayList<>();
        for (int from = (int) first; from < to; from += DIGESTS_PER_BATCH) {
            int batchEnd = Math.min(to, from + DIGESTS_PER_BATCH);
            out.add(Envelope.newBuilder().setPieceHashes(PieceHashes.newBuilder().setFirstIndex(from)
                    .setDigests(ByteString.copyFrom(hashes.digests(from, batchEnd)))).build());
        }
        return out;
    }

    public void wakeAll() {
        links.values().forEach(SessionLink::wake);
    }

    private void published(int count) {
        String failure = hashes.failure();
        if (failure != null) {
            if (fileChanged(true)) {
                return; // changed under the hasher: the links got FILE_CHANGED, as for any change
            }
            Envelope error = Frames.error(Error.Code.IO_ERROR, "file changed or unreadable on the server: " + failure);
            links.values().forEach(l -> l.fail(error));
            return;
        }
        List<SessionLink> toTell = List.of();
        synchronized (this) {
            if (count > forwarded) {
                forwarded = count;
                allocator.setAvailable(count);
            }
            if (!rootForwarded && hashes.complete()) {
                rootForwarded = true;
                toTell = List.copyOf(links.values());
            }
        }
        if (!toTell.isEmpty()) {
            Envelope root = Envelope.newBuilder().setPieceHashes(rootBatch()).build();
            toTell.forEach(l -> l.send(root));
        }
        wakeAll();
    }

    /** The root hash and the whole file's SHA-256, in an otherwise empty batch (hashing is complete). */
    private PieceHashes.Builder rootBatch() {
        return PieceHashes.newBuilder()
                .setFirstIndex(layout().pieceCount())
                .setRootHash(ByteString.copyFrom(hashes.root()))
                .setFileSha256(ByteString.copyFrom(hashes.fileSha256()));
    }

    /** The version tag the client was given (see the constructor). */
    public long versionTag() {
        return versionTag;
    }

    @Override
    public void close() {
        hashes.unlisten(onPublished);
        allocator.close();
        try {
            file.close();
        } catch (IOException ignored) {
            // closing a read-only file loses nothing
        }
    }
}
