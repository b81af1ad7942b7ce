package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkOptions;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

class LinkAllowanceTest {
    @Test
    void aRequestIsTakenOnlyIfItFitsUnderTheCapAndAFailedOneGivesBackWhatDidNotArrive() {
        LinkAllowance link = new LinkAllowance(LinkOptions.NONE.withCap(1000));
        assertThat(link.reserve(600)).isTrue();
        assertThat(link.reserve(500)).isFalse();
        link.giveBack(200); // 400 of the 600 arrived before the request failed
        assertThat(link.reserve(600)).isTrue();
        assertThat(link.reserve(1)).isFalse();
        assertThat(LinkAllowance.unlimited().reserve(Long.MAX_VALUE / 2)).isTrue();
    }

    @Test
    void theRateMakesEveryReadWaitForWhatTheLinkReadBeforeAndIdleTimeIsNotSavedUp() {
        LinkAllowance link = new LinkAllowance(LinkOptions.NONE.withRate(1000));
        assertThat(link.pace(500, 0)).isEqualTo(500_000_000L);
        // A second channel of the link reading at once waits for both.
        assertThat(link.pace(500, 0)).isEqualTo(1_000_000_000L);
        // After ten idle seconds a read waits for its own bytes, not less.
        assertThat(link.pace(1000, 11_000_000_000L)).isEqualTo(1_000_000_000L);
        assertThat(LinkAllowance.unlimited().pace(1 << 20, 0)).isZero();
    }

    @Test
    void thePacerStopsReadingUntilTheLinkPaidForWhatItReadAndPassesTheBytesOn() throws Exception {
        EmbeddedChannel ch = new EmbeddedChannel(new ReadPacer(new LinkAllowance(LinkOptions.NONE.withRate(10_000))));
        ch.writeInbound(Unpooled.wrappedBuffer(new byte[1000])); // 100 ms at the rate
        assertThat(ch.config().isAutoRead()).isFalse();
        ByteBuf passed = ch.readInbound();
        assertThat(passed.readableBytes()).isEqualTo(1000);
        passed.release();
        Thread.sleep(150);
        ch.runScheduledPendingTasks();
        assertThat(ch.config().isAutoRead()).isTrue();
        ch.finishAndReleaseAll();
    }
}
