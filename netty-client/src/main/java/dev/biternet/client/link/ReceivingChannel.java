package dev.biternet.client.link;

import dev.biternet.proto.Ack;
import dev.biternet.proto.Envelope;
import io.netty.channel.ChannelHandlerContext;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * One connection as its {@link PieceReceiver} sees it: the event loop its verdicts come back on,
 * the channel its acks go out on (each with the client's clock, and heard by the window's
 * {@link FlowCredit}), and the connection failed or dropped for good when receiving cannot go on.
 */
final class ReceivingChannel implements PieceReceiver.Connection {
    private final ChannelHandlerContext ctx;
    private final FlowCredit credit;
    private final Ending ending;
    private final Consumer<Throwable> failed;

    /** @param failed what the connection does when receiving failed (its dispatcher's exceptionCaught) */
    ReceivingChannel(ChannelHandlerContext ctx, FlowCredit credit, Ending ending, Consumer<Throwable> failed) {
        this.ctx = ctx;
        this.credit = credit;
        this.ending = ending;
        this.failed = failed;
    }

    @Override
    public void execute(Runnable task) {
        try {
            ctx.executor().execute(task);
        } catch (RejectedExecutionException e) {
            // the loop is gone (the download is over): nothing waits for it any more
        }
    }

    @Override
    public void ack(int index, boolean ok) {
        if (!ctx.channel().isActive()) {
            return;
        }
        ctx.writeAndFlush(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(index).setOk(ok)
                .setSentUs(FlowCredit.micros())).build(), ctx.voidPromise());
        credit.acked();
    }

    @Override
    public void fail(Throwable cause) {
        failed.accept(cause);
    }

    /**
     * A connection whose pieces keep failing their hash (a corrupting middlebox, bad memory on a
     * router) is closed for good: its link is dropped.
     */
    @Override
    public void drop(String why) {
        if (ending.drop(why)) {
            ctx.close();
        }
    }
}
