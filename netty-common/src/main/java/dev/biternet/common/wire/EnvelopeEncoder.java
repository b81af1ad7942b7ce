package dev.biternet.common.wire;

import dev.biternet.proto.Envelope;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/** Turns outbound {@link Envelope}s into control frames; everything else passes untouched. */
@Sharable
public final class EnvelopeEncoder extends ChannelOutboundHandlerAdapter {
    public static final EnvelopeEncoder INSTANCE = new EnvelopeEncoder();

    private EnvelopeEncoder() {}

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof Envelope envelope) {
            ctx.write(Frames.control(ctx.alloc(), envelope), promise);
        } else {
            ctx.write(msg, promise);
        }
    }
}
