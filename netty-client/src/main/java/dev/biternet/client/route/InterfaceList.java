package dev.biternet.client.route;

import dev.biternet.client.link.LinkSpec;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * {@code biternet-get --list-ifaces [SERVER]}: the interfaces that are up and their addresses,
 * and, given a server, whether a link pinned to each one ({@code --iface NAME}) would really
 * reach the server through it, as {@link RoutingDoctor} judges it.
 */
public final class InterfaceList {
    private InterfaceList() {}

    /** One interface that is up. */
    public record Iface(String name, List<InterfaceAddress> addresses) {
        InetAddress addressFor(InetAddress server) {
            for (InterfaceAddress a : addresses) {
                InetAddress ip = a.getAddress();
                if ((ip instanceof Inet4Address) == (server instanceof Inet4Address)
                        && (!ip.isLinkLocalAddress() || server.isLinkLocalAddress())) {
                    return ip;
                }
            }
            return null;
        }
    }

    public static List<Iface> up() throws SocketException {
        List<NetworkInterface> all = Collections.list(NetworkInterface.getNetworkInterfaces());
        all.sort(Comparator.comparingInt(NetworkInterface::getIndex));
        List<Iface> out = new ArrayList<>();
        for (NetworkInterface n : all) {
            if (n.isUp()) {
                out.add(new Iface(n.getName(), List.copyOf(n.getInterfaceAddresses())));
            }
        }
        return out;
    }

    /** "IPv4" or "IPv6". */
    static String family(InetAddress a) {
        return a instanceof Inet4Address ? "IPv4" : "IPv6";
    }

    /** Whether a link pinned to an interface reaches the server through it, and why (or why not). */
    public record Verdict(boolean ok, String message) {}

    /** Each interface's verdict for {@code server}, in the order of {@code ifaces}. */
    public static List<Verdict> verdicts(List<Iface> ifaces, InetAddress server, RoutingDoctor doctor) {
        List<Verdict> verdicts = new ArrayList<>();
        List<LinkSpec> links = new ArrayList<>();
        List<Integer> index = new ArrayList<>();
        for (int i = 0; i < ifaces.size(); i++) {
            Iface f = ifaces.get(i);
            InetAddress a = f.addressFor(server);
            verdicts.add(a == null ? new Verdict(false, "no " + family(server) + " address")
                    : null);
            if (a != null) {
                links.add(new LinkSpec(f.name(), a, f.name()));
                index.add(i);
            }
        }
        List<RoutingDoctor.Finding> findings = doctor.check(links, server);
        for (int k = 0; k < findings.size(); k++) {
            RoutingDoctor.Finding fd = findings.get(k);
            verdicts.set(index.get(k), new Verdict(fd.ok(), fd.message()));
        }
        return verdicts;
    }

    /** The table; with a server (else null) and its {@link #verdicts}, a last column saying whether each interface reaches it. */
    public static String render(List<Iface> ifaces, InetAddress server, List<Verdict> verdicts) {
        int nameWidth = "interface".length();
        int addrWidth = "addresses".length();
        List<String> addrs = new ArrayList<>();
        for (Iface f : ifaces) {
            StringBuilder b = new StringBuilder();
            for (InterfaceAddress a : f.addresses()) {
                b.append(b.length() > 0 ? " " : "").append(io.netty.util.NetUtil.toAddressString(a.getAddress()))
                        .append('/').append(a.getNetworkPrefixLength());
            }
            addrs.add(b.toString());
            nameWidth = Math.max(nameWidth, f.name().length());
            addrWidth = Math.max(addrWidth, b.length());
        }
        String row = "%-" + nameWidth + "s  %-" + addrWidth + "s  %s";
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, row, "interface", "addresses",
                server == null ? "" : "reaches " + io.netty.util.NetUtil.toAddressString(server) + " through it?")
                .stripTrailing()).append(System.lineSeparator());
        for (int i = 0; i < ifaces.size(); i++) {
            String verdict = server == null ? "" : (verdicts.get(i).ok() ? "yes: " : "no: ") + verdicts.get(i).message();
            out.append(String.format(Locale.ROOT, row, ifaces.get(i).name(), addrs.get(i), verdict).stripTrailing())
                    .append(System.lineSeparator());
        }
        return out.toString();
    }
}
