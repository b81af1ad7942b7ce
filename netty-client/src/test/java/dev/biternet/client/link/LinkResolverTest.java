package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class LinkResolverTest {
    private static final InetAddress V4 = InetAddress.getLoopbackAddress();

    @Test
    void addressWithCapAndRate() throws Exception {
        LinkSpec s = LinkResolver.resolveOne("127.0.0.2:cap=500M,rate=2Mi", V4);
        assertThat(s.name()).isEqualTo("127.0.0.2");
        assertThat(s.localAddress().getHostAddress()).isEqualTo("127.0.0.2");
        assertThat(s.options().capBytes()).isEqualTo(500_000_000L);
        assertThat(s.options().rateLimit()).isEqualTo(2L << 20);
    }

    @Test
    void interfaceNameWithRateOnlyAndOptionsInEitherOrder() throws Exception {
        assertThat(LinkResolver.resolveOne("lo:rate=1.5k", V4).options().rateLimit()).isEqualTo(1500);
        LinkSpec s = LinkResolver.resolveOne("lo:rate=1G,cap=3Gi", V4);
        assertThat(s.device()).isEqualTo("lo");
        assertThat(s.options().capBytes()).isEqualTo(3L << 30);
        assertThat(s.options().rateLimit()).isEqualTo(1_000_000_000L);
    }

    @Test
    void ipv6AddressKeepsItsColons() throws Exception {
        LinkSpec s = LinkResolver.resolveOne("::1:cap=1Mi", InetAddress.getByName("::1"));
        assertThat(s.localAddress().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:1");
        assertThat(s.options().capBytes()).isEqualTo(1L << 20);
    }

    @Test
    void noOptionsMeansNoLimits() throws Exception {
        LinkSpec s = LinkResolver.resolveOne("127.0.0.1", V4);
        assertThat(s.options().capBytes()).isZero();
        assertThat(s.options().rateLimit()).isZero();
    }

    @Test
    void badOptionsAreNamed() {
        assertThatThrownBy(() -> LinkResolver.resolveOne("lo:cap=lots", V4))
                .hasMessage("--iface lo:cap=lots: cap=lots is not a size (e.g. 500M, 2Gi, 1.5GB)");
        assertThatThrownBy(() -> LinkResolver.resolveOne("lo:cap=0", V4)).hasMessageContaining("cap must be more than 0");
        assertThatThrownBy(() -> LinkResolver.resolveOne("lo:cap=1M,speed=2", V4))
                .hasMessageContaining("unknown option 'speed'");
    }

    @Test
    void flowsAreAutoUnlessGiven() throws Exception {
        assertThat(LinkResolver.resolveOne("127.0.0.1", V4).options().flows()).isEqualTo(LinkOptions.AUTO_FLOWS);
        assertThat(LinkResolver.resolveOne("127.0.0.1:flows=auto", V4).options().flows()).isEqualTo(LinkOptions.AUTO_FLOWS);
        LinkSpec four = LinkResolver.resolveOne("127.0.0.1:cap=1M,flows=4", V4);
        assertThat(four.options().flows()).isEqualTo(4);
        assertThat(four.options().capBytes()).isEqualTo(1_000_000);
        assertThat(four.options().flowCount("cubic").sample(0, 0, 0, false, false)).isEqualTo(4);
        assertThat(four.options().flowCount("bbr").sample(0, 0, 0, false, false)).as("given, not judged").isEqualTo(4);
        for (String bad : List.of("0", "17", "many", "")) {
            assertThatThrownBy(() -> LinkResolver.resolveOne("lo:flows=" + bad, V4))
                    .hasMessage("--iface lo:flows=" + bad + ": flows=" + bad + " must be auto or 1 to 16");
        }
    }

    @Test
    void autoTriesMoreFlowsOnlyWhenTheServerSendsWithALossBasedControl() throws Exception {
        LinkSpec auto = LinkResolver.resolveOne("127.0.0.1", V4);
        for (String cc : List.of("bbr", "bbr2", "bbr3")) {
            assertThat(run(auto.options().flowCount(cc))).as(cc).isEqualTo(1);
        }
        for (String cc : List.of("cubic", "reno", "")) {
            assertThat(run(auto.options().flowCount(cc))).as(cc.isEmpty() ? "unknown" : cc).isGreaterThan(1);
        }
    }

    /** A link whose every flow adds its share: the flows the count ends at after a minute. */
    private static int run(FlowCount count) {
        long bytes = 0;
        int flows = 1;
        for (double t = 0; t < 60; t += 0.05) {
            bytes += (long) (Math.min(16, flows) * 100_000 * 0.05);
            flows = count.sample(t, bytes, 0.04, false, false);
        }
        return flows;
    }

    @Test
    void sameInterfaceTwiceIsRefused() {
        assertThatThrownBy(() -> LinkResolver.resolve(List.of("127.0.0.1", "127.0.0.1:cap=1M"), V4))
                .hasMessageContaining("given twice");
    }
}
