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

    /**
     * Reads of at most a sixteenth of a second at {@code rate} (4 to 64 KiB) for a paced
     * connection. A read is paid for after it is made, so a download's last reads go unpaid: with
     * reads of up to 1 MiB (an unpaced link's) that was a burst past the rate at the end.
     */
    static io.netty.channel.RecvByteBufAllocator reads(long rate) {
        int max = (int) Math.max(4096, Math.min(65536, rate / 16));
        return new io.netty.channel.AdaptiveRecvByteBufAllocator(64, max, max);
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
