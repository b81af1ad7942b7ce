package dev.biternet.client.link;

import java.net.InetAddress;

/**
 * One link as the user named it ({@code --iface}), resolved: the local address its channel binds
 * to and, when an interface was named, the device it is pinned to with SO_BINDTODEVICE.
 * {@code localAddress} is null for the default route.
 */
public record LinkSpec(String name, InetAddress localAddress, String device) {
    public static LinkSpec defaultRoute() {
        return new LinkSpec("default", null, null);
    }

    public String addressText() {
        return localAddress == null ? "" : io.netty.util.NetUtil.toAddressString(localAddress);
    }
}
