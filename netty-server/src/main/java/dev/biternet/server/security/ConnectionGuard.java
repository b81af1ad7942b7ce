package dev.biternet.server.security;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Error;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;
import java.util.function.Consumer;

/**
 * Early in the pipeline: a connection beyond its address's limit of open connections, or beyond
 * the server's, is told {@code LIMIT_EXCEEDED} and closed before it can do anything, and what it
 * sends is dropped.
 */
public final class ConnectionGuard extends ChannelInboundHandlerAdapter {
    private final AddressLimiter channels;
    private final Capacity all;
    private final Consumer<String> refusals;
    private SocketAddress counted;
    private boolean refused;

    /**
     * @param all open connections over all addresses
     * @param refusals told the limit's name ({@code connections}, {@code connections_per_address})
     *     for every connection refused
     */
    public ConnectionGuard(AddressLimiter channels, Capacity all, Consumer<String> refusals) {
        this.channels = channels;
        this.all = all;
        this.refusals = refusals;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        SocketAddress remote = ctx.channel().remoteAddress();
        String why;
        if (!all.tryAcquire(1)) {
            refusals.accept("connections");
            why = "server busy: " + all.max() + " connections open, its limit (--max-connections); try again later";
        } else if (!channels.tryAcquire(remote)) {
            all.release(1);
            refusals.accept("connections_per_address");
            why = "too many connections from " + AddressLimiter.hostOf(remote) + " (limit " + channels.max() + ")";
        } else {
            counted = remote;
            super.channelActive(ctx);
            return;
        }
        refused = true;
        // Through the whole pipeline (encoder, TLS), not from this stage towards the head.
        ErrorClose.send(ctx.channel(), Frames.error(Error.Code.LIMIT_EXCEEDED, why));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (refused) {
            ReferenceCountUtil.release(msg);
            return;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (counted != null) {
            channels.release(counted);
            all.release(1);
            counted = null;
        }
        super.channelInactive(ctx);
    }
}
