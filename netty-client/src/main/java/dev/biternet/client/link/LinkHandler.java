package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.PieceData;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The client's dispatcher for one connection of a link: it says and hears the handshake
 * ({@link Handshake}), opens the session (on the first link), attaches, and hands each message
 * to whom it concerns: a piece's blocks and the digests to the connection's
 * {@link PieceReceiver}, round trips and each tick's delivery to its {@link FlowCredit}, whose
 * window goes to the server as Credit, what comes before the store is given to
 * {@link HeldReads}, a silence the {@link SilenceWatch} stage reports to the close it calls for.
 * It owns the connection's life: attached, standing by, retiring; why it ended is kept by its
 * {@link Ending}.
 *
 * <p>State belongs to the channel's event loop. Other threads call the commands (open, attach,
 * stand by, retire, close), which hop onto it, and read only the futures and the volatile
 * fields: the session, the server's error, why it closed and whether it was dropped (the link's
 * flows), what Welcome said and the round trips (the link), and the receiver's counters
 * ({@link #stats}, {@link #bytes}).
 */
public final class LinkHandler extends ChannelInboundHandlerAdapter {
    static final int INITIAL_WINDOW = FlowWindow.INITIAL_WINDOW;
    private static final long TICK_MILLIS = 250;

    private final LinkSpec spec;
    private final OpenSession open;
    /** The link's payload over all its flows and connections, this one included (its cap counts all). */
    private java.util.function.LongSupplier linkBytes;
    /** The flows the link has now: they share its window's byte cap. */
    private java.util.function.IntSupplier linkFlows = () -> 1;
    private final Handshake handshake;
    /** What arrives after SessionOpened on a connection the server attached as it opened, until the store is given. */
    private final HeldReads held = new HeldReads();
    /** Taking no new piece: closes once the pieces under way have come. */
    private volatile boolean retiring;
    /**
     * A backup link standing by: attached with no window (Attach.standby), sent a Credit of 0
     * now and then so the server does not take it for idle ({@link FlowCredit}), and not judged
     * by its silence.
     */
    private volatile boolean standby;
    private volatile ByteString sessionId;
    private long lastReadNanos;
    private long attachNanos;
    private final CompletableFuture<SessionOpened> opened = new CompletableFuture<>();
    private final CompletableFuture<String> closed = new CompletableFuture<>();
    private ChannelHandlerContext ctx;
    private PieceStore store;
    private volatile PieceLayout layout;
    private volatile PieceReceiver receiver;
    private volatile PieceReceiver.RootSink roots;
    /** Why the connection closed (or is closing), for {@link #closed} and {@link #stats}. */
    private final Ending ending = new Ending();
    private ScheduledFuture<?> ticker;
    /** The window granted the server and the round trips it is sized from. */
    private final FlowCredit credit = new FlowCredit();
    /** What the server's TCP retransmitted on this connection (PieceHeader), -1 until it said. */
    private volatile long retransmitted = -1;
    /** The link's cap and rate at this server now (the user's, or its part with several sources). */
    private volatile LinkLimit limit;
    /** This connection's Attach went out: it holds a part of {@link #limit} until it closes. Event loop. */
    private boolean holding;
    /** The limits the server has from this connection (its Attach's, then LinkLimits). Event loop. */
    private LinkLimit.Now sentLimits;

    /** @param openPath the file to open a session for on this link, or null to only attach */
    public LinkHandler(LinkSpec spec, String openPath) {
        this(spec, openPath == null ? null : OpenSession.newBuilder().setPath(openPath).build(), ByteString.EMPTY);
    }

    /**
     * @param open the OpenSession to send on this link (a resuming client's carries its pieces),
     *             or null to only attach
     * @param token the server's access token, sent in Hello (empty: none)
     */
    public LinkHandler(LinkSpec spec, OpenSession open, ByteString token) {
        this(spec, open, token, dev.biternet.common.wire.Frames.OLDEST_PROTOCOL_VERSION);
    }

    /** @param version the protocol the connection speaks (2: one of several servers, client claims) */
    public LinkHandler(LinkSpec spec, OpenSession open, ByteString token, int version) {
        this.spec = spec;
        this.open = open;
        this.handshake = new Handshake(spec, token, version);
        this.linkBytes = this::bytes;
        this.limit = new LinkLimit(spec.options());
    }

    /** This connection's link's limits at its server, shared by the link's connections. Before the connection is made. */
    public void limitedBy(LinkLimit limit) {
        this.limit = limit;
    }

    /** The limits its Attach carries: from now on this connection holds a part of them. Event loop. */
    private LinkLimit.Now holdLimit() {
        if (!holding) {
            holding = true;
            sentLimits = limit.hold();
        } else {
            sentLimits = limit.now();
        }
        return sentLimits;
    }

    /**
     * Tells the server the link's limits now (LinkLimits) if they changed since it was told, this
     * connection is attached and the server honours that (Welcome.link_limits); any thread.
     */
    public void sendLimits() {
        ChannelHandlerContext c = ctx;
        if (c == null || !handshake.linkLimits()) {
            return;
        }
        c.executor().execute(() -> {
            LinkLimit.Now now = limit.now();
            if (sessionId == null || !holding || now.equals(sentLimits) || !c.channel().isActive()) {
                return;
            }
            sentLimits = now;
            c.writeAndFlush(Envelope.newBuilder().setLinkLimits(dev.biternet.proto.LinkLimits.newBuilder()
                    .setCapAdded(now.capAdded()).setRateLimit(now.rateLimit())).build(), c.voidPromise());
        });
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
        return handshake.flowGroups();
    }

    /** True once the server said it answers DigestRequest (Welcome.digests_on_request). */
    public boolean digestsOnRequest() {
        return handshake.digestsOnRequest();
    }

    /** True once the server said it takes a link's new cap and rate while attached (Welcome.link_limits). */
    public boolean linkLimits() {
        return handshake.linkLimits();
    }

    /** What the server said its TCP retransmitted on this connection so far, bytes; -1 if it did not say. */
    public long retransmittedBytes() {
        return retransmitted;
    }

    /** The congestion control the server said it sends with (Welcome; "" until then or if it did not say). */
    public String congestionControl() {
        return handshake.congestionControl();
    }

    /**
     * The least round trip measured on this connection, seconds (0 until measured); any thread.
     * The smoothed one grows with queues and with a lossy path's repairs, which are not what
     * sets how fast TCP's flows settle.
     */
    public double minRttSeconds() {
        return credit.minRtt();
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
                close("retired");
            } else if (ctx.channel().isActive()) {
                send(credit.retire());
            }
        });
    }

    /** The session this link attached to, or null before {@link #attach}. */
    public ByteString sessionId() {
        return sessionId;
    }

    /** The code of the Error frame the server closed this link with, or null. */
    public Error.Code serverError() {
        return ending.serverError();
    }

    /** True if this connection was closed for delivering {@value PieceReceiver#MAX_BAD_PIECES} pieces that failed their hash. */
    public boolean dropped() {
        return ending.dropped();
    }

    /** True once this handler was given a channel (connecting or connected); false for a parked link's placeholder. */
    boolean dialed() {
        return ctx != null;
    }

    /** Closes this connection; any thread. */
    public void close() {
        if (ctx != null) {
            ctx.channel().close();
        }
    }

    /** Payload bytes received on this connection; any thread. */
    public long bytes() {
        PieceReceiver r = receiver;
        return r == null ? 0 : r.bytes();
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
        credit.asked(System.nanoTime());
        ctx.write(handshake.hello());
        if (open != null) {
            ctx.write(Envelope.newBuilder().setOpenSession(open).build());
        }
        ctx.flush();
        ctx.fireChannelActive();
    }

    /**
     * Sends OpenSession asking the server to attach this connection too, as one of the flows of
     * the link numbered {@code flowGroup}: pieces come one round trip after the connect, not
     * two. A server that does not say it honours that (Welcome.open_attaches) gets an Attach
     * from {@link #attach} as usual. Any thread, once the channel is active.
     */
    public void openAndAttach(OpenSession request, int flowGroup) {
        ctx.executor().execute(() -> {
            if (ctx.channel().isActive()) {
                ctx.writeAndFlush(handshake.openAndAttach(request, credit.window(), standby, linkBytes.getAsLong(), flowGroup,
                        holdLimit()), ctx.voidPromise());
            }
        });
    }

    /**
     * Stands this connection by (no new piece: Credit 0) or sets it to work again (its window);
     * any thread. Before the connection attaches, it attaches that way.
     */
    public void standBy(boolean on) {
        if (ctx == null) {
            standby = on;
            return;
        }
        ctx.executor().execute(() -> {
            if (standby == on) {
                return;
            }
            standby = on;
            if (!credit.attached() || !ctx.channel().isActive() || retiring) {
                return; // not attached yet: its Attach says it
            }
            if (!on) {
                // Judged by its silence from now on, not since it attached.
                attachNanos = ctx.executor().ticker().nanoTime();
            }
            send(credit.standBy(on, System.nanoTime(), receiver.bytes()));
        });
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
            Handshake.Attachment how = handshake.attachment(opened, session.getSessionId());
            if (how == Handshake.Attachment.AWAIT_OPEN) {
                // A longer link than the one that answered first.
                opened.whenComplete((s, e) -> attach(session, store, flowGroup));
                return;
            }
            if (how == Handshake.Attachment.OTHER_SESSION) {
                close("the server opened another session on this connection"); // it connects again
                return;
            }
            this.store = store;
            this.layout = store.layout();
            this.receiver = new PieceReceiver(store, new ReceivingChannel(ctx, credit, ending, c -> exceptionCaught(ctx, c)),
                    roots != null ? roots : store::setRoot);
            this.sessionId = session.getSessionId();
            lastReadNanos = System.nanoTime();
            attachNanos = ctx.executor().ticker().nanoTime();
            // Asked by Attach, its answer is a round trip; attached by the open, an Attached held is none now.
            credit.attach(layout.pieceSize(), store.budget().share(), lastReadNanos, how == Handshake.Attachment.ASK);
            ticker = ctx.executor().scheduleAtFixedRate(this::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
            if (how == Handshake.Attachment.BY_OPEN) {
                held.replay(ctx, this::dispatchHeld);
            } else {
                ctx.writeAndFlush(Envelope.newBuilder().setAttach(handshake.attach(session.getSessionId(),
                        session.getAttachSecret(), credit.window(), standby, linkBytes.getAsLong(), flowGroup, holdLimit())).build());
            }
        });
    }

    /** Messages held until the store is given (tests); read on the event loop's behalf, may lag. */
    int heldCount() {
        return held.count();
    }

    /** One message held until the store was given. */
    private void dispatchHeld(Object msg) {
        try {
            channelRead(ctx, msg);
        } catch (Exception e) {
            exceptionCaught(ctx, e);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        lastReadNanos = System.nanoTime();
        if (held.hold(ctx, msg)) {
            return; // attached as it opened, the store not given yet: kept for later, no more read
        }
        try {
            if (msg instanceof PieceData data) {
                receiver("piece").onData(data);
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
                handshake.welcome(e.getWelcome());
                credit.welcomed(System.nanoTime());
            }
            case SESSION_OPENED -> {
                if (handshake.attachedByOpen(false) && receiver == null) {
                    held.start(); // attached: pieces follow at once
                }
                opened.complete(e.getSessionOpened());
            }
            case ATTACHED -> credit.attachAnswered(System.nanoTime());
            case PIECE_HASHES -> receiver("hashes").onHashes(e.getPieceHashes());
            case ERROR -> {
                ending.serverSaid(e.getError());
                opened.completeExceptionally(new ServerError(e.getError()));
                ctx.close();
            }
            default -> throw new ProtocolException(Error.Code.BAD_STATE, "unexpected " + e.getBodyCase() + " from server");
        }
    }

    /** The receiver, for {@code what} came: a protocol error before the connection attached. */
    private PieceReceiver receiver(String what) throws ProtocolException {
        if (receiver == null) {
            throw new ProtocolException(Error.Code.BAD_STATE, what + " before attach");
        }
        return receiver;
    }

    /** A block's header: its echo is a round-trip sample, the rest is the receiver's. */
    private void onHeader(PieceHeader h) throws IOException {
        PieceReceiver r = receiver("piece");
        if (h.getEchoUs() != 0) {
            credit.echoed(h.getEchoUs(), Integer.toUnsignedLong(h.getEchoHeldUs()));
        }
        if (h.hasRetransmittedBytes()) {
            retransmitted = Math.max(retransmitted, h.getRetransmittedBytes());
        }
        r.onHeader(h);
    }

    /** Closes the connection for {@code why}, whatever was said before. */
    private void close(String why) {
        ending.because(why);
        ctx.close();
    }

    /** The server's root hash goes to {@code sink} rather than into the store (one of several servers). Before {@link #attach}. */
    public void rootsTo(PieceReceiver.RootSink sink) {
        this.roots = sink;
    }

    /**
     * Sends a control message of the session's (a Claim or Unclaim) if this connection is
     * attached and open; any thread. False if it cannot carry it.
     */
    public boolean sendControl(Envelope e) {
        ChannelHandlerContext c = ctx;
        if (sessionId == null || retiring || c == null || !c.channel().isActive()) {
            return false;
        }
        c.writeAndFlush(e, c.voidPromise());
        return true;
    }

    private void send(Credit c) {
        ctx.writeAndFlush(Envelope.newBuilder().setCredit(c).build(), ctx.voidPromise());
    }

    /**
     * The {@link SilenceWatch} stage found nothing read for a while: the connection is taken for
     * dead if it is attached (for that long too), the download is unfinished and the link's cap
     * not reached.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (!(evt instanceof SilenceWatch.Silent)) {
            ctx.fireUserEventTriggered(evt);
            return;
        }
        if (sessionId != null && !standby && ctx.executor().ticker().nanoTime() - attachNanos > SilenceWatch.SILENT_NANOS && !capReached()
                && !store.allVerified().isDone()) {
            ending.unlessKnown("nothing received for " + TimeUnit.NANOSECONDS.toSeconds(SilenceWatch.SILENT_NANOS) + " s");
            ctx.close();
        }
    }

    private void tick() {
        long now = System.nanoTime();
        if (retiring) {
            // Closed once nothing is under way: no piece half-received or being written, and
            // quiet for two round trips (a piece the server started is on its way by then).
            if (receiver.idle() && now - lastReadNanos > credit.retireQuietNanos()) {
                close("retired");
            }
            return;
        }
        Credit c = credit.tick(now, receiver.bytes(), standby, linkFlows.getAsInt());
        if (c != null && ctx.channel().isActive()) {
            send(c);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        ending.failed(c);
        opened.completeExceptionally(c);
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ticker != null) {
            ticker.cancel(false);
        }
        held.release();
        if (receiver != null) {
            receiver.close();
        }
        credit.close();
        if (holding) {
            holding = false;
            limit.release(); // nothing more arrives on it: its part of the link may be taken back
        }
        if (!handshake.welcomed()) {
            ending.unlessKnown("connection closed during handshake");
        }
        opened.completeExceptionally(ending.unanswered());
        closed.complete(ending.closedWith());
        ctx.fireChannelInactive();
    }

    /** True once this link cannot take another piece without passing its cap; any thread, may lag by one event. */
    public boolean capReached() {
        return layout != null && limit.now().capReached(linkBytes.getAsLong(), layout.pieceSize());
    }

    /** Waits until the pieces received so far are hashed and their outcome queued on the event loop (tests). */
    void awaitHashing() throws InterruptedException {
        if (receiver != null) {
            receiver.awaitIdle();
        }
    }

    /**
     * Once the connection is told to close: waits until it is closed (nothing arrives after)
     * and its receiver has counted the verdicts on every piece it took ({@link
     * PieceReceiver#awaitCounted}), or until {@code deadlineNanos}; false if the deadline came first.
     */
    boolean awaitFinalCounts(long deadlineNanos) throws InterruptedException {
        if (ctx != null && !ctx.channel().closeFuture().await(Math.max(0, deadlineNanos - System.nanoTime()),
                TimeUnit.NANOSECONDS)) {
            return false;
        }
        PieceReceiver r = receiver;
        return r == null || r.awaitCounted(deadlineNanos);
    }

    /** True if the link stopped because the local file could not be written. */
    public boolean failedLocally() {
        return ending.local();
    }

    /** A snapshot of this link's counters; any thread (values may lag by one event). */
    public LinkStats stats() {
        LinkLimit.Now l = limit.now(); // the link's part at this server now, as the summary shows it
        return LinkStats.of(spec.with(spec.options().withCap(l.capBytes()).withRate(l.rateLimit())), localAddressText(), receiver, ending.state(closed.isDone(), ctx != null, standby),
                ending.dropped(), credit.rtt() * 1e3);
    }

    private String localAddressText() {
        if (ctx != null && ctx.channel().localAddress() instanceof java.net.InetSocketAddress a) {
            return io.netty.util.NetUtil.toAddressString(a.getAddress());
        }
        return spec.addressText();
    }
}
