package dev.biternet.client.link;

import io.netty.util.NetUtil;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Turns {@code --iface} values into {@link LinkSpec}s. A value is an interface name (bound by
 * its address of the server's family, plus the device) or a local IP address (bound by address).
 * Anything that does not resolve fails with a message naming it; nothing falls back silently to
 * another interface.
 */
public final class LinkResolver {
    private LinkResolver() {}

    public static List<LinkSpec> resolve(List<String> ifaces, InetAddress server) throws LinkException {
        if (ifaces == null || ifaces.isEmpty()) {
            return List.of(LinkSpec.defaultRoute());
        }
        List<LinkSpec> links = new ArrayList<>();
        for (String iface : ifaces) {
            LinkSpec spec = resolveOne(iface.trim(), server);
            for (LinkSpec other : links) {
                if (other.name().equals(spec.name())) {
                    throw new LinkException("--iface " + iface + " is given twice");
                }
            }
            links.add(spec);
        }
        return links;
    }

    static LinkSpec resolveOne(String iface, InetAddress server) throws LinkException {
        if (iface.isEmpty()) {
            throw new LinkException("--iface needs an interface name or a local address");
        }
        String literal = iface.startsWith("[") && iface.endsWith("]") ? iface.substring(1, iface.length() - 1) : iface;
        byte[] raw = NetUtil.createByteArrayFromIpAddressString(literal);
        if (raw != null) {
            InetAddress addr;
            try {
                addr = InetAddress.getByAddress(raw);
            } catch (UnknownHostException e) {
                throw new LinkException("--iface " + iface + ": not a valid address");
            }
            if ((addr instanceof Inet4Address) != (server instanceof Inet4Address)) {
                throw new LinkException("--iface " + iface + " is an " + family(addr) + " address but the server "
                        + io.netty.util.NetUtil.toAddressString(server) + " is " + family(server));
            }
            return new LinkSpec(iface, addr, null);
        }
        NetworkInterface nif;
        try {
            nif = NetworkInterface.getByName(iface);
            if (nif == null) {
                throw new LinkException("--iface " + iface + ": no such network interface (see 'ip link')");
            }
            if (!nif.isUp()) {
                throw new LinkException("--iface " + iface + ": interface is down");
            }
        } catch (SocketException e) {
            throw new LinkException("--iface " + iface + ": " + e.getMessage());
        }
        InetAddress best = null;
        for (InetAddress a : Collections.list(nif.getInetAddresses())) {
            if ((a instanceof Inet4Address) != (server instanceof Inet4Address)) {
                continue;
            }
            if (a instanceof Inet6Address v6 && v6.isLinkLocalAddress() && !server.isLinkLocalAddress()) {
                continue;
            }
            if (best == null) {
                best = a;
            }
        }
        if (best == null) {
            throw new LinkException("--iface " + iface + ": has no usable " + family(server) + " address to reach "
                    + io.netty.util.NetUtil.toAddressString(server));
        }
        if (best instanceof Inet6Address v6 && v6.getScopeId() != 0) {
            try {
                best = InetAddress.getByAddress(v6.getAddress());
            } catch (UnknownHostException e) {
                throw new LinkException("--iface " + iface + ": " + e.getMessage());
            }
        }
        return new LinkSpec(iface, best, iface);
    }

    private static String family(InetAddress a) {
        return a instanceof Inet4Address ? "IPv4" : "IPv6";
    }

    /** An --iface value that cannot be used. */
    public static final class LinkException extends Exception {
        private static final long serialVersionUID = 1L;

        public LinkException(String message) {
            super(message);
        }
    }
}
