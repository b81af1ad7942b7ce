package dev.biternet.server.security;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Error;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.net.SocketAddress;

/**
 * Early in the pipeline: a connection beyond its address's limit of open connections is told
 * {@code LIMIT_EXCEEDED} and closed before it can do anything, and what it sends is dropped.
 */
public final class ConnectionGuard extends ChannelInboundHandlerAdapter {
    private final AddressLimiter channels;
    private SocketAddress counted;
    private boolean refused;

    public ConnectionGuard(AddressLimiter channels) {
        this.channels = channels;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        SocketAddress remote = ctx.channel().remoteAddress();
        if (channels.tryAcquire(remote)) {
            counted = remote;
            super.channelActive(ctx);
            return;
        }
        refused = true;
        String host = AddressLimiter.hostOf(remote);
        // Through the whole pipeline (encoder, TLS), not from this stage towards the head.
        ctx.channel().writeAndFlush(Frames.error(Error.Code.LIMIT_EXCEEDED, "too many connections from " + host
                + " (limit " + channels.max() + ")")).addListener(ChannelFutureListener.CLOSE);
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
            counted = null;
        }
        super.channelInactive(ctx);
    }
}
