package dev.biternet.server.security;

import dev.biternet.proto.Envelope;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import java.util.concurrent.TimeUnit;

/**
 * "Error, then close", bounded: the connection reads nothing more, the Error frame is written
 * once, and the connection closes when that write completes or after {@link #GRACE_MILLIS},
 * whichever comes first. A peer that does not read never completes the write; without the bound
 * it would hold the connection and everything queued on it for as long as it likes.
 */
public final class ErrorClose {
    /** How long the Error frame may take to leave before the connection closes anyway. */
    public static final long GRACE_MILLIS = 2_000;

    private ErrorClose() {}

    /** Sends {@code error} on {@code channel} and closes it (any thread). */
    public static void send(Channel channel, Envelope error) {
        channel.config().setAutoRead(false);
        channel.writeAndFlush(error).addListener(ChannelFutureListener.CLOSE);
        channel.eventLoop().schedule(() -> {
            channel.close();
        }, GRACE_MILLIS, TimeUnit.MILLISECONDS);
    }
}
