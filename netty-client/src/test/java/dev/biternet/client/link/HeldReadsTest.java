package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What arrives before the store is given, on an {@link EmbeddedChannel}: held in order with the
 * channel no longer reading, handed on in order with reading on again, released if the channel
 * closes first.
 */
class HeldReadsTest {
    private final HeldReads held = new HeldReads();
    private final List<String> handled = new ArrayList<>();
    private final Dispatcher dispatcher = new Dispatcher();
    private final EmbeddedChannel ch = new EmbeddedChannel(dispatcher);

    private final class Dispatcher extends ChannelInboundHandlerAdapter {
        ChannelHandlerContext ctx;

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!held.hold(ctx, msg)) {
                handled.add(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                ReferenceCountUtil.release(msg);
            }
        }
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    @Test
    void withoutHoldingMessagesGoStraightThrough() {
        ch.writeInbound(text("a"));

        assertThat(handled).containsExactly("a");
        assertThat(held.count()).isZero();
        assertThat(ch.config().isAutoRead()).isTrue();
    }

    @Test
    void heldMessagesAreHandedOnInOrderAndReadingGoesOn() {
        held.start();
        ch.writeInbound(text("a"));
        ch.writeInbound(text("b"));
        assertThat(handled).isEmpty();
        assertThat(held.count()).isEqualTo(2);
        assertThat(ch.config().isAutoRead()).as("no more read while held").isFalse();

        held.replay(dispatcher.ctx, msg -> dispatcher.channelRead(dispatcher.ctx, msg));
        ch.writeInbound(text("c"));

        assertThat(handled).containsExactly("a", "b", "c");
        assertThat(held.count()).isZero();
        assertThat(ch.config().isAutoRead()).isTrue();
    }

    @Test
    void whatIsHeldWhenTheChannelClosesIsReleased() {
        held.start();
        ByteBuf a = text("a");
        ch.writeInbound(a);
        ch.close();

        held.replay(dispatcher.ctx, msg -> dispatcher.channelRead(dispatcher.ctx, msg));

        assertThat(handled).isEmpty();
        assertThat(a.refCnt()).isZero();
    }

    @Test
    void releaseFreesWhatIsHeld() {
        held.start();
        ByteBuf a = text("a");
        ch.writeInbound(a);

        held.release();

        assertThat(a.refCnt()).isZero();
        assertThat(held.count()).isZero();
        ch.finishAndReleaseAll();
    }
}
