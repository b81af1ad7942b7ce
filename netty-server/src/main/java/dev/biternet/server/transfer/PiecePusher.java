package dev.biternet.server.transfer;

import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.PieceHeader;
import dev.biternet.server.security.ErrorClose;
import dev.biternet.server.session.LinkBudget;
import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.RateBoard;
import dev.biternet.server.session.Session;
import dev.biternet.server.session.SessionLink;
import dev.biternet.server.session.StoreException;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Credit-based piece sender for one attached channel (the flow-control stage).
 *
 * <p>The client grants a window: how many pieces this channel may have unacknowledged. The
 * pusher claims a piece from the session's allocator only when the window has room, the channel
 * is writable and the previous piece has been fully handed to the kernel, so a piece is claimed
 * as late as possible and a slow link never queues pieces a fast one could take. Each piece
 * goes out as header frames (the first carries the piece's digest) and {@link SharedFileRegion}s (sendfile; with TLS a
 * {@link SharedChunkedFile}, read and encrypted in chunks); the next claim starts
 * from the write's listener, and again on acks, window changes, writability and wake-ups.
 *
 * <p>All state is confined to the channel's event loop; {@link #wake()} and {@link #send} may be
 * called from any thread.
 */
public final class PiecePusher extends ChannelInboundHandlerAdapter implements SessionLink {
    /** Largest window a client may ask for. */
    public static final int MAX_WINDOW = 1024;
    private static final long ENDGAME_RETRY_MILLIS = 20;
    private static final int NO_PIECE = -1;
    /** Further from the end than this many of its own piece times, a link claims without weighing it. */
    private static final double FAR_FROM_END = 4;
    /** A link's rate counts for the end-of-download decisions only after this many acks. */
    private static final int MIN_RATE_SAMPLES = 2;
    /** Longest round trip a client may report (a minute); more is taken as a minute. */
    private static final int MAX_RTT_US = 60_000_000;
    /**
     * Pieces go out in blocks of this size, each with its own header: between blocks the pusher
     * can stop sending a piece that another link's copy already completed.
     */
    public static final int BLOCK_SIZE = 128 << 10;

    /**
     * Unsent bytes a link's socket may hold before it stops being writable
     * ({@code TCP_NOTSENT_LOWAT}, set on epoll by the server's bootstrap): the pusher then claims
     * its next piece only once the link has nearly sent what it has, and {@link EndgameRule}
     * counts this much as already queued on a link.
     */
    public static final long NOTSENT_LOWAT = Long.getLong("biternet.notsentLowat", 128 << 10);
    /**
     * User event: send nothing more on this connection (the server is about to write its last
     * frame, an Error, and close). Fired before that frame, on the same event loop, so no block
     * can follow it.
     */
    public static final Object STOP = new Object();

    private final int blockSize;
    private boolean stopped;
    private final AtomicBoolean wakeQueued = new AtomicBoolean();
    private final Set<Integer> unacked = new HashSet<>();
    private ChannelHandlerContext ctx;
    private Session session;
    private int linkId;
    private int window;
    private boolean sending;
    /** The piece being sent, block by block, or NO_PIECE; and the next and end offsets in the file. */
    private int piece = NO_PIECE;
    /** The link's cap and rate, shared with its other flows ({@link LinkBudget}). */
    private LinkBudget budget;
    private int flowGroup;
    private boolean pacingQueued;
    private long pieceNext;
    private long pieceEnd;
    private long bytesSent;
    private long piecesSent;
    private final DeliveryRate delivery = new DeliveryRate();
    private long lastAckNanos;
    /** The client's round trip on this channel (Credit.rtt_us), seconds; 0: unknown. */
    private double rtt;
    /** The latest Ack.sent_us not echoed yet (0: none), and when that ack arrived. */
    private long echoUs;
    private long echoArrivedNanos;
    private boolean retryQueued;
    /** Reused for every TCP_INFO read (epoll only). */
    private final io.netty.channel.epoll.EpollTcpInfo tcpInfo = new io.netty.channel.epoll.EpollTcpInfo();
    private boolean chunked;
    /** Unread bytes beyond which a DigestRequest is not answered (16 MiB: two whole-file answers). */
    static final long MAX_UNREAD_DIGEST_BYTES = 16L << 20;
    /** Reading stopped until the client reads its digests' answers ({@link #answerDigests}). */
    private boolean readsHeld;

    public PiecePusher() {
        this(BLOCK_SIZE);
    }

    public PiecePusher(int blockSize) {
        if (blockSize < 1) {
            throw new IllegalArgumentException("block size " + blockSize);
        }
        this.blockSize = blockSize;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        // With TLS the bytes must be encrypted: read them in chunks instead of sendfile.
        this.chunked = ctx.pipeline().get(SslHandler.class) != null;
    }

    /**
     * Attaches this channel to a session; called on the event loop by the dispatcher, which
     * passes in how to answer (the answer must precede the hashes and pieces that follow).
     */
    /** The window of a channel attached standing by (Attach.standby): no piece until a Credit opens it. */
    public static final int STANDBY = -1;

    public int attach(Session session, int window, java.util.function.IntConsumer answer) {
        return attach(session, window, 0, 0, 0, 0, answer);
    }

    /**
     * Attaches with the link's limits: at most {@code capBytes} of piece payload in total and
     * at most {@code rateLimit} bytes per second (0: none), shared with the channels attached
     * with the same nonzero {@code flowGroup} ({@link Session#joinBudget}; {@code capAdded}:
     * Attach.cap_added). A {@code window} of {@link #STANDBY} attaches it with no window.
     */
    public int attach(Session session, int window, long capBytes, long rateLimit, int flowGroup, long capAdded,
                      java.util.function.IntConsumer answer) {
        assert ctx.executor().inEventLoop();
        if (this.session != null) {
            throw new IllegalStateException("already attached");
        }
        this.window = window == STANDBY ? 0 : clampWindow(window);
        this.linkId = session.attach(this, answer);
        if (linkId > 0) {
            this.session = session;
            this.flowGroup = flowGroup;
            this.budget = session.joinBudget(flowGroup, capBytes, rateLimit, capAdded);
            pump();
        }
        return linkId;
    }

    public boolean attached() {
        return session != null;
    }

    /**
     * True while the link's rate limit holds back its next block: the link is quiet on purpose,
     * not idle (a link paced to a few kB/s may send one block a minute).
     */
    public boolean paced() {
        return pacingQueued;
    }

    public long bytesSent() {
        return bytesSent;
    }

    public long piecesSent() {
        return piecesSent;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (session != null && msg instanceof Envelope e) {
            switch (e.getBodyCase()) {
                case ACK -> {
                    onAck(e.getAck());
                    return;
                }
                case CREDIT -> {
                    // 0 is allowed here (not at attach): the client retires this channel and
                    // takes no new piece on it; the pieces under way still come.
                    window = e.getCredit().getWindow() == 0 ? 0 : clampWindow(e.getCredit().getWindow());
                    rtt = Math.min(Integer.toUnsignedLong(e.getCredit().getRttUs()), MAX_RTT_US) / 1e6;
                    pump();
                    return;
                }
                case LINK_LIMITS -> {
                    // O(1) under the budget's lock, whatever the values: a flood costs only reading it.
                    if (budget.limit(e.getLinkLimits().getCapAdded(), e.getLinkLimits().getRateLimit())) {
                        session.wakeAll(); // the link's flows held by the cap may start pieces again
                    }
                    return;
                }
                case CLAIM, UNCLAIM -> {
                    session.clientClaim(e);
                    return;
                }
                case DIGEST_REQUEST -> {
                    answerDigests(ctx, e);
                    return;
                }
                default -> { }
            }
        }
        ctx.fireChannelRead(msg);
    }

    private void onAck(Ack ack) {
        if (ack.getSentUs() != 0) {
            echoUs = ack.getSentUs();
            echoArrivedNanos = System.nanoTime();
        }
        if (!unacked.remove(ack.getIndex())) {
            return;
        }
        recordAck(session.layout().length(ack.getIndex()));
        PieceAllocator allocator = session.allocator();
        if (ack.getOk()) {
            session.complete(ack.getIndex());
        } else {
            allocator.release(linkId, ack.getIndex());
            session.wakeAll();
        }
        pump();
    }

    /**
     * Answers a DigestRequest (up to 8 MiB for a file of 262,144 pieces). A client that leaves
     * the answers unread is not read from until it has caught up, and a request that finds more
     * than {@link #MAX_UNREAD_DIGEST_BYTES} waiting for it is not answered (the client asks
     * again for what it still lacks; a slow link may still be reading an earlier answer): a
     * peer asking again and again without reading would otherwise grow this channel's outbound
     * buffer without bound.
     */
    private void answerDigests(ChannelHandlerContext ctx, Envelope e) {
        io.netty.channel.Channel ch = ctx.channel();
        io.netty.channel.ChannelOutboundBuffer queued = ch.unsafe().outboundBuffer();
        if (queued != null && queued.totalPendingWriteBytes() > MAX_UNREAD_DIGEST_BYTES) {
            return;
        }
        session.digests(e.getDigestRequest()).forEach(this::send);
        if (!ch.isWritable()) {
            ch.config().setAutoRead(false);
            readsHeld = true;
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (readsHeld && ctx.channel().isWritable()) {
            readsHeld = false;
            ctx.channel().config().setAutoRead(true);
        }
        pump();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (session != null) {
            session.rates().forget(linkId);
            session.detach(linkId);
            if (piece != NO_PIECE) {
                giveBack();
            }
            session.leaveBudget(flowGroup, budget);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt == STOP) {
            stopped = true;
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }

    private void pump() {
        try {
            pumpOnce();
        } catch (StoreException e) {
            // From a write's listener too (where a throw would only be logged): the dispatcher
            // tells the client and closes.
            ctx.fireExceptionCaught(e);
        }
    }

    private void pumpOnce() {
        wakeQueued.set(false);
        if (stopped || session == null || sending || !ctx.channel().isActive() || !ctx.channel().isWritable()) {
            return;
        }
        PieceAllocator allocator = session.allocator();
        if (piece != NO_PIECE && !allocator.wanted(piece)) {
            // Another link's copy was verified first (or the client withdrew it): stop sending
            // this one at a block boundary.
            unacked.remove(piece);
            giveBack();
        }
        if (piece == NO_PIECE && !startPiece(allocator)) {
            return;
        }
        sendBlock();
    }

    /**
     * Drops the current piece part-way: the bytes not sent go back to the link's cap, where
     * another flow of the link may be waiting for them.
     */
    private void giveBack() {
        budget.giveBack(pieceEnd - pieceNext);
        piece = NO_PIECE;
        if (budget.capped()) {
            session.wakeAll();
        }
    }

    /** Claims the next piece if the window has room and it is worth it; false if none. */
    private boolean startPiece(PieceAllocator allocator) {
        if (unacked.size() >= window) {
            return false;
        }
        long pieceSize = session.layout().pieceSize();
        // The link's data cap: it takes no piece it could not carry whole; the others finish.
        // (Booked before the claim, so two flows of one link cannot both take the last room.)
        if (session.fileChanged() || !budget.book(pieceSize, pieceSize)) {
            return false;
        }
        boolean refrained = refrain(allocator);
        // A cluster's claim is a store round trip: not waited for here, where every channel of the
        // loop would wait with it; the allocator wakes this link when the answer is in.
        int index = refrained ? PieceAllocator.NONE : allocator.claimOrWake(linkId, this::worthCopying, this::wake);
        if (index != PieceAllocator.NONE) {
            budget.giveBack(pieceSize - session.layout().length(index));
        } else {
            budget.giveBack(pieceSize);
            if (allocator.remaining() > 0 && (refrained || allocator.unclaimed() == 0) && !retryQueued) {
                // Near the end: in-flight pieces elsewhere may become worth copying as they
                // age, or this link worth using again as others drain. Look again soon.
                retryQueued = true;
                ctx.executor().schedule(() -> {
                    retryQueued = false;
                    pump();
                }, ENDGAME_RETRY_MILLIS, TimeUnit.MILLISECONDS);
            }
            return false;
        }
        if (unacked.isEmpty()) {
            lastAckNanos = System.nanoTime();
        }
        unacked.add(index);
        reportLoad();
        piece = index;
        pieceNext = session.layout().offset(index);
        pieceEnd = pieceNext + session.layout().length(index);
        piecesSent++;
        return true;
    }

    /** Sends the next block of the current piece: a header frame and a FileRegion. */
    private void sendBlock() {
        long wait = budget.pace(System.nanoTime(), Math.min(blockSize, pieceEnd - pieceNext));
        if (wait > 0) {
            // Paced: the link's rate limit says this block may go only later.
            if (!pacingQueued) {
                pacingQueued = true;
                ctx.executor().schedule(() -> {
                    pacingQueued = false;
                    pump();
                }, wait, TimeUnit.NANOSECONDS);
            }
            return;
        }
        long offset = pieceNext;
        int length = (int) Math.min(blockSize, pieceEnd - offset);
        PieceHeader.Builder hb = PieceHeader.newBuilder().setIndex(piece).setOffset(offset).setLength(length);
        if (offset == session.layout().offset(piece)) {
            // The piece's digest rides on its first block: the client can judge the piece as
            // soon as it has it, whatever happened to the other links.
            hb.setDigest(session.digest(piece));
        }
        if (echoUs != 0) {
            // The client's clock comes back with how long it waited here: its round trip.
            long held = (System.nanoTime() - echoArrivedNanos) / 1000;
            hb.setEchoUs(echoUs).setEchoHeldUs((int) Math.min(held, Integer.MAX_VALUE));
            echoUs = 0;
            long retransmitted = retransmittedBytes();
            if (retransmitted >= 0) {
                hb.setRetransmittedBytes(retransmitted);
            }
        }
        PieceHeader header = hb.build();
        pieceNext += length;
        if (pieceNext == pieceEnd) {
            piece = NO_PIECE;
        }
        Object body;
        try {
            body = chunked ? new SharedChunkedFile(session.file(), offset, length) : new SharedFileRegion(session.file(), offset, length);
        } catch (java.io.IOException e) {
            ctx.channel().close();
            return;
        }
        sending = true;
        ctx.write(Frames.pieceHeader(ctx.alloc(), header), ctx.voidPromise());
        ctx.writeAndFlush(body).addListener((ChannelFutureListener) f -> {
            sending = false;
            if (f.isSuccess()) {
                bytesSent += length;
                session.addBytesSent(length);
                pump();
            } else {
                f.channel().close();
            }
        });
    }

    /**
     * Near the end a link should not start a piece that the others would deliver sooner, and a
     * slow link none it would finish after the others have finished everything else: the
     * download would then wait for it (or for an endgame copy). It stays idle instead; the
     * others take the piece ({@link EndgameRule#refrain}, fed with every link's rate, round trip
     * and estimated backlog). The link that would deliver a piece soonest when idle never
     * refrains, so some link always claims and the download cannot stall.
     */
    private boolean refrain(PieceAllocator allocator) {
        reportLoad();
        long pieceSize = session.layout().pieceSize();
        if (delivery.samples() < MIN_RATE_SAMPLES || rtt + pieceSize / rate() <= session.rates().soonestDelivery(pieceSize)) {
            return false;
        }
        double others = session.rates().totalRate() - rate();
        double left = (double) (allocator.unclaimed() + allocator.inFlight()) * pieceSize;
        if (left / others > FAR_FROM_END * pieceSize / rate() + rtt) {
            return false;
        }
        // Near the end: which links should take the last pieces (EndgameRule.refrain).
        RateBoard.Others load = session.rates().others(linkId);
        return EndgameRule.refrain(pieceSize, rate(), session.rates().backlog(linkId), rtt, load.bytesPerSecond(),
                load.backlogBytes(), load.rttSeconds(),
                allocator.unclaimed());
    }

    /**
     * What TCP has retransmitted on this channel (segments x MSS), from TCP_INFO; -1 where the
     * transport cannot tell (NIO, io_uring). The client judges from it whether the path loses
     * packets at random, where more flows carry more under a loss-based congestion control.
     */
    private long retransmittedBytes() {
        if (ctx.channel() instanceof io.netty.channel.epoll.EpollSocketChannel epoll && epoll.isActive()) {
            try {
                io.netty.channel.epoll.EpollTcpInfo info = epoll.tcpInfo(tcpInfo);
                return info.totalRetrans() * info.sndMss();
            } catch (RuntimeException e) {
                return -1;
            }
        }
        return -1;
    }

    /** The link's delivery rate in bytes/s ({@link DeliveryRate}); 0 before its first timed ack. */
    private double rate() {
        return delivery.bytesPerSecond();
    }

    private void reportLoad() {
        session.rates().report(linkId, rate(), unacked.size(), lastAckNanos, rtt);
    }

    /**
     * The link's delivery rate ({@link DeliveryRate}), from the spacing of acks while pieces were
     * outstanding: what the client really received and verified, not what the kernel buffered.
     */
    private void recordAck(int length) {
        long now = System.nanoTime();
        if (lastAckNanos != 0) {
            delivery.ack(length, now - lastAckNanos);
        }
        lastAckNanos = unacked.isEmpty() ? 0 : now;
        reportLoad();
    }

    /** {@link EndgameRule}, with this link's and the holder's measured rates and this link's backlog. */
    private boolean worthCopying(int index, int holder, long ageNanos) {
        RateBoard board = session.rates();
        return EndgameRule.worthCopying(session.layout().length(index), rate(), board.backlog(linkId), rtt,
                board.rate(holder), board.rtt(holder), NOTSENT_LOWAT, ageNanos / 1e9);
    }

    /** The wire's window is a uint32: 2^31 and more are large, not negative. */
    private static int clampWindow(int window) {
        return (int) Math.max(1, Math.min(MAX_WINDOW, Integer.toUnsignedLong(window)));
    }

    @Override
    public void wake() {
        if (wakeQueued.compareAndSet(false, true)) {
            ctx.executor().execute(this::pump);
        }
    }

    @Override
    public void send(Envelope envelope) {
        ctx.channel().writeAndFlush(envelope, ctx.channel().voidPromise());
    }

    @Override
    public void fail(Envelope error) {
        ErrorClose.send(ctx.channel(), error);
    }
}
