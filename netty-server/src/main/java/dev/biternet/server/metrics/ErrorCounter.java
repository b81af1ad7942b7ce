package dev.biternet.server.metrics;

import dev.biternet.proto.Envelope;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * Counts every Error frame the server sends, by code, on its way out: whichever stage refused
 * the client (limits, token, protocol, hashing), the count is taken in this one place.
 */
@ChannelHandler.Sharable
public final class ErrorCounter extends ChannelOutboundHandlerAdapter {
    private final ServerMetrics metrics;

    public ErrorCounter(ServerMetrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof Envelope e && e.hasError()) {
            metrics.error(e.getError().getCode());
        }
        ctx.write(msg, promise);
    }
}
