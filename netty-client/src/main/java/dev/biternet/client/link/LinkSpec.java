package dev.biternet.client.link;

import java.net.InetAddress;

/**
 * One link as the user named it ({@code --iface}), resolved: the local address its channel binds
 * to and, when an interface was named, the device it is pinned to with SO_BINDTODEVICE.
 * {@code localAddress} is null for the default route. {@code capBytes} (payload this link may
 * carry) and {@code rateLimit} (bytes per second) are 0 when not set; {@code flows} is the number
 * of TCP flows the link uses, or {@link #AUTO_FLOWS}: as many as pay ({@link FlowCount}).
 */
public record LinkSpec(String name, InetAddress localAddress, String device, long capBytes, long rateLimit, int flows) {
    public static final int AUTO_FLOWS = 0;

    public LinkSpec(String name, InetAddress localAddress, String device) {
        this(name, localAddress, device, 0, 0, AUTO_FLOWS);
    }

    public static LinkSpec defaultRoute() {
        return new LinkSpec("default", null, null);
    }

    /** This link with the options given after its name ({@code cap=}, {@code rate=}, {@code flows=}). */
    public LinkSpec with(long cap, long rate, int flows) {
        return new LinkSpec(name, localAddress, device, cap, rate, flows);
    }

    /**
     * How many flows this link uses, judged as the download runs: the number given, or with
     * {@code auto} as many as pay, unless the server sends with a congestion control that random
     * loss does not hold down (BBR: one flow fills a lossy link, more only crowd it).
     *
     * @param serverCongestion Welcome.congestion_control ("" if the server did not say)
     */
    public FlowCount flowCount(String serverCongestion) {
        if (flows != AUTO_FLOWS) {
            return FlowCount.fixed(flows);
        }
        return new FlowCount(serverCongestion.startsWith("bbr") ? 1 : FlowCount.MAX_FLOWS);
    }

    public String addressText() {
        return localAddress == null ? "" : io.netty.util.NetUtil.toAddressString(localAddress);
    }
}
