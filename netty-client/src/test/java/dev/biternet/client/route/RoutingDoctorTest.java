package dev.biternet.client.route;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkSpec;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The doctor's verdicts and printed fixes for given kernel answers (canned {@code ip -j} output,
 * as iproute2 prints it); the real kernel is in {@link RoutingDoctorNetnsTest}.
 */
class RoutingDoctorTest {
    private final List<String> asked = new ArrayList<>();

    private RoutingDoctor doctor(Map<String, String> answers) {
        IpRoute ip = new IpRoute(args -> {
            String q = String.join(" ", args);
            asked.add(q);
            String json = answers.get(q);
            // Listing tables and rules: nothing beyond the main table unless given.
            boolean listing = q.contains("-N ");
            return () -> json == null ? new IpRoute.Answer(listing, listing ? "[]"
                    : "RTNETLINK answers: Network is unreachable") : new IpRoute.Answer(true, json);
        });
        return new RoutingDoctor(ip, a -> a.getHostAddress().startsWith("10.1.") ? "eth0" : "usb0");
    }

    private static LinkSpec link(String name, String address, String device) throws Exception {
        return new LinkSpec(name, InetAddress.getByName(address), device);
    }

    @Test
    void parsesIproutesJson() throws Exception {
        List<IpRoute.Route> routes = IpRoute.parse("[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\","
                + "\"prefsrc\":\"10.1.0.5\",\"flags\":[],\"uid\":0,\"cache\":[]}]");

        assertThat(routes).containsExactly(new IpRoute.Route("203.0.113.9", "eth0", "10.1.0.1", "10.1.0.5", ""));
    }

    @Test
    void anAddressWhoseTrafficLeavesByTheDefaultRouteGetsPolicyRoutingWithItsGateway() throws Exception {
        RoutingDoctor d = doctor(Map.of(
                "route get 203.0.113.9 from 10.1.0.5", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 from 192.168.42.7", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 oif usb0", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"192.168.42.129\",\"dev\":\"usb0\"}]",
                "-N route show table all", "[{\"dst\":\"default\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"},"
                        + "{\"dst\":\"default\",\"gateway\":\"172.16.0.1\",\"dev\":\"wg0\",\"table\":\"101\"}]"));

        List<RoutingDoctor.Finding> f = d.check(List.of(link("10.1.0.5", "10.1.0.5", null),
                link("192.168.42.7", "192.168.42.7", null)), InetAddress.getByName("203.0.113.9"));

        assertThat(f.get(0).ok()).isTrue();
        assertThat(f.get(1).ok()).isFalse();
        assertThat(f.get(1).message()).isEqualTo("traffic from 192.168.42.7 to 203.0.113.9 leaves through eth0, not usb0"
                + " (no policy routing for 192.168.42.7)");
        // Table 101 is taken (a VPN's), so the fix uses 102.
        assertThat(f.get(1).fix()).containsExactly("ip rule add from 192.168.42.7 table 102",
                "ip route add default via 192.168.42.129 dev usb0 table 102");
        assertThat(RoutingDoctor.report("203.0.113.9", f)).contains(
                "  192.168.42.7 (usb0): PROBLEM: traffic from 192.168.42.7",
                "    fix it (as root):\n      ip rule add from 192.168.42.7 table 102\n",
                "  10.1.0.5 (eth0): ok, leaves through eth0 via 10.1.0.1");
    }

    @Test
    void aPinnedDeviceWithoutAnyRouteThroughItIsFlaggedAndItsUnknownGatewayNamed() throws Exception {
        // With oif and no route, the kernel answers as if the server sat on the device's own network (no gateway).
        RoutingDoctor d = doctor(Map.of(
                "route get 203.0.113.9 from 192.168.42.7", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 oif usb0", "[{\"dst\":\"203.0.113.9\",\"dev\":\"usb0\"}]",
                "route get 203.0.113.9 from 192.168.42.7 oif usb0", "[{\"dst\":\"203.0.113.9\",\"dev\":\"usb0\"}]"));

        RoutingDoctor.Finding f = d.check(List.of(link("usb0", "192.168.42.7", "usb0")),
                InetAddress.getByName("203.0.113.9")).get(0);

        assertThat(f.ok()).isFalse();
        assertThat(f.message()).startsWith("no route to 203.0.113.9 through usb0");
        assertThat(f.fix()).containsExactly("ip rule add from 192.168.42.7 table 101",
                "ip route add default via GATEWAY dev usb0 table 101");
    }

    @Test
    void aLoopbackAddressCannotReachARemoteServerAndNoFixIsInvented() throws Exception {
        RoutingDoctor.Finding f = doctor(Map.of()).check(List.of(link("127.0.0.2", "127.0.0.2", null)),
                InetAddress.getByName("203.0.113.9")).get(0);

        assertThat(f.ok()).isFalse();
        assertThat(f.message()).isEqualTo("127.0.0.2 is a loopback address: it cannot reach 203.0.113.9");
        assertThat(f.fix()).isEmpty();
    }

    @Test
    void anIpv6FixSaysSo() throws Exception {
        RoutingDoctor d = doctor(Map.of(
                "route get 2001:db8:9::9 from 2001:db8:42::7", "[{\"dst\":\"2001:db8:9::9\",\"gateway\":\"fe80::1\",\"dev\":\"eth0\"}]",
                "route get 2001:db8:9::9 oif usb0", "[{\"dst\":\"2001:db8:9::9\",\"gateway\":\"fe80::2\",\"dev\":\"usb0\"}]"));

        RoutingDoctor.Finding f = d.check(List.of(link("2001:db8:42::7", "2001:db8:42::7", null)),
                InetAddress.getByName("2001:db8:9::9")).get(0);

        assertThat(f.fix()).containsExactly("ip -6 rule add from 2001:db8:42::7 table 101",
                "ip -6 route add default via fe80::2 dev usb0 table 101");
    }

    @Test
    void aTableThatOnlyARuleUsesOrThatHoldsIpv6RoutesIsNotProposedEither() throws Exception {
        // A VPN's rule looks up table 101 (empty while the VPN is down); table 102 holds another link's IPv6 routes.
        RoutingDoctor d = doctor(Map.of(
                "route get 203.0.113.9 from 192.168.42.7", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 oif usb0", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"192.168.42.129\",\"dev\":\"usb0\"}]",
                "-N rule show", "[{\"priority\":0,\"src\":\"all\",\"table\":\"255\"},{\"priority\":100,\"src\":\"10.8.0.2\","
                        + "\"table\":\"101\"},{\"priority\":32766,\"src\":\"all\",\"table\":\"254\"}]",
                "-6 -N route show table all", "[{\"dst\":\"default\",\"gateway\":\"fe80::1\",\"dev\":\"eth1\",\"table\":\"102\"}]"));

        RoutingDoctor.Finding f = d.check(List.of(link("192.168.42.7", "192.168.42.7", null)),
                InetAddress.getByName("203.0.113.9")).get(0);

        assertThat(f.fix()).containsExactly("ip rule add from 192.168.42.7 table 103",
                "ip route add default via 192.168.42.129 dev usb0 table 103");
    }

    @Test
    void twoLinksGetTwoTablesAndTablesAreListedOnlyWhenAFixNeedsOne() throws Exception {
        RoutingDoctor d = doctor(Map.of(
                "route get 203.0.113.9 from 192.168.42.7", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 from 192.168.43.7", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]",
                "route get 203.0.113.9 oif usb0", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"192.168.42.129\",\"dev\":\"usb0\"}]"));

        List<RoutingDoctor.Finding> f = d.check(List.of(link("192.168.42.7", "192.168.42.7", null),
                link("192.168.43.7", "192.168.43.7", null)), InetAddress.getByName("203.0.113.9"));

        assertThat(f.get(0).fix()).first().isEqualTo("ip rule add from 192.168.42.7 table 101");
        assertThat(f.get(1).fix()).first().isEqualTo("ip rule add from 192.168.43.7 table 102");
        assertThat(asked.stream().filter(q -> q.equals("-N route show table all"))).hasSize(1);

        asked.clear();
        doctor(Map.of("route get 203.0.113.9 from 10.1.0.5", "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]"))
                .check(List.of(link("10.1.0.5", "10.1.0.5", null)), InetAddress.getByName("203.0.113.9"));
        assertThat(asked).as("a healthy link costs no table listing").noneMatch(q -> q.contains("-N"));
    }

    @Test
    void whenIpCannotListTheTablesTheFixSaysTable() throws Exception {
        IpRoute ip = new IpRoute(args -> {
            String q = String.join(" ", args);
            return () -> q.contains("-N ") ? new IpRoute.Answer(false, "Option \"-N\" is unknown, try \"ip -help\".")
                    : q.equals("route get 203.0.113.9 oif usb0")
                    ? new IpRoute.Answer(true, "[{\"dst\":\"203.0.113.9\",\"gateway\":\"192.168.42.129\",\"dev\":\"usb0\"}]")
                    : new IpRoute.Answer(true, "[{\"dst\":\"203.0.113.9\",\"gateway\":\"10.1.0.1\",\"dev\":\"eth0\"}]");
        });
        List<RoutingDoctor.Finding> f = new RoutingDoctor(ip, a -> "usb0").check(
                List.of(link("192.168.42.7", "192.168.42.7", null)), InetAddress.getByName("203.0.113.9"));

        assertThat(f.get(0).fix()).containsExactly("ip rule add from 192.168.42.7 table TABLE",
                "ip route add default via 192.168.42.129 dev usb0 table TABLE");
        assertThat(RoutingDoctor.report("203.0.113.9", f)).contains("TABLE, where shown, a routing table number no route");
    }
}
