package dev.biternet.client.link;

import dev.biternet.common.cli.Sizes;
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
        return resolve(ifaces, server, null);
    }

    /**
     * As {@link #resolve(List, InetAddress)}, but a named interface that is missing, down or
     * without a usable address is a link that waits for it ({@link LinkSpec#waiting}), its reason
     * added to {@code waiting}, as long as another link is usable now; if none is, the first
     * reason fails it.
     */
    public static List<LinkSpec> resolveWaiting(List<String> ifaces, InetAddress server, List<String> waiting)
            throws LinkException {
        List<String> reasons = new ArrayList<>();
        List<LinkSpec> links = resolve(ifaces, server, reasons);
        if (!reasons.isEmpty() && links.stream().allMatch(LinkSpec::waiting)) {
            throw new LinkException(reasons.get(0));
        }
        waiting.addAll(reasons);
        return links;
    }

    private static List<LinkSpec> resolve(List<String> ifaces, InetAddress server, List<String> waiting)
            throws LinkException {
        if (ifaces == null || ifaces.isEmpty()) {
            return List.of(LinkSpec.defaultRoute());
        }
        List<LinkSpec> links = new ArrayList<>();
        for (String iface : ifaces) {
            LinkSpec spec;
            try {
                spec = resolveOne(iface.trim(), server);
            } catch (Unusable e) {
                if (waiting == null) {
                    throw e;
                }
                waiting.add(e.getMessage());
                spec = e.waiting;
            }
            for (LinkSpec other : links) {
                if (other.name().equals(spec.name())) {
                    throw new LinkException("--iface " + iface + " is given twice");
                }
            }
            links.add(spec);
        }
        return links;
    }

    /** How one option after a link's name is read into the link's {@link LinkOptions}. */
    @FunctionalInterface
    private interface Reader {
        LinkOptions read(LinkOptions options, String value, String key, String amount) throws LinkException;
    }

    /** One option: its usage and its reader. */
    private record Option(String usage, Reader reader) {}

    /** The options a link takes after its name, in the order the usage names them. */
    private static final java.util.Map<String, Option> OPTIONS = new java.util.LinkedHashMap<>();

    static {
        OPTIONS.put("cap", new Option("cap=SIZE", (o, value, key, amount) -> o.withCap(size(value, key, amount))));
        OPTIONS.put("rate", new Option("rate=SIZE", (o, value, key, amount) -> o.withRate(size(value, key, amount))));
        OPTIONS.put("flows", new Option("flows=N", (o, value, key, amount) -> o.withFlows(flows(value, amount))));
    }

    private static final java.util.regex.Pattern OPTION_START =
            java.util.regex.Pattern.compile(":(" + String.join("|", OPTIONS.keySet()) + ")=");

    /**
     * Splits {@code IFACE[:cap=SIZE][,rate=SIZE][,flows=N|auto]} (the options in any order) and
     * resolves the interface part. SIZE is a number with an optional suffix ({@link Sizes#parse}:
     * k, M, G, T powers of 1000, Ki, Mi, Gi, Ti powers of 1024); rate is bytes per second.
     */
    static LinkSpec resolveOne(String value, InetAddress server) throws LinkException {
        java.util.regex.Matcher m = OPTION_START.matcher(value);
        if (!m.find()) {
            return resolveIface(value, server, LinkOptions.NONE);
        }
        String iface = value.substring(0, m.start());
        LinkOptions options = LinkOptions.NONE;
        for (String option : value.substring(m.start() + 1).split(",")) {
            int eq = option.indexOf('=');
            String key = eq < 0 ? option : option.substring(0, eq);
            String amount = eq < 0 ? "" : option.substring(eq + 1);
            Option known = OPTIONS.get(key);
            if (known == null) {
                throw new LinkException("--iface " + value + ": unknown option '" + key + "' (use " + usage() + ")");
            }
            options = known.reader().read(options, value, key, amount);
        }
        return resolveIface(iface, server, options).with(options);
    }

    /** "cap=SIZE, rate=SIZE and flows=N". */
    private static String usage() {
        List<String> all = OPTIONS.values().stream().map(Option::usage).toList();
        return String.join(", ", all.subList(0, all.size() - 1)) + " and " + all.get(all.size() - 1);
    }

    /** {@code auto} or 1 to {@link FlowCount#MAX_FLOWS}. */
    static int flows(String value, String amount) throws LinkException {
        if (amount.equals("auto")) {
            return LinkOptions.AUTO_FLOWS;
        }
        try {
            int n = Integer.parseInt(amount);
            if (n >= 1 && n <= FlowCount.MAX_FLOWS) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new LinkException("--iface " + value + ": flows=" + amount + " must be auto or 1 to " + FlowCount.MAX_FLOWS);
    }

    /** Parses a size as {@link Sizes#parse} reads it (500M, 2Mi, 1.5GB, 100k, 123) into bytes, more than 0. */
    static long size(String value, String key, String amount) throws LinkException {
        long bytes;
        try {
            bytes = Sizes.parse(amount);
        } catch (IllegalArgumentException e) {
            throw new LinkException("--iface " + value + ": " + key + "=" + e.getMessage());
        }
        if (bytes <= 0) {
            throw new LinkException("--iface " + value + ": " + key + " must be more than 0");
        }
        return bytes;
    }

    private static LinkSpec resolveIface(String iface, InetAddress server, LinkOptions options) throws LinkException {
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
        if (iface.length() >= 16) {
            throw new LinkException("--iface " + iface + ": not a local address, and too long for an interface name"
                    + " (at most 15 characters)");
        }
        try {
            return new LinkSpec(iface, address(iface, server), iface);
        } catch (LinkException e) {
            throw new Unusable(e.getMessage(), new LinkSpec(iface, null, iface, options));
        }
    }

    /**
     * The address a link on interface {@code iface} binds to now to reach {@code server}: its
     * first address of the server's family (link-local IPv6 only for a link-local server).
     *
     * @throws LinkException naming why there is none: no such interface, down, no usable address
     */
    public static InetAddress address(String iface, InetAddress server) throws LinkException {
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
        return best;
    }

    private static String family(InetAddress a) {
        return a instanceof Inet4Address ? "IPv4" : "IPv6";
    }

    /** A named interface that cannot be used now (missing, down, no address): the link could wait for it. */
    private static final class Unusable extends LinkException {
        private static final long serialVersionUID = 1L;
        private final transient LinkSpec waiting;

        Unusable(String message, LinkSpec waiting) {
            super(message);
            this.waiting = waiting;
        }
    }

    /** An --iface value that cannot be used. */
    public static class LinkException extends Exception {
        private static final long serialVersionUID = 1L;

        public LinkException(String message) {
            super(message);
        }
    }
}
