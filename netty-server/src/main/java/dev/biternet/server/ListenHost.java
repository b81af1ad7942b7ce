package dev.biternet.server;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.util.function.Consumer;

/**
 * The address biternet-serve listens on when {@code --host} is not given: {@code ::}, one socket
 * for every IPv4 and IPv6 address (both the JDK and Netty's native transports turn
 * {@code IPV6_V6ONLY} off on it, whatever {@code net.ipv6.bindv6only} says), or {@code 0.0.0.0}
 * on a host where IPv6 cannot be used.
 */
final class ListenHost {
    static final String DUAL_STACK = "::";
    static final String IPV4_ONLY = "0.0.0.0";

    private ListenHost() {
    }

    /**
     * {@code ::} if an IPv6 socket can be bound here (to {@code ::1}, the probe Netty's native
     * transports make before they open IPv6 sockets), else {@code 0.0.0.0} after one line to
     * {@code notice} saying so.
     */
    static String wildcard(Consumer<String> notice) {
        try (ServerSocketChannel probe = ServerSocketChannel.open(StandardProtocolFamily.INET6)) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            return DUAL_STACK;
        } catch (IOException | UnsupportedOperationException e) {
            notice.accept("biternet-serve: no IPv6 on this host (" + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()) + "); listening on IPv4 only (" + IPV4_ONLY + ")");
            return IPV4_ONLY;
        }
    }
}
