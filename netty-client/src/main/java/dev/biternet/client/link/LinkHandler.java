package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.PieceData;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The client's dispatcher for one link: handshake, (on the first link) opening the session,
 * attaching, and receiving pieces. Piece bytes are gathered into one aligned buffer per piece
 * and handed to the link's {@link PieceHasher}, which hashes them on another core as they
 * arrive, so the event loop goes straight back to the socket; when the piece is complete and
 * hashed, a writer thread writes it whole at its offset ({@link PieceStore#writePiece}, with
 * {@code O_DIRECT} where the file system allows), the store judges it and the piece is
 * acknowledged, which returns window to the server.
 *
 * <p>The window (pieces this link may have unacknowledged) is {@link FlowWindow}'s, fed each
 * tick with what the link delivered and with round-trip samples: every ack carries the client's
 * clock, the server echoes it on a later block header with how long it held it, and the
 * difference is the round trip, queueing included. The round trip goes to the server with the
 * window (Credit) for its end-of-download rules.
 *
 * <p>State is confined to the channel's event loop except the futures, which other threads read.
 */
public final class LinkHandler extends ChannelInboundHandlerAdapter {
    static final int INITIAL_WINDOW = FlowWindow.INITIAL_WINDOW;
    static final int MIN_WINDOW = FlowWindow.MIN_WINDOW;
    /**
     * The window's cap in bytes: 128 pieces of 256 KiB, 32 of 1 MiB. It bounds what a link
     * holds in memory waiting for the hasher and the disk, whatever the piece size.
     */
    static final long MAX_WINDOW_BYTES = 32L << 20;
    private static final long TICK_MILLIS = 250;
    /** The client's clock for round trips: microseconds since this class loaded, never 0. */
    private static final long CLOCK_ORIGIN = System.nanoTime();
    /** A link that keeps delivering pieces that fail their hash is dropped after this many. */
    public static final int MAX_BAD_PIECES = 3;
    /**
     * An attached link that receives nothing at all for this long while the download is
     * unfinished is taken for dead (cable pulled, route blackholed: TCP does not say) and closed,
     * so it reconnects. An idle but healthy link costs only a reconnect.
     */
    static final long SILENT_NANOS = TimeUnit.SECONDS.toNanos(Long.getLong("biternet.silentSeconds", 10));

    private final LinkSpec spec;
    private final OpenSession open;
    /** Payload this link carried on earlier connections (its cap counts all of them). */
    private final long priorBytes;
    /** The link's payload over all its flows and connections, this one included (its cap counts all). */
    private java.util.function.LongSupplier linkBytes;
    /** The flows the link has now: they share its window's byte cap. */
    private java.util.function.IntSupplier linkFlows = () -> 1;
    private volatile boolean flowGroups;
    private volatile String congestionControl = "";
    /** Taking no new piece: closes once the pieces under way have come. */
    private boolean retiring;
    private volatile com.google.protobuf.ByteString sessionId;
    private volatile Error.Code serverError;
    private volatile boolean dropped;
    private long lastReadNanos;
    private final ByteString token;
    private final CompletableFuture<SessionOpened> opened = new CompletableFuture<>();
    private final CompletableFuture<String> closed = new CompletableFuture<>();
    private ChannelHandlerContext ctx;
    private PieceStore store;
    private PieceLayout layout;
    private boolean welcomed;
    private String failure;
    private boolean localFailure;
    private ScheduledFuture<?> ticker;
    private FlowWindow flow;
    private int window = INITIAL_WINDOW;
    /** The round trip last told to the server, microseconds. */
    private long sentRttUs;
    private long lastTickNanos;
    /** When Hello or Attach went out (0: no answer awaited), and the Hello-Welcome round trip in seconds. */
    private long requestNanos;
    private double handshakeRtt;

    private PieceHeader current;
    private long received;
    /** The current piece's bytes so far (from {@link PieceStore#pieceBuffer}), or null. */
    private ByteBuffer staging;
    private final PieceHasher hasher = new PieceHasher();
    /** Pieces handed to a writer thread whose outcome is not posted yet (tests wait for 0). */
    private final java.util.concurrent.atomic.AtomicInteger writing = new java.util.concurrent.atomic.AtomicInteger();

    /** Read by the main thread (caps); written on the event loop only. */
    private volatile long bytes;
    private int pieces;
    private int duplicates;
    private int failedPieces;
    private long duplicateBytes;
    private long failedBytes;
    /** Bytes of pieces the server stopped sending part-way (verified on another link). */
    private long abandonedBytes;
    private long firstByteNanos;
    private long lastByteNanos;
    private long tickBytes;
    /** The smoothed round trip in seconds, for stats (other threads); 0 until measured. */
    private volatile double rtt;
    private volatile double minRtt;
    /** What the server's TCP retransmitted on this connection (PieceHeader), -1 until it said. */
    private volatile long retransmitted = -1;

    /** @param openPath the file to open a session for on this link, or null to only attach */
    public LinkHandler(LinkSpec spec, String openPath) {
        this(spec, openPath, ByteString.EMPTY);
    }

    /** @param token the server's access token, sent in Hello (empty: none) */
    public LinkHandler(LinkSpec spec, String openPath, ByteString token) {
        this(spec, openPath == null ? null : OpenSession.newBuilder().setPath(openPath).build(), 0, token);
    }

    /**
     * @param open the OpenSession to send on this link (a resuming client's carries its pieces),
     *             or null to only attach
     * @param priorBytes payload this link carried on earlier connections
     * @param token the server's access token, sent in Hello (empty: none)
     */
    public LinkHandler(LinkSpec spec, OpenSession open, long priorBytes, ByteString token) {
        this.spec = spec;
        this.open = open;
        this.priorBytes = priorBytes;
        this.token = token;
        this.linkBytes = () -> this.priorBytes + bytes;
    }

    /**
     * Makes this connection one of a link's flows: its cap counts {@code linkBytes} (the link's
     * payload over all its flows and connections, this one's included) and its window's byte
     * cap is the link's divided among {@code linkFlows}. Before the connection is made.
     */
    public void partOf(java.util.function.LongSupplier linkBytes, java.util.function.IntSupplier linkFlows) {
        this.linkBytes = linkBytes;
        this.linkFlows = linkFlows;
    }

    /** True once the server said it holds a link's flows to one cap and rate (Welcome.flow_groups). */
    public boolean flowGroups() {
        return flowGroups;
    }

    /** What the server said its TCP retransmitted on this connection so far, bytes; -1 if it did not say. */
    public long retransmittedBytes() {
        return retransmitted;
    }

    /** The congestion control the server said it sends with (Welcome; "" until then or if it did not say). */
    public String congestionControl() {
        return congestionControl;
    }

    /**
     * The least round trip measured on this connection, seconds (0 until measured); any thread.
     * The smoothed one grows with queues and with a lossy path's repairs, which are not what
     * sets how fast TCP's flows settle.
     */
    public double minRttSeconds() {
        return minRtt;
    }

    /**
     * Takes no new piece on this connection (Credit with window 0) and closes it once the pieces
     * under way have arrived and been judged; any thread.
     */
    public void retire() {
        if (ctx == null) {
            retiring = true; // not connected yet: it never attaches
            return;
        }
        ctx.executor().execute(() -> {
            retiring = true;
            if (sessionId == null) {
                failure = "retired";
                ctx.close();
            } else if (ctx.channel().isActive()) {
                window = 0;
                ctx.writeAndFlush(Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(0)).build(),
                        ctx.voidPromise());
            }
        });
    }

    /** The session this link attached to, or null before {@link #attach}. */
    public com.google.protobuf.ByteString sessionId() {
        return sessionId;
    }

    /** The code of the Error frame the server closed this link with, or null. */
    public Error.Code serverError() {
        return serverError;
    }

    /** True if this link was closed for delivering {@value #MAX_BAD_PIECES} pieces that failed their hash. */
    public boolean dropped() {
        return dropped;
    }

    /** Closes this connection; any thread. */
    public void close() {
        if (ctx != null) {
            ctx.channel().close();
        }
    }

    /** Payload bytes received on this connection. */
    public long bytes() {
        return bytes;
    }

    public LinkSpec spec() {
        return spec;
    }

    /** Completes with the server's answer to OpenSession (opening link only). */
    public CompletableFuture<SessionOpened> opened() {
        return opened;
    }

    /** Completes with the reason when the link's channel closes. */
    public CompletableFuture<String> closed() {
        return closed;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        requestNanos = System.nanoTime();
        ctx.write(Envelope.newBuilder().setHello(Hello.newBuilder()
                .setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("biternet-get").setToken(token)).build());
        if (open != null) {
            ctx.write(Envelope.newBuilder().setOpenSession(open).build());
        }
        ctx.flush();
        ctx.fireChannelActive();
    }

    /**
     * Sends OpenSession on this link, after its Hello; any thread, once the channel is active
     * (its connect future has completed: the write is queued behind channelActive's Hello).
     */
    public void open(OpenSession request) {
        ctx.executor().execute(() -> {
            if (ctx.channel().isActive()) {
                ctx.writeAndFlush(Envelope.newBuilder().setOpenSession(request).build(), ctx.voidPromise());
            }
        });
    }

    /** Attaches this link to the session; any thread. */
    public void attach(SessionOpened session, PieceStore store) {
        attach(session, store, 0);
    }

    /**
     * Attaches this connection to the session as one of the flows of the link numbered
     * {@code flowGroup} (0: a link of one flow); any thread.
     */
    public void attach(SessionOpened session, PieceStore store, int flowGroup) {
        ctx.executor().execute(() -> {
            if (!ctx.channel().isActive() || retiring) {
                return;
            }
            this.store = store;
            this.layout = store.layout();
            this.flow = new FlowWindow(layout.pieceSize(), MAX_WINDOW_BYTES);
            // The handshake gave a first round trip: a long link's window opens from the first tick.
            roundTrip(handshakeRtt);
            requestNanos = System.nanoTime();
            this.sessionId = session.getSessionId();
            lastReadNanos = System.nanoTime();
            lastTickNanos = lastReadNanos;
            // A cap counts every connection of the link; 1 byte left lets no piece through.
            long cap = spec.capBytes() == 0 ? 0 : Math.max(1, spec.capBytes() - linkBytes.getAsLong());
            ctx.writeAndFlush(Envelope.newBuilder().setAttach(Attach.newBuilder()
                    .setSessionId(session.getSessionId()).setSecret(session.getAttachSecret())
                    .setWindow(window).setLinkName(spec.name())
                    .setCapBytes(cap).setRateLimit(spec.rateLimit()).setFlowGroup(flowGroup)).build());
            ticker = ctx.executor().scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        lastReadNanos = System.nanoTime();
        try {
            if (msg instanceof PieceData data) {
                onData(data);
            } else if (msg instanceof PieceHeader header) {
                onHeader(header);
            } else if (msg instanceof Envelope e) {
                onControl(e);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onControl(Envelope e) throws IOException {
        switch (e.getBodyCase()) {
            case WELCOME -> {
                if (e.getWelcome().getProtocolVersion() != Frames.PROTOCOL_VERSION) {
                    throw new ProtocolException(Error.Code.UNSUPPORTED_VERSION, "server speaks protocol "
                            + e.getWelcome().getProtocolVersion() + ", this client speaks " + Frames.PROTOCOL_VERSION);
                }
                welcomed = true;
                flowGroups = e.getWelcome().getFlowGroups();
                congestionControl = e.getWelcome().getCongestionControl();
                handshakeRtt = answered();
            }
            case SESSION_OPENED -> opened.complete(e.getSessionOpened());
            case ATTACHED -> {
                if (flow != null) {
                    roundTrip(answered());
                }
            }
            case PIECE_HASHES -> onHashes(e.getPieceHashes());
            case ERROR -> {
                failure = "server: " + e.getError().getMessage();
                serverError = e.getError().getCode();
                opened.completeExceptionally(new ServerError(e.getError()));
                ctx.close();
            }
            default -> throw new ProtocolException(Error.Code.BAD_STATE, "unexpected " + e.getBodyCase() + " from server");
        }
    }

    private void onHashes(PieceHashes h) throws IOException {
        if (store == null) {
            throw new ProtocolException(Error.Code.BAD_STATE, "hashes before attach");
        }
        if (!h.getRootHash().isEmpty()) {
            store.setRoot(h.getRootHash().toByteArray(), h.getFileSha256().toByteArray());
        }
        List<PieceStore.Resolved> resolved = store.addHashes(h.getFirstIndex(), h.getDigests().toByteArray());
        for (PieceStore.Resolved r : resolved) {
            ((LinkHandler) r.owner()).resolvedLater(r.index(), r.outcome());
        }
    }

    /**
     * The digest a piece's first block carries. Another link's copy of the piece may have
     * arrived before any digest did (from a server that sends them apart); it is judged now.
     */
    private void takeDigest(int index, ByteString digest) throws IOException {
        if (digest.size() != dev.biternet.common.piece.Digests.SHA256_BYTES) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + index + " carries a digest of " + digest.size()
                    + " bytes, not " + dev.biternet.common.piece.Digests.SHA256_BYTES);
        }
        for (PieceStore.Resolved r : store.addDigest(index, digest)) {
            ((LinkHandler) r.owner()).resolvedLater(r.index(), r.outcome());
        }
    }

    private void resolvedLater(int index, PieceStore.Outcome outcome) {
        ctx.executor().execute(() -> judged(index, outcome));
    }

    /**
     * A piece arrives as consecutive blocks, each with its own header. A header for a new piece
     * while the current one is unfinished means the server stopped sending the current one
     * because another link's copy was verified first: its bytes count as duplicates.
     */
    private void onHeader(PieceHeader h) throws IOException {
        if (store == null) {
            throw new ProtocolException(Error.Code.BAD_STATE, "piece before attach");
        }
        if (h.getEchoUs() != 0) {
            roundTrip((micros() - h.getEchoUs() - Integer.toUnsignedLong(h.getEchoHeldUs())) / 1e6);
        }
        if (h.hasRetransmittedBytes()) {
            retransmitted = Math.max(retransmitted, h.getRetransmittedBytes());
        }
        int index = h.getIndex();
        if (index < 0 || index >= layout.pieceCount()) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + Integer.toUnsignedString(index)
                    + " does not exist (" + layout.pieceCount() + " pieces)");
        }
        long pieceStart = layout.offset(index);
        long pieceEnd = pieceStart + layout.length(index);
        if (current != null && index == current.getIndex()) {
            if (h.getOffset() != current.getOffset() + received) {
                throw new ProtocolException(Error.Code.BAD_FRAME, "block of piece " + index + " at " + h.getOffset()
                        + " does not continue at " + (current.getOffset() + received));
            }
        } else {
            if (current != null) {
                abandonedBytes += received;
            }
            if (h.getOffset() != pieceStart) {
                throw new ProtocolException(Error.Code.BAD_FRAME, "piece " + index + " starts at " + h.getOffset()
                        + ", not at " + pieceStart);
            }
            if (!h.getDigest().isEmpty()) {
                takeDigest(index, h.getDigest());
            }
            current = h;
            received = 0;
            if (staging != null) {
                store.recycle(staging); // the abandoned piece's bytes: nobody else holds them
            }
            try {
                staging = store.pieceBuffer();
            } catch (OutOfMemoryError e) {
                // no direct memory for the piece (-XX:MaxDirectMemorySize): this machine's
                // problem, not the link's, so not a reason to reconnect
                throw new LocalWriteException("no memory for a piece buffer: " + e.getMessage(), new IOException(e));
            }
            hasher.reset();
        }
        if (h.getOffset() + Integer.toUnsignedLong(h.getLength()) > pieceEnd) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "block of piece " + index + " at " + h.getOffset() + "+"
                    + Integer.toUnsignedString(h.getLength()) + " runs past the piece's end " + pieceEnd);
        }
        if (firstByteNanos == 0) {
            firstByteNanos = System.nanoTime();
        }
    }

    private void onData(PieceData data) throws IOException {
        ByteBuf buf = data.content();
        int n = buf.readableBytes();
        if (n > 0) {
            // getBytes fills the destination up to its limit: the block's end (the header check
            // keeps every block inside its piece, so inside the buffer).
            buf.getBytes(buf.readerIndex(), staging.limit(staging.position() + n));
            // The same bytes go to the hasher, which releases them when done.
            hasher.update(buf.retain());
            received += n;
            bytes += n;
            tickBytes += n;
            lastByteNanos = System.nanoTime();
        }
        if (data.isLast() && received == layout.length(current.getIndex())) {
            int index = current.getIndex();
            current = null;
            ByteBuffer piece = staging.flip();
            staging = null;
            writing.incrementAndGet();
            // Hashed first (in order with the link's other blocks), then written and judged on a
            // writer thread: a piece two links wrote into is read back from disk there too, not
            // on the event loop, which only counts the verdict and acknowledges.
            PieceStore judge = store;
            hasher.finish(digest -> PieceWriter.execute(() -> writeAndJudge(judge, index, piece, digest)));
        }
    }

    /**
     * On a writer thread: the piece to disk, the store's verdict, and either to the event loop.
     * Whatever goes wrong fails the link (a piece without a verdict would hold a window slot
     * until the silence timer), a write error as a local one.
     */
    private void writeAndJudge(PieceStore judge, int index, ByteBuffer piece, byte[] digest) {
        try {
            PieceStore.Outcome outcome;
            try {
                judge.writePiece(index, piece, this);
                outcome = judge.complete(index, digest, this);
            } catch (IOException e) {
                LocalWriteException failed = new LocalWriteException(
                        "cannot write " + judge.partPath() + ": " + e.getMessage(), e);
                post(() -> exceptionCaught(ctx, failed));
                return;
            } catch (RuntimeException | java.lang.Error e) {
                post(() -> exceptionCaught(ctx, e));
                return;
            } finally {
                judge.recycle(piece);
            }
            post(() -> judged(index, outcome));
        } finally {
            writing.decrementAndGet();
        }
    }

    /** Runs {@code task} on this link's event loop, unless the loop is gone (the download is over). */
    private void post(Runnable task) {
        try {
            ctx.executor().execute(task);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // nothing waits for it any more
        }
    }

    /** Counts the store's verdict on a piece of this link and tells the server (event loop). */
    private void judged(int index, PieceStore.Outcome outcome) {
        switch (outcome) {
            case VERIFIED -> {
                pieces++;
                ack(index, true);
            }
            case DUPLICATE -> {
                duplicates++;
                duplicateBytes += layout.length(index);
                ack(index, true);
            }
            case FAILED -> {
                failedPieces++;
                failedBytes += layout.length(index);
                ack(index, false);
                dropIfBad();
            }
            case OVERWRITTEN -> {
                // Not this link's fault: another copy wrote into the piece. Fetched again.
                duplicateBytes += layout.length(index);
                ack(index, false);
            }
            case PENDING -> { }
        }
    }

    /**
     * A link whose pieces keep failing their hash (a corrupting middlebox, bad memory on a
     * router) costs every other link time: after {@value #MAX_BAD_PIECES} it is closed for good.
     * Its failed pieces went back to the server with the negative acks and are sent again.
     */
    private void dropIfBad() {
        if (failedPieces >= MAX_BAD_PIECES && !dropped) {
            dropped = true;
            failure = failedPieces + " pieces failed their hash";
            ctx.close();
        }
    }

    private void ack(int index, boolean ok) {
        if (!ctx.channel().isActive()) {
            return;
        }
        ctx.writeAndFlush(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(index).setOk(ok)
                .setSentUs(micros())).build(), ctx.voidPromise());
    }

    /** One round-trip sample, seconds, into the window and the stats (impossible ones are ignored). */
    private void roundTrip(double seconds) {
        flow.rttSample(seconds);
        rtt = flow.rtt();
        minRtt = flow.minRtt();
    }

    /** Seconds since the request now answered went out (0 if none was awaited). */
    private double answered() {
        double seconds = requestNanos == 0 ? 0 : (System.nanoTime() - requestNanos) / 1e9;
        requestNanos = 0;
        return seconds;
    }

    private static long micros() {
        return (System.nanoTime() - CLOCK_ORIGIN) / 1000 + 1;
    }

    private void tick() {
        if (System.nanoTime() - lastReadNanos > SILENT_NANOS && !capReached() && !store.allVerified().isDone()) {
            if (failure == null) {
                failure = "nothing received for " + TimeUnit.NANOSECONDS.toSeconds(SILENT_NANOS) + " s";
            }
            ctx.close();
            return;
        }
        long now = System.nanoTime();
        if (retiring) {
            // Closed once nothing is under way: no piece half-received or being written, and
            // quiet for two round trips (a piece the server started is on its way by then).
            long quiet = Math.max(TimeUnit.MILLISECONDS.toNanos(500), (long) (2e9 * flow.rtt()));
            if (current == null && writing.get() == 0 && now - lastReadNanos > quiet) {
                failure = "retired";
                ctx.close();
            }
            return;
        }
        flow.maxBytes(MAX_WINDOW_BYTES / Math.max(1, linkFlows.getAsInt()));
        int wanted = flow.tick(tickBytes, (now - lastTickNanos) / 1e9);
        tickBytes = 0;
        lastTickNanos = now;
        long rttUs = (long) (flow.rtt() * 1e6);
        // The server hears of a new round trip when it moved by more than an eighth.
        boolean rttMoved = Math.abs(rttUs - sentRttUs) * 8 > sentRttUs;
        if ((wanted != window || rttMoved) && ctx.channel().isActive()) {
            window = wanted;
            sentRttUs = rttUs;
            ctx.writeAndFlush(Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(window)
                    .setRttUs((int) Math.min(rttUs, Integer.MAX_VALUE))).build(), ctx.voidPromise());
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (failure == null) {
            failure = String.valueOf(c.getMessage());
            localFailure = c instanceof LocalWriteException;
        }
        opened.completeExceptionally(c);
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ticker != null) {
            ticker.cancel(false);
        }
        if (staging != null) {
            store.recycle(staging);
            staging = null;
        }
        if (!welcomed && failure == null) {
            failure = "connection closed during handshake";
        }
        opened.completeExceptionally(new IOException(failure == null ? "connection closed" : failure));
        closed.complete(failure == null ? "closed" : failure);
        ctx.fireChannelInactive();
    }

    /**
     * True once this link cannot take another piece without passing its cap (the server stops
     * giving it pieces then); any thread, may lag by one event.
     */
    public boolean capReached() {
        return spec.capBytes() > 0 && layout != null && linkBytes.getAsLong() + layout.pieceSize() > spec.capBytes();
    }

    /** Waits until the pieces received so far are hashed and their outcome queued on the event loop (tests). */
    void awaitHashing() throws InterruptedException {
        hasher.awaitIdle();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (writing.get() > 0) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("writing did not finish in 10 s");
            }
            Thread.sleep(1);
        }
    }

    /** True if the link stopped because the local file could not be written. */
    public boolean failedLocally() {
        return localFailure;
    }

    /** A snapshot of this link's counters; any thread (values may lag by one event). */
    public LinkStats stats() {
        double seconds = firstByteNanos == 0 ? 0 : (Math.max(lastByteNanos, firstByteNanos) - firstByteNanos) / 1e9;
        String state = dropped ? "dropped: " + failure
                : closed.isDone() ? (failure == null ? "closed" : "failed: " + failure) : "up";
        // A piece still arriving when the download finished was verified elsewhere: a duplicate.
        long partial = current != null ? received : 0;
        return new LinkStats(spec.name(), localAddressText(), bytes, pieces, duplicates,
                duplicateBytes + abandonedBytes + partial,
                failedPieces, failedBytes, seconds, state, spec.capBytes(), spec.rateLimit(), 0, dropped, rtt * 1e3, 1);
    }

    private String localAddressText() {
        if (ctx != null && ctx.channel().localAddress() instanceof java.net.InetSocketAddress a) {
            return io.netty.util.NetUtil.toAddressString(a.getAddress());
        }
        return spec.addressText();
    }

    /** Writing to the local file failed (disk full, I/O error): not the link's fault. */
    public static final class LocalWriteException extends IOException {
        private static final long serialVersionUID = 1L;

        LocalWriteException(String message, IOException cause) {
            super(message, cause);
        }
    }

    /** The server answered with an Error frame. */
    public static final class ServerError extends IOException {
        private static final long serialVersionUID = 1L;
        private final Error.Code code;

        public ServerError(Error error) {
            super(error.getMessage());
            this.code = error.getCode();
        }

        public Error.Code code() {
            return code;
        }
    }
}
