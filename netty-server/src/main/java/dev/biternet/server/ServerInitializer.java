package dev.biternet.server;

import dev.biternet.common.wire.EnvelopeEncoder;
import dev.biternet.common.wire.FrameDecoder;
import dev.biternet.server.metrics.ErrorCounter;
import dev.biternet.server.metrics.ServerMetrics;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.AddressLimiter;
import dev.biternet.server.security.Capacity;
import dev.biternet.server.security.ConnectionGuard;
import dev.biternet.server.session.SessionRegistry;
import dev.biternet.server.transfer.ControlHandler;
import dev.biternet.server.transfer.PiecePusher;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.util.concurrent.TimeUnit;

/**
 * The server pipeline, in order: TLS (optional), the per-address connection limit, framing,
 * codec, chunked writer (with TLS), idle timeout, flow control, dispatcher. Stage names are
 * stable; tests and logs refer to them.
 */
public final class ServerInitializer extends ChannelInitializer<Channel> {
    public static final String FRAME_DECODER = "frame-decoder";
    public static final String ENVELOPE_ENCODER = "envelope-encoder";
    public static final String READ_TIMEOUT = "read-timeout";
    public static final String CONNECTION_GUARD = "connection-guard";
    public static final String TLS = "tls";
    public static final String CHUNKED_WRITER = "chunked-writer";
    public static final String ERROR_COUNTER = "error-counter";
    public static final String IDLE_TIMEOUT = "idle-timeout";
    public static final String PIECE_PUSHER = "piece-pusher";
    public static final String DISPATCHER = "dispatcher";

    private final SessionRegistry sessions;
    private final int readTimeoutSeconds;
    private final int blockSize;
    private final Access access;
    /** Open connections per client address, shared by every channel this initializer builds. */
    private final AddressLimiter channelsPerAddress;
    private final Capacity channels;
    private final ServerMetrics metrics;
    private final ErrorCounter errorCounter;

    public ServerInitializer(SessionRegistry sessions, int readTimeoutSeconds) {
        this(sessions, readTimeoutSeconds, PiecePusher.BLOCK_SIZE);
    }

    /** @param blockSize bytes per piece block (tests use small blocks on small pieces) */
    public ServerInitializer(SessionRegistry sessions, int readTimeoutSeconds, int blockSize) {
        this(sessions, readTimeoutSeconds, blockSize, Access.DEFAULT);
    }

    public ServerInitializer(SessionRegistry sessions, int readTimeoutSeconds, int blockSize, Access access) {
        this(sessions, readTimeoutSeconds, blockSize, access, new ServerMetrics());
    }

    public ServerInitializer(SessionRegistry sessions, int readTimeoutSeconds, int blockSize, Access access,
                             ServerMetrics metrics) {
        this.errorCounter = new ErrorCounter(metrics);
        this.metrics = metrics;
        this.sessions = sessions;
        this.readTimeoutSeconds = readTimeoutSeconds;
        this.blockSize = blockSize;
        this.access = access;
        this.channelsPerAddress = new AddressLimiter(access.limits().channelsPerAddress());
        this.channels = new Capacity(access.limits().maxConnections());
        metrics.bindConnectionLimit(channels);
    }

    /** Connections open now (those counted against the limits). */
    public long openChannels() {
        return channels.held();
    }

    @Override
    protected void initChannel(Channel ch) {
        PiecePusher pusher = new PiecePusher(blockSize);
        ChannelPipeline p = ch.pipeline();
        if (access.tls() != null) {
            p.addLast(TLS, access.tls().newHandler(ch.alloc()));
        }
        p.addLast(CONNECTION_GUARD, new ConnectionGuard(channelsPerAddress, channels, metrics::refused));
        p.addLast(FRAME_DECODER, FrameDecoder.forServer());
        p.addLast(ENVELOPE_ENCODER, EnvelopeEncoder.INSTANCE);
        p.addLast(ERROR_COUNTER, errorCounter);
        if (access.tls() != null) {
            // Piece bytes go out as ChunkedInput with TLS (a FileRegion cannot pass the SslHandler).
            p.addLast(CHUNKED_WRITER, new ChunkedWriteHandler());
        }
        if (readTimeoutSeconds > 0) {
            p.addLast(READ_TIMEOUT, new ReadTimeoutHandler(readTimeoutSeconds));
        }
        if (access.limits().idleSeconds() > 0) {
            // observeOutput: a link the server is still writing to (a slow link taking a long
            // piece) is busy, not idle, even if the client has nothing to say meanwhile.
            p.addLast(IDLE_TIMEOUT, new IdleStateHandler(true, 0, 0, access.limits().idleSeconds(), TimeUnit.SECONDS));
        }
        p.addLast(PIECE_PUSHER, pusher);
        p.addLast(DISPATCHER, new ControlHandler(sessions, pusher, access));
    }
}
