package dev.biternet.client.link;

import java.net.InetAddress;

/**
 * One link as the user named it ({@code --iface}), resolved: the local address its channel binds
 * to and, when an interface was named, the device it is pinned to with SO_BINDTODEVICE, with the
 * options given after its name. {@code localAddress} is null for the default route.
 */
public record LinkSpec(String name, InetAddress localAddress, String device, LinkOptions options) {
    public LinkSpec(String name, InetAddress localAddress, String device) {
        this(name, localAddress, device, LinkOptions.NONE);
    }

    public static LinkSpec defaultRoute() {
        return new LinkSpec("default", null, null);
    }

    /** This link with {@code options}. */
    public LinkSpec with(LinkOptions options) {
        return new LinkSpec(name, localAddress, device, options);
    }

    /** A named interface with no usable address now (missing, down): the link waits for one. */
    public boolean waiting() {
        return device != null && localAddress == null;
    }

    /** This link bound to {@code address} (null: waiting for one). */
    public LinkSpec at(InetAddress address) {
        return new LinkSpec(name, address, device, options);
    }

    public String addressText() {
        return localAddress == null ? "" : io.netty.util.NetUtil.toAddressString(localAddress);
    }
}
