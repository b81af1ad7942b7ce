package dev.biternet.client.http;

import dev.biternet.client.http.HttpFailure.Kind;
import dev.biternet.client.link.Backoff;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One channel of an HTTP download: one link's connection to one mirror, driven by the
 * {@link PieceScheduler}. It keeps its depth of pieces asked for on its connection (the next
 * request is on the wire while a piece's body arrives; deeper on a long, fast link), hands each whole piece to the store
 * (hashed for the resume state, or judged against a biternet server's digests in a download
 * that has one: {@link #judgedByHashes}; written, counted) on the download's worker threads, gives a
 * failed piece back, and reconnects with the links' backoff after a lost connection. A mirror
 * that refuses, changed its file or ignores Range ends this channel and the mirror's others
 * ({@link Events#dropped}). A piece is asked for only if it fits under the link's cap
 * ({@link LinkAllowance}); the first that does not ends this channel's claims (capped).
 */
public final class MirrorChannel implements PieceStore.Judge {
    /** Requests in flight on a link's first connection to a mirror, at its start. */
    public static final int DEPTH = 2;
    /**
     * What the requests in flight cover beyond the round trip: a connection whose depth is its
     * limit delivers about depth pieces per round trip, often less (its TCP sender, given so
     * little to send, paces below the link), so the next depth must come out larger.
     */
    static final double DEPTH_HEADROOM_SECONDS = 0.5;
    /** The most requests in flight on one connection (a long, fast link with small pieces). */
    public static final int MAX_DEPTH = 8;
    /** How soon a channel told to wait by the scheduler asks again. */
    private static final long WAIT_MILLIS = 20;

    /** What the download hears from its channels. */
    public interface Events {
        /** The mirror is unusable: why, in one line (naming the mirror). */
        void dropped(Mirror mirror, String why);

        /** The disk failed: the download ends. */
        void localFailure(String why);

        /** A connection was lost and is retried: for --verbose. */
        void trace(String event);
    }

    private final int id;
    private final MirrorConnection connection;
    private final Mirror mirror;
    private final PieceScheduler scheduler;
    private final PieceStore store;
    private final Executor workers;
    private final ScheduledExecutorService timer;
    private final Events events;
    private final Backoff backoff = new Backoff();
    private final AtomicLong bytes = new AtomicLong();
    /** Body bytes as they arrive (a piece not yet whole included): what {@code FlowCount} measures. */
    private final AtomicLong arriving = new AtomicLong();
    private final AtomicLong duplicateBytes = new AtomicLong();
    private final java.util.concurrent.atomic.AtomicInteger pieces = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger duplicates = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicInteger failedPieces = new java.util.concurrent.atomic.AtomicInteger();
    private final AtomicLong failedBytes = new AtomicLong();
    /** Pieces are judged against a biternet server's digests ({@link #judgedByHashes}). */
    private volatile boolean hashed;
    private volatile long firstNanos;
    private volatile long lastNanos;
    private int inFlight;
    /** Requests sent whose answer has not fully arrived (inFlight less the pieces being written). */
    private final java.util.concurrent.atomic.AtomicInteger onWire = new java.util.concurrent.atomic.AtomicInteger();
    /** When the mirror last sent a byte, or was asked while nothing was on the wire (nanoTime). */
    private volatile long heardNanos = System.nanoTime();
    /** Requests kept in flight; grows with the connection's rate and round trip ({@link #bodyEnded}). */
    private volatile int depth;
    /** Piece buffers the download may still add (see {@code HttpDownload.PIECE_MEMORY}). */
    private final java.util.function.IntSupplier slots;
    /** When the last body ended (0: none yet, or since the connection was lost). */
    private volatile long lastBodyEnd;
    /** Bytes per second from one body's end to the next, smoothed. */
    private volatile double bodyRate;
    private boolean waiting;
    /** Lost its connection and waiting out the backoff before it tries again. */
    private volatile boolean backingOff;
    /** Fetching the whole file in one request ({@link #startWhole}). */
    private volatile boolean whole;
    private volatile boolean stopped;
    /** The link's cap left no room for the next piece: this channel asks for no more. */
    private volatile boolean capped;
    /** One flow fewer on its link: asks for no more, closes once what it asked for is in. */
    private volatile boolean retired;
    private volatile boolean up;
    private volatile String state = "connecting";
    private int reconnects;
    /** The probe's first bytes, for piece 0 ({@link #withHead}); null once started. */
    private FirstBytes head;

    /** A channel keeping {@link #DEPTH} requests in flight, growing without a memory limit. */
    public MirrorChannel(MirrorConnection connection, Mirror mirror, PieceScheduler scheduler, PieceStore store,
                         Executor workers, ScheduledExecutorService timer, Events events) {
        this(connection, mirror, scheduler, store, workers, timer, events, DEPTH, () -> Integer.MAX_VALUE);
    }

    /**
     * @param depth requests kept in flight at the start (1 for a link's added flows: the others
     *              keep the link busy while one waits)
     * @param slots how many more piece buffers the download allows now; the depth grows only into them
     */
    public MirrorChannel(MirrorConnection connection, Mirror mirror, PieceScheduler scheduler, PieceStore store,
                         Executor workers, ScheduledExecutorService timer, Events events, int depth,
                         java.util.function.IntSupplier slots) {
        this.depth = depth;
        this.slots = slots;
        this.id = scheduler.join(mirror);
        this.connection = connection;
        this.mirror = mirror;
        this.scheduler = scheduler;
        this.store = store;
        this.workers = workers;
        this.timer = timer;
        this.events = events;
        connection.allowance().onRaise(this::capRaised);
    }

    public void start() {
        FirstBytes h = head;
        head = null;
        if (h != null) {
            synchronized (this) {
                startWithHead(h);
            }
        }
        pump();
    }

    /**
     * Takes the probe's first bytes ({@link FirstBytes}) as the start of piece 0: this channel
     * claims piece 0 when it starts and asks only for the rest of it, if any. Call before
     * {@link #start}.
     */
    public MirrorChannel withHead(FirstBytes first) {
        head = first;
        return this;
    }

    /** Piece 0 from the probe's bytes on, unless it is in already (a resume) or taken. */
    private void startWithHead(FirstBytes h) {
        if (!scheduler.claimPiece(id, 0, h.askedNanos())) {
            return;
        }
        // The probe's bytes are under the link's cap already (HttpDownload reserved them).
        if (!connection.allowance().reserve(store.layout().length(0) - h.length())) {
            scheduler.release(id, 0);
            reachedCap();
            return;
        }
        inFlight++;
        fetch(new PieceScheduler.Part(0, 0, null), h);
    }

    /**
     * Judges each piece against the digests a biternet server of the same download gives
     * ({@code PieceStore.complete}) instead of taking it unhashed: a piece that fails goes back
     * ({@link PieceScheduler#undo}) and counts against the mirror, which is dropped after
     * {@link Mirror#MAX_BAD_PIECES}. Call before {@link #start}.
     */
    public MirrorChannel judgedByHashes() {
        hashed = true;
        return this;
    }

    /** Stops asking; what is in flight is dropped with the connection. */
    public void stop() {
        stopped = true;
        connection.close();
    }

    /**
     * One flow fewer: this channel asks for no more pieces, finishes those it asked for, then
     * closes its connection. Nothing it fetches is thrown away.
     */
    public void retire() {
        retired = true;
        scheduler.retire(id);
        state = "retired";
        pump();
    }

    public boolean retired() {
        return retired;
    }

    /** The piece buffers {@code channels} may hold now: the depths of those still open. */
    public static int piecesHeld(java.util.Collection<MirrorChannel> channels) {
        return channels.stream().filter(MirrorChannel::open).mapToInt(MirrorChannel::depth).sum();
    }

    /** Requests this channel keeps in flight now: the piece buffers it may hold. */
    public int depth() {
        return depth;
    }

    /** False once stopped (a retired channel: once its last piece is in); until then it may hold {@link #depth} pieces. */
    public boolean open() {
        return !stopped;
    }

    /** Body bytes received so far, pieces still arriving included. */
    public long arriving() {
        return arriving.get();
    }

    public Mirror mirror() {
        return mirror;
    }

    public MirrorConnection connection() {
        return connection;
    }

    /** Pieces this channel delivered first. */
    public int pieces() {
        return pieces.get();
    }

    /** Endgame copies that came after another channel's. */
    public int duplicates() {
        return duplicates.get();
    }

    /** When this channel asked for its first piece (nanoTime); 0 before. */
    public long firstNanos() {
        return firstNanos;
    }

    /** When its last whole piece came in (nanoTime); 0 before the first. */
    public long lastNanos() {
        return lastNanos;
    }

    /** Payload of whole pieces received, copies that lost the race included. */
    public long bytes() {
        return bytes.get();
    }

    public long duplicateBytes() {
        return duplicateBytes.get();
    }

    /** Pieces that failed the biternet server's hash ({@link #judgedByHashes}). */
    public int failedPieces() {
        return failedPieces.get();
    }

    public long failedBytes() {
        return failedBytes.get();
    }

    public int reconnects() {
        return reconnects;
    }

    /** True once the link's cap left no room for this channel's next piece. */
    public boolean capped() {
        return capped;
    }

    /** "up", "connecting", "capped", "lost: why", "parked: why", "dropped: why". */
    public String state() {
        return state;
    }

    public boolean up() {
        return up && !stopped;
    }

    /**
     * Up, and not silent: nothing asked of the mirror has gone {@code silentNanos} without a
     * byte. A mirror that died behind a connection still open (or one that accepts and never
     * answers) is found so long before the stall timeout ends its requests.
     */
    public boolean answering(long now, long silentNanos) {
        return up() && (onWire.get() == 0 || now - heardNanos < silentNanos);
    }

    /**
     * True while it may take pieces: not stopped, retired, capped or dropped, and not waiting
     * out a backoff after a lost connection (one connecting, or trying again, is ready).
     */
    public boolean ready() {
        return !stopped && !retired && !capped && mirror.dropped() == null && !backingOff;
    }

    /** Claims pieces until {@link #depth} are in flight or the scheduler has none for this channel now. */
    private synchronized void pump() {
        if (mirror.dropped() != null) {
            // Another channel of this mirror dropped it: this one leaves too, or the scheduler
            // would keep leaving pieces to it for its pace.
            scheduler.leave(id);
            return;
        }
        if (retired) {
            if (inFlight == 0 && !stopped) {
                stop();
            }
            return;
        }
        if (stopped || waiting || capped) {
            return;
        }
        // A fetch may fail at once (a closed connection): then this channel waits, it does not spin.
        while (inFlight < depth && !waiting && !stopped) {
            PieceScheduler.Part part = scheduler.claimPart(id, System.nanoTime(),
                    (long) (connection.minRttSeconds() * 1e9));
            if (part == null) {
                if (inFlight == 0 && !scheduler.finished()) {
                    waiting = true;
                    timer.schedule(this::resume, WAIT_MILLIS, TimeUnit.MILLISECONDS);
                }
                return;
            }
            if (!connection.allowance().reserve(store.layout().length(part.piece()) - part.from())) {
                scheduler.release(id, part.piece());
                reachedCap();
                return;
            }
            inFlight++;
            fetch(part, null);
        }
    }

    /** The link's cap was raised (another source left it what it did not carry): a capped channel goes on. */
    private void capRaised() {
        synchronized (this) {
            if (!capped || stopped || retired) {
                return;
            }
            capped = false;
            if (state.equals("capped")) {
                state = up ? "up" : "connecting"; // a parked or lost one says so until it is back
            }
            scheduler.unretire(id);
        }
        events.trace(connection.link().name() + " -> " + mirror + ": the link's cap was raised; asking again");
        pump();
    }

    private void reachedCap() {
        capped = true;
        state = "capped";
        scheduler.retire(id);
        events.trace(connection.link().name() + " -> " + mirror + ": the link's cap leaves no room for another piece");
    }

    /**
     * Its link has an address again (or a new one): a channel waiting out its backoff, or parked,
     * connects now. Any thread.
     */
    public void wake() {
        synchronized (this) {
            if (!backingOff || stopped) {
                return;
            }
            backoff.reset();
        }
        timer.execute(this::resume);
    }

    private synchronized void resume() {
        if (!waiting) {
            return; // woken (wake) before its backoff ran out: resumed once
        }
        waiting = false;
        backingOff = false;
        if (whole) {
            fetchWhole();
        } else {
            pump();
        }
    }

    /**
     * Asks for {@code part}: a whole piece, into a fill a split may join; or a split's tail,
     * which joins its holder's fill when it is in and is delivered once that fill's bytes reach it.
     * With {@code head} (piece 0 only): the probe's bytes are its start, and the rest of the piece
     * is asked for once they are in (on a new connection its bytes could come before them).
     */
    private void fetch(PieceScheduler.Part part, FirstBytes head) {
        PieceLayout layout = store.layout();
        int piece = part.piece();
        int length = layout.length(piece);
        int want = length - part.from();
        long first = layout.offset(piece);
        ByteBuffer buffer = store.pieceBuffer();
        PieceFill fill = new PieceFill(piece, length, part.from(), buffer, part.whole() ? null
                : () -> workers.execute(() -> deliverTail(piece, buffer.position(0).limit(length), want)));
        if (part.whole()) {
            scheduler.attach(id, piece, fill);
        }
        if (firstNanos == 0) {
            firstNanos = System.nanoTime();
        }
        long asked = System.nanoTime();
        boolean idle = onWire.getAndIncrement() == 0; // no answer ahead of this one on the connection
        if (idle) {
            heardNanos = asked;
        }
        long[] firstByte = {0};
        boolean[] abandoned = {false};
        RangeRequest.Body body = (offset, data) -> {
            int n = data.readableBytes();
            if (firstByte[0] == 0) {
                firstByte[0] = System.nanoTime();
                if (idle && head == null) {
                    connection.roundTrip(firstByte[0] - asked);
                }
            }
            PieceFill tail = fill.arrive((int) (offset - first), data);
            if (fill.arrived() == want) {
                onWire.decrementAndGet();
                bodyEnded(want, System.nanoTime());
            }
            arriving.addAndGet(n);
            heardNanos = System.nanoTime();
            if (tail != null) {
                tail.whenWhole.run();
            }
            if (!abandoned[0] && fill.headGiven() >= 0 && fill.arrived() < want && onWire.get() == 1
                    && scheduler.isDone(piece)) {
                // A split's tail made the piece whole: the rest of this answer is a duplicate, and
                // nothing is asked behind it on this connection, so it is closed rather than read
                // (on one link it would take the link from the pieces still coming).
                abandoned[0] = true;
                events.trace(connection.link().name() + " -> " + mirror + ": piece " + piece + " is in from its split;"
                        + " the rest of this copy is not read");
                connection.abandon();
            }
        };
        java.util.concurrent.CompletableFuture<RangeRequest.Answer> answered;
        if (head == null) {
            answered = connection.fetch(first + part.from(), want, mirror.size(), mirror.validators(), body);
        } else {
            int have = head.length();
            try {
                answered = head.handTo(body).thenCompose(a -> have == want
                        ? java.util.concurrent.CompletableFuture.completedFuture(a)
                        : connection.fetch(have, want - have, mirror.size(), mirror.validators(), body));
            } catch (IOException e) {
                answered = java.util.concurrent.CompletableFuture.failedFuture(e); // not thrown: the body writes memory
            }
        }
        answered.whenComplete((answer, failure) -> {
            if (failure == null) {
                up = true;
                state = retired ? "retired" : "up";
                backoff.reset();
                if (part.whole()) {
                    recycleWaiting(fill.close());
                    workers.execute(() -> deliver(piece, buffer.position(0).limit(length), fill));
                } else {
                    tailIn(part, fill, want);
                }
            } else {
                int received = fill.arrived();
                if (received < want) {
                    onWire.decrementAndGet();
                }
                if (abandoned[0]) {
                    // Counted as a late copy would be: what came past the tail's start was not needed.
                    bytes.addAndGet(received);
                    duplicates.incrementAndGet();
                    duplicateBytes.addAndGet(received - fill.headGiven());
                }
                recycleWaiting(fill.close());
                store.recycle(buffer);
                connection.allowance().giveBack(want - received);
                failed(piece, failure instanceof CompletionException c ? c.getCause() : failure);
            }
        });
    }

    /**
     * A split's tail is in: it joins the holder's fill (delivered now, or once the holder's
     * bytes reach it), or, the holder's request having ended, it was not needed.
     */
    private void tailIn(PieceScheduler.Part part, PieceFill fill, int want) {
        scheduler.partIn(id, part.piece(), System.nanoTime());
        switch (part.holder().joinTail(fill)) {
            case WHOLE -> fill.whenWhole.run();
            case WAITING -> { } // the holder's next bytes complete it
            case GONE -> {
                bytes.addAndGet(want);
                duplicates.incrementAndGet();
                duplicateBytes.addAndGet(want);
                store.recycle(fill.buffer);
            }
        }
        synchronized (this) {
            inFlight--;
        }
        pump();
    }

    /** A tail that waited on a fill whose request ended without reaching it: its buffer goes back. */
    private void recycleWaiting(PieceFill tail) {
        if (tail != null) {
            store.recycle(tail.buffer);
        }
    }

    /**
     * A body ended: the requests kept in flight follow the connection's rate and round trip, as
     * a biternet link's window does ({@code FlowWindow}): enough pieces to cover the rate times
     * the round trip and {@link #DEPTH_HEADROOM_SECONDS}, plus one. While the depth is what
     * limits the connection, the rate it measures is at most depth pieces a round trip, and the
     * headroom makes the next depth larger, until the link is the limit. Grows one at a time,
     * only into the download's piece memory, never past {@link #MAX_DEPTH}. Event loop.
     */
    private void bodyEnded(int length, long now) {
        long since = lastBodyEnd;
        lastBodyEnd = now;
        if (since == 0 || retired) {
            return;
        }
        double rate = length * 1e9 / Math.max(1, now - since); // bytes/s, from one body's end to the next
        bodyRate = bodyRate == 0 ? rate : 0.7 * bodyRate + 0.3 * rate;
        double want = bodyRate * (connection.minRttSeconds() + DEPTH_HEADROOM_SECONDS) / length + 1;
        // A link held at its rate= is limited by it, not by the depth: deeper, its connections
        // read past the rate (a 1 MB/s link averaged 1.32 MB/s with depth 8, 1.07 with 2).
        if (depth < want && depth < MAX_DEPTH && !connection.allowance().atRate(now) && slots.getAsInt() > 0) {
            depth++;
            events.trace(String.format(java.util.Locale.ROOT, "%s -> %s: %d requests in flight (%.1f Mbit/s, round trip"
                    + " %.0f ms)", connection.link().name(), mirror, depth, bodyRate * 8 / 1e6, connection.minRttSeconds() * 1e3));
        }
    }

    /**
     * A whole piece is in: the first copy is hashed, written and counted; a late copy is dropped
     * (of a piece a split completed, only what came after the split's tail started is a duplicate).
     * Worker thread.
     */
    private void deliver(int piece, ByteBuffer buffer, PieceFill fill) {
        try {
            int length = buffer.remaining();
            int given = fill.headGiven();
            keep(piece, buffer, true, length, given < 0 ? length : length - given);
        } finally {
            store.recycle(buffer);
            synchronized (this) {
                inFlight--;
            }
            pump();
        }
    }

    /** A split's tail joined its head: the whole piece, of which this channel fetched {@code own} bytes. Worker thread. */
    private void deliverTail(int piece, ByteBuffer buffer, int own) {
        try {
            keep(piece, buffer, true, own, own);
        } finally {
            store.recycle(buffer);
        }
    }

    /**
     * Hashes, writes and counts {@code piece} if it is the first copy; counts a late copy as a
     * duplicate ({@code lateDuplicate} of its bytes), or (a whole-file channel re-reading a piece
     * a previous run had) not at all.
     *
     * @param own the bytes of it this channel fetched
     */
    private void keep(int piece, ByteBuffer buffer, boolean claimed, int own, int lateDuplicate) {
        long now = System.nanoTime();
        lastNanos = now;
        if (!scheduler.done(id, piece, now)) {
            if (claimed) {
                bytes.addAndGet(own);
                duplicates.incrementAndGet();
                duplicateBytes.addAndGet(lateDuplicate);
            }
            return;
        }
        bytes.addAndGet(own);
        try {
            MessageDigest md = Digests.sha256();
            md.update(buffer.duplicate());
            byte[] digest = md.digest();
            store.writePiece(piece, buffer, this);
            judged(piece, hashed ? store.complete(piece, digest, this) : store.completeUnhashed(piece, digest, this));
        } catch (IOException e) {
            scheduler.undo(piece);
            events.localFailure("cannot write " + store.partPath() + ": " + e.getMessage());
        }
    }

    /**
     * The store's verdict on a piece this channel wrote: counted, or (failed, overwritten)
     * fetched again. Unhashed, a copy another source completed first counts as this channel's
     * piece (nothing tells the two apart); judged by hashes, as a duplicate. Any thread.
     */
    @Override
    public void judged(int piece, PieceStore.Outcome outcome) {
        int length = store.layout().length(piece);
        switch (outcome) {
            case VERIFIED -> pieces.incrementAndGet();
            case DUPLICATE -> {
                if (hashed) {
                    duplicates.incrementAndGet();
                    duplicateBytes.addAndGet(length);
                } else {
                    pieces.incrementAndGet();
                }
            }
            case PENDING -> { } // judged when the server's digest comes
            case FAILED -> {
                scheduler.undo(piece);
                failedPieces.incrementAndGet();
                failedBytes.addAndGet(length);
                badPiece(piece);
            }
            default -> scheduler.undo(piece);
        }
    }

    /** A piece failed the server's hash: it counts against the mirror, which goes after {@link Mirror#MAX_BAD_PIECES}. */
    private void badPiece(int piece) {
        int bad = mirror.badPiece();
        events.trace(connection.link().name() + " -> " + mirror + ": piece " + piece + " failed the biternet server's hash ("
                + bad + " of " + Mirror.MAX_BAD_PIECES + ")");
        if (bad >= Mirror.MAX_BAD_PIECES) {
            String line = mirror + ": " + bad + " pieces failed the biternet server's hash (its file differs, or its"
                    + " answers are corrupted on the way)";
            state = "dropped: " + bad + " pieces failed the hash";
            up = false;
            if (mirror.drop(line, Kind.REFUSED)) {
                events.dropped(mirror, line);
            }
            scheduler.leave(id);
        }
    }

    /**
     * Fetches the whole file in one request (a mirror that ignores Range, used alone): each piece
     * goes to the store as it fills, on the connection's event loop; after a lost connection the
     * file is asked for again from the start, and the pieces already in are not written twice.
     */
    public void startWhole() {
        whole = true;
        fetchWhole();
    }

    private void fetchWhole() {
        if (stopped) {
            return;
        }
        PieceLayout layout = store.layout();
        if (!connection.allowance().reserve(layout.fileSize())) {
            reachedCap();
            return;
        }
        ByteBuffer[] filling = {null};
        if (firstNanos == 0) {
            firstNanos = System.nanoTime();
        }
        AtomicLong received = new AtomicLong();
        connection.fetchWhole(layout.fileSize(), Validators.NONE, (offset, data) -> {
            received.addAndGet(data.readableBytes());
            while (data.isReadable()) {
                int index = (int) (offset / layout.pieceSize());
                int at = (int) (offset - layout.offset(index));
                if (filling[0] == null) {
                    filling[0] = store.pieceBuffer();
                }
                int n = Math.min(data.readableBytes(), layout.length(index) - at);
                data.readBytes(filling[0].duplicate().position(at).limit(at + n));
                offset += n;
                if (at + n == layout.length(index)) {
                    ByteBuffer piece = filling[0].position(0).limit(layout.length(index));
                    filling[0] = null;
                    keep(index, piece, false, piece.remaining(), 0);
                    store.recycle(piece);
                }
            }
        }).whenComplete((answer, failure) -> {
            if (filling[0] != null) {
                store.recycle(filling[0]);
            }
            if (failure == null) {
                up = true;
                state = "up";
            } else {
                connection.allowance().giveBack(layout.fileSize() - received.get());
                failed(-1, failure instanceof CompletionException c ? c.getCause() : failure);
            }
        });
    }

    /** A request failed; {@code piece} (-1 for a whole-file request) goes back. */
    private void failed(int piece, Throwable why) {
        lastBodyEnd = 0; // the next connection's first body starts a new measurement
        if (piece >= 0) {
            scheduler.release(id, piece);
            synchronized (this) {
                inFlight--;
            }
        }
        if (stopped) {
            return;
        }
        HttpFailure f = why instanceof HttpFailure h ? h : new HttpFailure(Kind.LOST, dev.biternet.common.cli.Causes.rootMessage(why));
        if (f.kind() == Kind.CLOSED) {
            // Not a fault (or its link's address changed): the next request goes on a new connection now.
            synchronized (this) {
                if (!waiting) {
                    waiting = true;
                    timer.execute(this::resume);
                }
            }
            return;
        }
        if (f.kind() != Kind.LOST) {
            String line = mirror + ": " + f.getMessage();
            state = "dropped: " + f.getMessage();
            up = false;
            if (mirror.drop(line, f.kind())) {
                events.dropped(mirror, line);
            }
            scheduler.leave(id);
            return;
        }
        up = false;
        scheduler.lost(id);
        boolean parked = connection.link().waiting();
        state = parked ? "parked: its interface is gone" : "lost: " + f.getMessage();
        long wait;
        synchronized (this) {
            if (waiting) {
                return; // the other request in flight failed with the same connection: one retry
            }
            waiting = true;
            backingOff = true;
            if (parked) {
                // No retries while the link's interface is gone: HttpLink.check wakes it when it returns.
                events.trace(connection.link().name() + " -> " + mirror + ": parked until the interface returns");
                return;
            }
            wait = backoff.next();
            reconnects++;
        }
        events.trace(connection.link().name() + " -> " + mirror + ": " + f.getMessage() + "; again in " + wait + " ms");
        timer.schedule(this::resume, wait, TimeUnit.MILLISECONDS);
    }
}
