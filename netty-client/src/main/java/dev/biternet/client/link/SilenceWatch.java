package dev.biternet.client.link;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The pipeline stage that notices a silent connection, as Netty's {@code IdleStateHandler}
 * does: every quarter second, if nothing at all was read for {@link #SILENT_NANOS}, it fires a
 * {@link Silent} event to the dispatcher, which closes the connection if the silence matters
 * (attached, the download unfinished, the link's cap not reached). A link whose cable is pulled
 * or whose route is blackholed gets no word from TCP; closed, it reconnects. An idle but
 * healthy link costs only a reconnect.
 */
public final class SilenceWatch extends ChannelInboundHandlerAdapter {
    /** How long a connection may receive nothing ({@code -Dbiternet.silentSeconds}, 10 s). */
    static final long SILENT_NANOS = TimeUnit.SECONDS.toNanos(Long.getLong("biternet.silentSeconds", 10));
    private static final long CHECK_MILLIS = 250;

    /** Nothing was read for {@code nanos} (more than {@link #SILENT_NANOS}). */
    public record Silent(long nanos) {}

    private long lastReadNanos;
    private ScheduledFuture<?> check;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start(ctx);
        ctx.fireChannelActive();
    }

    private void start(ChannelHandlerContext ctx) {
        if (check == null) {
            lastReadNanos = ctx.executor().ticker().nanoTime();
            check = ctx.executor().scheduleAtFixedRate(() -> check(ctx), CHECK_MILLIS, CHECK_MILLIS,
                    TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        lastReadNanos = ctx.executor().ticker().nanoTime();
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (check != null) {
            check.cancel(false);
        }
        ctx.fireChannelInactive();
    }

    private void check(ChannelHandlerContext ctx) {
        long quiet = ctx.executor().ticker().nanoTime() - lastReadNanos;
        if (quiet > SILENT_NANOS && ctx.channel().isActive()) {
            ctx.fireUserEventTriggered(new Silent(quiet));
        }
    }
}
