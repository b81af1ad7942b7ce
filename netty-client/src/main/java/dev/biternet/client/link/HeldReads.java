package dev.biternet.client.link;

import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.function.Consumer;

/**
 * What arrives on a connection the server attached as it opened the session, after
 * SessionOpened and before the download gave the connection its store: kept in order while the
 * channel stops reading (so at most what one read brought), then handed to the dispatcher in
 * order once the store is known; released if the connection closes first. Confined to the
 * channel's event loop, but for {@link #count}.
 */
final class HeldReads {
    /** Null while nothing is held back. */
    private volatile ArrayDeque<Object> held;

    /** From now on, what arrives is held. */
    void start() {
        held = new ArrayDeque<>();
    }

    /** Holds {@code msg} and stops the channel reading, if holding; false if not (the caller handles it). */
    boolean hold(ChannelHandlerContext ctx, Object msg) {
        ArrayDeque<Object> h = held;
        if (h == null) {
            return false;
        }
        h.add(msg);
        ctx.channel().config().setAutoRead(false);
        return true;
    }

    /**
     * Stops holding, reads on, and hands what was held to {@code dispatch} in order (released
     * instead once the channel is closed).
     */
    void replay(ChannelHandlerContext ctx, Consumer<Object> dispatch) {
        ArrayDeque<Object> queue = held;
        held = null;
        ctx.channel().config().setAutoRead(true);
        if (queue == null) {
            return;
        }
        Object msg;
        while ((msg = queue.poll()) != null) {
            if (!ctx.channel().isActive()) {
                ReferenceCountUtil.release(msg);
                continue;
            }
            dispatch.accept(msg);
        }
    }

    /** The connection closed: what was held is released. */
    void release() {
        ArrayDeque<Object> h = held;
        held = null;
        if (h != null) {
            h.forEach(ReferenceCountUtil::release);
        }
    }

    /** Messages held now (tests); any thread, may lag. */
    int count() {
        ArrayDeque<Object> h = held;
        return h == null ? 0 : h.size();
    }
}
