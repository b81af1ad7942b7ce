package dev.biternet.server.transfer;

import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Attached;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.Welcome;
import dev.biternet.server.files.RequestException;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.ErrorClose;
import dev.biternet.server.security.Fatal;
import dev.biternet.server.security.UntrustedText;
import dev.biternet.server.session.Session;
import dev.biternet.server.session.SessionRegistry;
import dev.biternet.server.session.StoreException;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's dispatcher, last in the pipeline: the handshake, opening sessions and attaching
 * the channel to one. A request the server refuses (missing file, hostile path, unknown
 * session) is answered with an Error frame; a broken protocol (bad frame, wrong state, wrong
 * version) with an Error frame and a close ({@link ErrorClose}: bounded even if the client does
 * not read). Either way only this channel is affected. Before attaching, a client that does not
 * read its answers is not read from either (until it does), and one that leaves more than
 * {@link #MAX_UNREAD_ANSWER_BYTES} unread is closed: what a connection costs the server stays
 * bounded however much it sends. A session that must be looked up in a cluster's store is
 * looked up off the event loop; the channel is not read until the answer is back.
 */
public final class ControlHandler extends SimpleChannelInboundHandler<Envelope> {
    private static final Logger LOG = LoggerFactory.getLogger("biternet.server");
    private static final String AGENT = "biternet-serve";
    /**
     * The congestion control new TCP connections get here (the network namespace's default,
     * which biternet-serve does not change), or empty where the system does not say.
     */
    static final String CONGESTION_CONTROL = congestionControl();

    /** LOOKING_UP: an open or attach waits for the session (the cluster's store, off this loop). */
    private enum State { AWAIT_HELLO, READY, LOOKING_UP, ATTACHED }

    /** Requests read while a lookup is under way, beyond which the client is closed (it pipelines without bound). */
    private static final int MAX_HELD = 16;

    /** A connection must be attached to a session within this time (slowloris, half-open). */
    public static final long ATTACH_DEADLINE_SECONDS = 30;
    /** Answers queued for a client that does not read them, beyond which it is closed. */
    public static final long MAX_UNREAD_ANSWER_BYTES = 1 << 20;

    private final SessionRegistry sessions;
    private final PiecePusher pusher;
    private final Access access;
    private State state = State.AWAIT_HELLO;
    private ScheduledFuture<?> deadline;
    private ScheduledFuture<?> helloDeadline;
    /** The connection was refused and is being closed: nothing more is answered. */
    private boolean closing;
    /** What the client sent while a lookup was under way, handled once it is over. */
    private final java.util.ArrayDeque<Envelope> held = new java.util.ArrayDeque<>();

    public ControlHandler(SessionRegistry sessions, PiecePusher pusher) {
        this(sessions, pusher, Access.DEFAULT);
    }

    public ControlHandler(SessionRegistry sessions, PiecePusher pusher, Access access) {
        this.sessions = sessions;
        this.pusher = pusher;
        this.access = access;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        int helloSeconds = access.limits().helloSeconds();
        helloDeadline = ctx.executor().schedule(() -> {
            if (state == State.AWAIT_HELLO) {
                refuse(ctx, "no Hello within " + helloSeconds + " s");
            }
        }, helloSeconds, TimeUnit.SECONDS);
        deadline = ctx.executor().schedule(() -> {
            if (state != State.ATTACHED) {
                refuse(ctx, "not attached to a session within " + ATTACH_DEADLINE_SECONDS + " s");
            }
        }, ATTACH_DEADLINE_SECONDS, TimeUnit.SECONDS);
        super.channelActive(ctx);
    }

    /** Tells the client why with LIMIT_EXCEEDED and closes. */
    private void refuse(ChannelHandlerContext ctx, String why) {
        if (!closing && ctx.channel().isActive()) {
            closing = true;
            LOG.info("closing {}: {}", ctx.channel().remoteAddress(), why);
            ErrorClose.send(ctx.channel(), Frames.error(Error.Code.LIMIT_EXCEEDED, why));
        }
    }

    /**
     * Writes an answer to a request. A client that leaves its answers unread is not read from
     * until it has caught up, and is closed once they pass {@link #MAX_UNREAD_ANSWER_BYTES}.
     */
    private void answer(ChannelHandlerContext ctx, Envelope answer) {
        ctx.writeAndFlush(answer);
        Channel ch = ctx.channel();
        if (ch.isWritable() || closing) {
            return;
        }
        ch.config().setAutoRead(false);
        ChannelOutboundBuffer queued = ch.unsafe().outboundBuffer();
        long unread = queued == null ? 0 : queued.totalPendingWriteBytes();
        if (unread > MAX_UNREAD_ANSWER_BYTES) {
            closing = true;
            LOG.info("closing {}: {} bytes of answers left unread", ch.remoteAddress(), unread);
            ctx.close();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        if (state != State.ATTACHED && !closing && ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
        super.channelWritabilityChanged(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            if (pusher.paced()) {
                return;
            }
            refuse(ctx, "idle for " + access.limits().idleSeconds() + " s (nothing read or written)");
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancelDeadlines();
        super.channelInactive(ctx);
    }

    private void cancelDeadlines() {
        if (deadline != null) {
            deadline.cancel(false);
        }
        if (helloDeadline != null) {
            helloDeadline.cancel(false);
        }
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Envelope msg) {
        if (closing) {
            return; // already refused: what the client sent after that (pipelined) gets no answer
        }
        if (state == State.LOOKING_UP) {
            if (held.size() >= MAX_HELD) {
                throw new ProtocolException(Error.Code.BAD_STATE, "more than " + MAX_HELD + " requests before the session was found");
            }
            held.add(msg);
            return;
        }
        switch (msg.getBodyCase()) {
            case HELLO -> onHello(ctx, msg.getHello());
            case OPEN_SESSION -> onOpen(ctx, msg.getOpenSession());
            case ATTACH -> onAttach(ctx, msg);
            default -> throw new ProtocolException(Error.Code.BAD_STATE,
                    "unexpected " + msg.getBodyCase() + " in state " + state);
        }
    }

    private void onHello(ChannelHandlerContext ctx, Hello hello) {
        expect(State.AWAIT_HELLO, "HELLO");
        int version = hello.getProtocolVersion();
        if (version < Frames.OLDEST_PROTOCOL_VERSION || version > Frames.PROTOCOL_VERSION) {
            throw new ProtocolException(Error.Code.UNSUPPORTED_VERSION, "client speaks protocol "
                    + Integer.toUnsignedString(version) + ", this server speaks " + Frames.OLDEST_PROTOCOL_VERSION
                    + " to " + Frames.PROTOCOL_VERSION);
        }
        access.token().check(hello.getToken());
        state = State.READY;
        if (helloDeadline != null) {
            helloDeadline.cancel(false);
        }
        answer(ctx, Envelope.newBuilder().setWelcome(
                Welcome.newBuilder().setProtocolVersion(version).setAgent(AGENT)
                        .setFlowGroups(true).setCongestionControl(CONGESTION_CONTROL).setOpenAttaches(true)
                        .setDigestsOnRequest(true).setLinkLimits(true)).build());
    }

    private void onOpen(ChannelHandlerContext ctx, dev.biternet.proto.OpenSession request) {
        expect(State.READY, "OPEN_SESSION");
        lookUp(ctx, sessions.openAsync(request, ctx.channel().remoteAddress()), session -> {
            if (LOG.isDebugEnabled()) {
                LOG.debug("session {} opened by {} for {} ({} bytes, {} pieces)", session.id(), ctx.channel().remoteAddress(),
                        UntrustedText.quoted(request.getPath()), session.layout().fileSize(), session.layout().pieceCount());
            }
            answer(ctx, session.opened());
            if (request.hasAttach()) {
                attach(ctx, session, request.getAttach());
            }
        }, e -> {
            // The registry renders the client's path in its messages (UntrustedText).
            LOG.info("refused open from {}: {}", ctx.channel().remoteAddress(), e.getMessage());
            answer(ctx, Frames.error(e.code(), e.getMessage()));
        });
    }

    /**
     * Goes on with {@code found} once the session is found or opened (at once, or on this channel's
     * event loop when the cluster's store was asked on another thread), or with {@code refused};
     * a store failure is handled as any exception of this handler. Meanwhile the channel is not
     * read, and what was read already waits in {@link #held}.
     */
    private void lookUp(ChannelHandlerContext ctx, java.util.concurrent.CompletableFuture<Session> lookup,
                        java.util.function.Consumer<Session> found, java.util.function.Consumer<RequestException> refused) {
        if (!lookup.isDone()) {
            state = State.LOOKING_UP;
            ctx.channel().config().setAutoRead(false);
        }
        lookup.whenComplete((session, failure) -> {
            if (ctx.executor().inEventLoop()) {
                lookedUp(ctx, session, failure, found, refused);
            } else {
                ctx.executor().execute(() -> lookedUp(ctx, session, failure, found, refused));
            }
        });
    }

    private void lookedUp(ChannelHandlerContext ctx, Session session, Throwable failure,
                          java.util.function.Consumer<Session> found, java.util.function.Consumer<RequestException> refused) {
        boolean waited = state == State.LOOKING_UP;
        if (waited) {
            state = State.READY;
        }
        if (closing || !ctx.channel().isActive()) {
            return; // the client left meanwhile: a session opened for it is closed unattached (the registry's reaper)
        }
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof RequestException e) {
            refused.accept(e);
        } else if (cause != null) {
            exceptionCaught(ctx, cause);
        } else {
            found.accept(session);
        }
        if (!waited) {
            return;
        }
        // What arrived meanwhile goes where it would have gone: the pusher first (once attached, acks and credits are its).
        ChannelHandlerContext pusherCtx = ctx.pipeline().context(pusher);
        while (!held.isEmpty() && !closing && state != State.LOOKING_UP && ctx.channel().isActive()) {
            pusher.channelRead(pusherCtx, held.poll());
        }
        if (state == State.READY && !closing && ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void onAttach(ChannelHandlerContext ctx, Envelope msg) {
        expect(State.READY, "ATTACH");
        lookUp(ctx, sessions.getAsync(msg.getAttach().getSessionId(), ctx.channel().remoteAddress()),
                session -> attachChecked(ctx, session, msg), e -> {
                    closing = true;
                    ErrorClose.send(ctx.channel(), Frames.error(e.code(), e.getMessage()));
                });
    }

    private void attachChecked(ChannelHandlerContext ctx, Session session, Envelope msg) {
        if (!session.acceptsSecret(msg.getAttach().getSecret())) {
            LOG.info("refused attach from {} to session {}: wrong attach secret",
                    ctx.channel().remoteAddress(), session.id());
            closing = true;
            ErrorClose.send(ctx.channel(), Frames.error(Error.Code.UNAUTHORIZED, "wrong attach secret for this session"));
            return;
        }
        attach(ctx, session, msg.getAttach());
    }

    /** Attaches the channel to {@code session} (Attach, or OpenSession.attach): pieces follow. */
    private void attach(ChannelHandlerContext ctx, Session session, dev.biternet.proto.Attach attach) {
        state = State.ATTACHED;
        cancelDeadlines();
        // Attached: acks must be read whatever the pieces do to writability (PiecePusher's loop).
        ctx.channel().config().setAutoRead(true);
        int linkId = pusher.attach(session, attach.getStandby() ? PiecePusher.STANDBY : attach.getWindow(), attach.getCapBytes(),
                attach.getRateLimit(), attach.getFlowGroup(), attach.getCapAdded(), id -> ctx.write(
                Envelope.newBuilder().setAttached(Attached.newBuilder().setLinkId(id)).build()));
        ctx.flush();
        LOG.debug("session {}: link {} attached from {} ({})", session.id(), linkId,
                ctx.channel().remoteAddress(), UntrustedText.quoted(attach.getLinkName()));
    }

    private void expect(State wanted, String what) {
        if (state != wanted) {
            throw new ProtocolException(Error.Code.BAD_STATE, what + " not allowed in state " + state);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Fatal.check(cause);
        if (closing) {
            return;
        }
        closing = true;
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        Envelope error;
        if (c instanceof ProtocolException p) {
            error = Frames.error(p.code(), p.getMessage());
            LOG.info("closing {}: {}", ctx.channel().remoteAddress(), p.getMessage());
        } else if (c instanceof StoreException store) {
            // The cluster's store: unreachable (asked again, the client gets on once it is back)
            // or without this session (UNKNOWN_SESSION: the client opens it again).
            error = Frames.error(store.lost() ? Error.Code.UNKNOWN_SESSION : Error.Code.INTERNAL, store.getMessage());
            LOG.warn("closing {}: {}", ctx.channel().remoteAddress(), store.getMessage());
        } else if (c instanceof javax.net.ssl.SSLException) {
            // A failed TLS handshake (plain client, untrusted certificate): nothing to tell it in clear.
            LOG.info("closing {}: TLS: {}", ctx.channel().remoteAddress(), c.getMessage());
            ctx.close();
            return;
        } else if (c instanceof java.io.IOException) {
            LOG.debug("connection {} lost: {}", ctx.channel().remoteAddress(), c.getMessage());
            ctx.close();
            return;
        } else {
            error = Frames.error(Error.Code.INTERNAL, "internal server error");
            LOG.warn("internal error on " + ctx.channel().remoteAddress(), c);
        }
        if (ctx.channel().isActive()) {
            ErrorClose.send(ctx.channel(), error);
        }
    }

    private static String congestionControl() {
        try {
            String name = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_congestion_control")).strip();
            return name.matches("[a-z0-9_]{1,15}") ? name : "";
        } catch (java.io.IOException | RuntimeException e) {
            return "";
        }
    }
}
