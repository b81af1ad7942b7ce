package dev.biternet.client.route;

import dev.biternet.client.link.LinkSpec;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Checks, before a download, that each link's traffic to the server really leaves through the
 * link's own interface, by asking the kernel ({@code ip -j route get}):
 * <ul>
 *   <li>a link given by <b>address</b> is bound by address only, so it goes wherever the routing
 *       for that source address says: {@code route get SERVER from ADDR} must name its interface.
 *       On a machine with two uplinks and no policy routing both links would share the uplink
 *       of the default route.</li>
 *   <li>a link given by <b>name</b> is pinned to its device; the kernel then needs a route to the
 *       server through that device ({@code route get SERVER from ADDR oif DEV} with a gateway),
 *       or it sends to the server as if it sat on the device's own network.</li>
 * </ul>
 * When a link fails the check, the fix is per-source policy routing: a rule sending the link's
 * address to a table of its own whose default route leaves through the link.
 */
public final class RoutingDoctor {
    /** One link's verdict; {@code fix} holds the commands to run as root, empty when fine. */
    public record Finding(LinkSpec link, String device, boolean ok, String message, List<String> fix) {}

    private final IpRoute ip;
    private final Function<InetAddress, String> deviceOf;

    public RoutingDoctor(IpRoute ip, Function<InetAddress, String> deviceOf) {
        this.ip = ip;
        this.deviceOf = deviceOf;
    }

    /** The doctor for this machine. */
    public static RoutingDoctor system() {
        return new RoutingDoctor(IpRoute.system(), RoutingDoctor::deviceOf);
    }

    public List<Finding> check(List<LinkSpec> links, InetAddress server) {
        String to = NetUtil.toAddressString(server);
        List<String> devices = new ArrayList<>();
        // First the one lookup that settles a healthy link (one 'ip' per link, all at once): where
        // traffic from its address goes, or, for a pinned device, whether the device has a route.
        List<List<String>> first = new ArrayList<>();
        for (LinkSpec l : links) {
            String dev = l.localAddress() == null ? null : l.device() != null ? l.device() : deviceOf.apply(l.localAddress());
            devices.add(dev);
            if (dev != null) {
                first.add(l.device() == null ? List.of("route", "get", to, "from", l.addressText())
                        : List.of("route", "get", to, "from", l.addressText(), "oif", dev));
            }
        }
        List<IpRoute.Result> firstAnswers = ip.routes(first);
        List<Finding> findings = new ArrayList<>();
        int q = 0;
        Tables tables = new Tables();
        for (int i = 0; i < links.size(); i++) {
            LinkSpec l = links.get(i);
            String dev = devices.get(i);
            if (l.localAddress() == null) {
                findings.add(new Finding(l, "", true, "no --iface: uses the default route", List.of()));
                continue;
            }
            if (dev == null) {
                findings.add(new Finding(l, "", false, l.addressText() + " is not an address of any interface here"
                        + " (see 'ip -br addr')", List.of()));
                continue;
            }
            IpRoute.Result answer = firstAnswers.get(q++);
            if (l.localAddress().isLoopbackAddress() && !server.isLoopbackAddress()) {
                findings.add(new Finding(l, dev, false, l.addressText() + " is a loopback address: it cannot reach " + to,
                        List.of()));
                continue;
            }
            IpRoute.Route r = answer.route();
            if (r != null && r.dev().equals(dev) && (l.device() == null || !r.gateway().isEmpty())) {
                String how = l.device() == null ? "leaves through " + dev : "pinned to " + dev + ", leaves through it";
                findings.add(new Finding(l, dev, true, how + via(r), List.of()));
                continue;
            }
            List<IpRoute.Result> more = ip.routes(List.of(List.of("route", "get", to, "from", l.addressText()),
                    List.of("route", "get", to, "oif", dev)));
            findings.add(judge(l, dev, to, more.get(0), more.get(1), tables));
        }
        return findings;
    }

    /** A link the first lookup did not settle: by-source route, and the device's own route (for its gateway). */
    private Finding judge(LinkSpec l, String dev, String to, IpRoute.Result bySource, IpRoute.Result byDevice,
                          Tables tables) {
        String from = l.addressText();
        if (bySource.route() == null) {
            return new Finding(l, dev, false, "the kernel has no route to " + to + " from " + from + ": "
                    + bySource.error(), fix(from, dev, byDevice, tables));
        }
        IpRoute.Route r = bySource.route();
        if (r.dev().equals(dev)) {
            // Pinned, no gateway through the device, but the server is on the device's own network.
            return new Finding(l, dev, true, "leaves through " + dev + via(r), List.of());
        }
        String message = l.device() == null
                ? "traffic from " + from + " to " + to + " leaves through " + r.dev() + ", not " + dev
                        + " (no policy routing for " + from + ")"
                : "no route to " + to + " through " + dev + ": the kernel's route to it leaves through " + r.dev()
                        + ", and a socket pinned to " + dev + " would send as if " + to + " were on " + dev + "'s own network";
        return new Finding(l, dev, false, message, fix(from, dev, byDevice, tables));
    }

    private static String via(IpRoute.Route r) {
        return r.gateway().isEmpty() ? " (directly connected)" : " via " + r.gateway();
    }

    /** The two commands that give {@code from} a table of its own whose default route leaves through {@code dev}. */
    private static List<String> fix(String from, String dev, IpRoute.Result byDevice, Tables tables) {
        String gateway = byDevice.route() != null && !byDevice.route().gateway().isEmpty() ? byDevice.route().gateway()
                : "GATEWAY";
        String t = tables.next();
        // "default" alone means the IPv4 default route to ip(8).
        String ip = from.contains(":") ? "ip -6 " : "ip ";
        return List.of(ip + "rule add from " + from + " table " + t,
                ip + "route add default via " + gateway + " dev " + dev + " table " + t);
    }

    /**
     * The tables fixes are given: the first from 101 on that no route or rule uses (listed once,
     * when the first fix needs one) and that no other link's fix was given. "TABLE" if ip could
     * not list them.
     */
    private final class Tables {
        private static final int FIRST = 101;
        private Set<Integer> taken;
        private boolean listed;

        String next() {
            if (!listed) {
                taken = ip.tablesInUse();
                listed = true;
            }
            if (taken == null) {
                return "TABLE";
            }
            int t = FIRST;
            while (taken.contains(t)) {
                t++;
            }
            taken.add(t);
            return Integer.toString(t);
        }
    }

    /** The report as the user reads it: one line per link, and for each failing link its fix. */
    public static String report(String server, List<Finding> findings) {
        StringBuilder b = new StringBuilder("routing to ").append(server).append(':').append(System.lineSeparator());
        boolean anyFix = false;
        for (Finding f : findings) {
            b.append("  ").append(f.link().name());
            if (!f.link().addressText().isEmpty() && !f.link().name().equals(f.link().addressText())) {
                b.append(" (").append(f.link().addressText()).append(')');
            } else if (!f.device().isEmpty() && !f.device().equals(f.link().name())) {
                b.append(" (").append(f.device()).append(')');
            }
            b.append(f.ok() ? ": ok, " : ": PROBLEM: ").append(f.message()).append(System.lineSeparator());
            if (!f.fix().isEmpty()) {
                anyFix = true;
                b.append("    fix it (as root):").append(System.lineSeparator());
                for (String c : f.fix()) {
                    b.append("      ").append(c).append(System.lineSeparator());
                }
            }
        }
        if (anyFix) {
            b.append("  (GATEWAY, where shown, is the router on that interface's network; TABLE, where shown, a routing"
                    + " table number no route or rule uses yet; the rules last until reboot: add them to the interface's"
                    + " network configuration to keep them)").append(System.lineSeparator());
        }
        return b.toString();
    }

    /** The interface that holds {@code address}, or null. */
    static String deviceOf(InetAddress address) {
        if (address.isLoopbackAddress()) {
            return "lo";
        }
        try {
            NetworkInterface nif = NetworkInterface.getByInetAddress(address);
            return nif == null ? null : nif.getName();
        } catch (SocketException e) {
            return null;
        }
    }
}
