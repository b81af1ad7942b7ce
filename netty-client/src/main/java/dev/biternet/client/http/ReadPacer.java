package dev.biternet.client.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.TimeUnit;

/**
 * Holds a mirror connection to its link's rate: after each read it asks the link's
 * {@link LinkAllowance} how long the link must wait, and stops reading the socket (auto-read
 * off) for that long, so the mirror's TCP sender is held back by the receive window. First in
 * the pipeline: it counts the bytes on the wire.
 */
public final class ReadPacer extends ChannelInboundHandlerAdapter {
    private final LinkAllowance link;

    public ReadPacer(LinkAllowance link) {
        this.link = link;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf data) {
            long wait = link.pace(data.readableBytes(), System.nanoTime());
            if (wait > 0 && ctx.channel().config().isAutoRead()) {
                ctx.channel().config().setAutoRead(false);
                ctx.executor().schedule(() -> ctx.channel().config().setAutoRead(true), wait, TimeUnit.NANOSECONDS);
            }
        }
        ctx.fireChannelRead(msg);
    }
}
