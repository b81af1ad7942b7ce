package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerAddressesTest {
    private static InetAddress ip(String s) throws Exception {
        return InetAddress.getByName(s);
    }

    @Test
    void linkIGoesToAddressIModuloTheCountOfItsOwnFamily() throws Exception {
        ServerAddresses s = new ServerAddresses(List.of(ip("192.0.2.1"), ip("2001:db8::1"), ip("192.0.2.2"),
                ip("2001:db8::2")), 7420);
        InetAddress v4 = ip("198.18.0.1");
        InetAddress v6 = ip("2001:db8:1::1");

        assertThat(s.count(v4)).isEqualTo(2);
        assertThat(s.pick(v4, 0).getAddress()).isEqualTo(ip("192.0.2.1"));
        assertThat(s.pick(v4, 1).getAddress()).isEqualTo(ip("192.0.2.2"));
        assertThat(s.pick(v4, 2).getAddress()).isEqualTo(ip("192.0.2.1"));
        assertThat(s.pick(v6, 1).getAddress()).isEqualTo(ip("2001:db8::2"));
        assertThat(s.pick(null, 3).getAddress()).as("the default route: any family").isEqualTo(ip("2001:db8::2"));
        assertThat(s.pick(v4, 1).getPort()).isEqualTo(7420);
    }

    @Test
    void oneAddressIsEveryTurn() throws Exception {
        ServerAddresses s = new ServerAddresses(List.of(ip("192.0.2.1")), 9);
        assertThat(s.count(ip("198.18.0.1"))).isEqualTo(1);
        assertThat(s.pick(ip("198.18.0.1"), 5).getAddress()).isEqualTo(ip("192.0.2.1"));
        assertThat(s.pick(ip("2001:db8:1::1"), 5).getAddress()).as("no address of its family: the others")
                .isEqualTo(ip("192.0.2.1"));
    }
}
