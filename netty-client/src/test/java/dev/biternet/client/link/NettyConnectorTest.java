package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The download's connector over real loopback sockets: a link goes out its own interface or
 * not at all (a device it cannot bind to fails the connection; a link waiting for an address
 * is not connected), and a transport that cannot bind to a device says so in one line.
 */
class NettyConnectorTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private final List<String> warnings = new CopyOnWriteArrayList<>();
    private EventLoopGroup group;
    private ServerSocket server;

    @AfterEach
    void tearDown() throws Exception {
        if (server != null) {
            server.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private NettyConnector connector(Transport transport) throws Exception {
        group = transport.newGroup(1);
        server = new ServerSocket(0, 10, LOOPBACK);
        server.setSoTimeout(2000);
        return new NettyConnector(transport, group,
                ServerAddresses.of(new InetSocketAddress(LOOPBACK, server.getLocalPort())), "localhost", 2000, null, warnings::add);
    }

    @Test
    void aLinkConnectsAndSaysHello() throws Exception {
        NettyConnector c = connector(Transport.best());
        LinkHandler h = new LinkHandler(new LinkSpec("default", null, null), null);

        assertThat(Connector.await(c.connect(h.spec(), 0, h))).isNull();

        try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
            assertThat(in.read()).as("the Hello frame's first byte").isNotEqualTo(-1);
        }
        h.close();
        assertThat(warnings).isEmpty();
    }

    @Test
    void aLinkWaitingForAnAddressIsNotConnected() throws Exception {
        NettyConnector c = connector(Transport.best());
        LinkSpec waiting = new LinkSpec("wlan0", null, "wlan0");
        LinkHandler h = new LinkHandler(waiting, null);

        Throwable failed = Connector.await(c.connect(waiting, 0, h));

        assertThat(failed).hasMessage("wlan0 has no usable address now");
        assertThat(accepted()).as("no connection reached the server").isFalse();
    }

    /** A device that cannot be bound to fails the connection: it never goes out another interface. */
    @Test
    void aDeviceThatCannotBeBoundFailsTheLink() throws Exception {
        assumeTrue(Transport.best() == Transport.EPOLL, "SO_BINDTODEVICE needs epoll");
        NettyConnector c = connector(Transport.EPOLL);
        LinkSpec spec = new LinkSpec("nosuch0", LOOPBACK, "nosuch0");
        LinkHandler h = new LinkHandler(spec, null);

        Throwable failed = Connector.await(c.connect(spec, 0, h));

        assertThat(failed).hasMessageStartingWith("cannot bind to device nosuch0: ");
        assertThat(accepted()).as("no connection reached the server").isFalse();
    }

    @Test
    void aTransportWithoutDeviceBindingWarnsAndBindsByAddress() throws Exception {
        NettyConnector c = connector(Transport.NIO);
        LinkSpec spec = new LinkSpec("lo", LOOPBACK, "lo");
        LinkHandler h = new LinkHandler(spec, null);

        assertThat(Connector.await(c.connect(spec, 0, h))).isNull();

        assertThat(warnings).containsExactly("lo is bound by address only (SO_BINDTODEVICE needs the epoll transport)");
        try (Socket s = server.accept()) {
            assertThat(s.getInetAddress()).isEqualTo(LOOPBACK);
        }
        h.close();
    }

    @Test
    void aDeviceNameIsNulTerminatedAndCutToFifteenBytes() {
        ByteBuffer lo = BoundConnect.deviceName("lo");
        assertThat(lo.remaining()).isEqualTo(16);
        assertThat(new byte[] {lo.get(0), lo.get(1), lo.get(2)}).containsExactly('l', 'o', 0);

        ByteBuffer longName = BoundConnect.deviceName("averyveryverylongname");
        assertThat(longName.get(14)).isEqualTo((byte) 'o');
        assertThat(longName.get(15)).as("the terminating NUL").isZero();
    }

    private boolean accepted() throws Exception {
        server.setSoTimeout(300);
        try (Socket s = server.accept()) {
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        }
    }
}
