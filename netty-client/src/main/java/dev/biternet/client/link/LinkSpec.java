package dev.biternet.client.link;

import java.net.InetAddress;

/**
 * One link as the user named it ({@code --iface}), resolved: the local address its channel binds
 * to and, when an interface was named, the device it is pinned to with SO_BINDTODEVICE.
 * {@code localAddress} is null for the default route. {@code capBytes} (payload this link may
 * carry) and {@code rateLimit} (bytes per second) are 0 when not set.
 */
public record LinkSpec(String name, InetAddress localAddress, String device, long capBytes, long rateLimit) {
    public LinkSpec(String name, InetAddress localAddress, String device) {
        this(name, localAddress, device, 0, 0);
    }

    public static LinkSpec defaultRoute() {
        return new LinkSpec("default", null, null);
    }

    public LinkSpec withLimits(long cap, long rate) {
        return new LinkSpec(name, localAddress, device, cap, rate);
    }

    public String addressText() {
        return localAddress == null ? "" : io.netty.util.NetUtil.toAddressString(localAddress);
    }
}
