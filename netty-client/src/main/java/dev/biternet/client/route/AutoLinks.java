package dev.biternet.client.route;

import dev.biternet.client.link.LinkSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code --iface auto}: every interface that is up, has an address of the server's family and
 * reaches the server through itself ({@link RoutingDoctor}, the kernel's own route lookup,
 * policy rules included). Skipped whatever their routes, unless named with {@code --iface}:
 * loopback (unless the server is on it), bridges, ports of a bridge or bond (a container's
 * veth), tun/tap devices (VPNs) and WireGuard tunnels; they carry traffic that is not an
 * uplink's, or an uplink's traffic a second time. A veth of its own (a namespace's uplink) is an
 * interface like any other. The kind is read from sysfs.
 */
public final class AutoLinks {
    /** One interface that is up: whether {@code auto} takes it, and why (or why not). */
    public record Pick(String iface, InetAddress address, boolean chosen, String why) {}

    private final RoutingDoctor doctor;
    private final Path sysNet;

    public AutoLinks(RoutingDoctor doctor, Path sysNet) {
        this.doctor = doctor;
        this.sysNet = sysNet;
    }

    /** For this machine. */
    public static AutoLinks system() {
        return new AutoLinks(RoutingDoctor.system(), Path.of("/sys/class/net"));
    }

    /** Every interface that is up, in index order, taken or not and why. */
    public List<Pick> picks(InetAddress server) throws SocketException {
        return picks(InterfaceList.up(), server);
    }

    private List<Pick> picks(List<InterfaceList.Iface> up, InetAddress server) {
        List<Pick> picks = new ArrayList<>();
        List<LinkSpec> candidates = new ArrayList<>();
        List<Integer> at = new ArrayList<>();
        for (InterfaceList.Iface f : up) {
            InetAddress a = f.addressFor(server);
            String skip = skipped(f.name(), server);
            if (skip != null) {
                picks.add(new Pick(f.name(), a, false, skip));
            } else if (a == null) {
                picks.add(new Pick(f.name(), null, false, "no " + InterfaceList.family(server) + " address"));
            } else {
                picks.add(null);
                at.add(picks.size() - 1);
                candidates.add(new LinkSpec(f.name(), a, f.name()));
            }
        }
        List<RoutingDoctor.Finding> findings = candidates.isEmpty() ? List.of() : doctor.check(candidates, server);
        for (int k = 0; k < findings.size(); k++) {
            RoutingDoctor.Finding fd = findings.get(k);
            picks.set(at.get(k), new Pick(fd.link().name(), fd.link().localAddress(), fd.ok(), fd.message()));
        }
        return picks;
    }

    /** One line for {@code --list-ifaces SERVER}: what {@code --iface auto} takes and what it skips, why. */
    public static String describe(List<Pick> picks) {
        List<String> takes = picks.stream().filter(Pick::chosen).map(Pick::iface).toList();
        List<String> skips = picks.stream().filter(p -> !p.chosen())
                .map(p -> p.iface() + " (" + (p.why().startsWith("no route") ? "no route through itself" : p.why()) + ")").toList();
        return "--iface auto takes: " + (takes.isEmpty() ? "nothing" : String.join(", ", takes))
                + (skips.isEmpty() ? "" : "; skips: " + String.join(", ", skips));
    }

    /** The names {@code auto} takes now. */
    public List<String> chosen(InetAddress server) throws SocketException {
        return picks(server).stream().filter(Pick::chosen).map(Pick::iface).toList();
    }

    /**
     * The interfaces that are up, have an address of the server's family, are of no kind auto
     * skips and are not in {@code except}: those whose routes a look has to judge. Reads sysfs
     * and the interface list only (no {@code ip} process), so a download can ask every second.
     */
    public List<String> candidates(InetAddress server, java.util.Set<String> except) throws SocketException {
        return InterfaceList.up().stream().filter(f -> !except.contains(f.name()) && f.addressFor(server) != null
                && skipped(f.name(), server) == null).map(InterfaceList.Iface::name).toList();
    }

    /** Of {@code candidates}, those that reach the server through themselves (one route lookup each). */
    public List<String> chosen(InetAddress server, List<String> candidates) throws SocketException {
        List<InterfaceList.Iface> up = InterfaceList.up().stream().filter(f -> candidates.contains(f.name())).toList();
        return picks(up, server).stream().filter(Pick::chosen).map(Pick::iface).toList();
    }

    /** Why {@code auto} leaves interface {@code name} alone whatever its routes, or null if it does not. */
    String skipped(String name, InetAddress server) {
        Path dev = sysNet.resolve(name);
        if (name.equals("lo") || Files.exists(dev.resolve("flags")) && (flags(dev) & 0x8) != 0) {
            return server.isLoopbackAddress() ? null : "loopback";
        }
        if (Files.isDirectory(dev.resolve("bridge"))) {
            return "a bridge";
        }
        if (Files.exists(dev.resolve("master"))) {
            return "a port of another interface (a bridge's or a bond's)";
        }
        if (Files.exists(dev.resolve("tun_flags"))) {
            return "a tun/tap device (a VPN's)";
        }
        if (uevent(dev).contains("DEVTYPE=wireguard")) {
            return "a WireGuard tunnel";
        }
        if (name.startsWith("docker")) {
            return "a Docker interface";
        }
        return null;
    }

    private static int flags(Path dev) {
        try {
            return Integer.decode(Files.readString(dev.resolve("flags")).strip());
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
    }

    private static String uevent(Path dev) {
        try {
            return Files.readString(dev.resolve("uevent"));
        } catch (IOException e) {
            return "";
        }
    }
}
