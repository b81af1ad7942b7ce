package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.store.PieceBudget;
import dev.biternet.proto.Envelope;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a connection's receiver does to the channel, on an {@link EmbeddedChannel}: acks, a failure, a drop. */
class ReceivingChannelTest {
    private ChannelHandlerContext ctx;
    private final EmbeddedChannel ch = new EmbeddedChannel(new ChannelInboundHandlerAdapter() {
        @Override
        public void handlerAdded(ChannelHandlerContext c) {
            ctx = c;
        }
    });
    private final Ending ending = new Ending();
    private final List<Throwable> failures = new ArrayList<>();
    private final FlowCredit credit = new FlowCredit();
    private final ReceivingChannel connection;

    ReceivingChannelTest() {
        credit.attach(256 << 10, new PieceBudget(10).share(), System.nanoTime(), true);
        connection = new ReceivingChannel(ctx, credit, ending, failures::add);
    }

    @Test
    void anAckCarriesThePiecesVerdictAndTheClientsClock() {
        connection.ack(7, false);

        Envelope e = ch.readOutbound();
        assertThat(e.getAck().getIndex()).isEqualTo(7);
        assertThat(e.getAck().getOk()).isFalse();
        assertThat(e.getAck().getSentUs()).as("the clock the server echoes").isPositive();
    }

    @Test
    void noAckGoesOutOnAClosedChannel() {
        ch.close();

        connection.ack(1, true);

        assertThat((Object) ch.readOutbound()).isNull();
    }

    @Test
    void aConnectionIsDroppedAndClosedOnce() {
        connection.drop("3 pieces failed their hash");
        connection.drop("4 pieces failed their hash");

        assertThat(ch.isActive()).isFalse();
        assertThat(ending.state(true, true, false)).isEqualTo("dropped: 3 pieces failed their hash");
    }

    @Test
    void aFailureGoesToTheConnection() {
        IOException disk = new IOException("No space left on device");

        connection.fail(disk);
        connection.execute(() -> failures.add(new IOException("ran on the loop")));
        ch.runPendingTasks();

        assertThat(failures).extracting(Throwable::getMessage).containsExactly("No space left on device", "ran on the loop");
    }
}
