package dev.biternet.client;

import dev.biternet.client.route.AutoLinks;
import java.net.InetAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code --iface auto[:OPTIONS]} in a command line: the interfaces {@link AutoLinks} takes now,
 * each with auto's options, in its place; interfaces also named on their own keep their own
 * options. Without auto the list is unchanged.
 */
final class AutoIfaces {
    private final List<String> given;
    /** What follows "auto" (":cap=..."), or null without auto. */
    private final String options;

    AutoIfaces(List<String> given) {
        this.given = given == null ? List.of() : given;
        this.options = this.given.stream().filter(v -> v.equals("auto") || v.startsWith("auto:"))
                .map(v -> v.substring("auto".length())).findFirst().orElse(null);
    }

    boolean auto() {
        return options != null;
    }

    /** The --iface values with auto replaced by what it takes now ({@code chosen}). */
    List<String> expand(List<String> chosen) {
        if (!auto()) {
            return given;
        }
        Set<String> named = new LinkedHashSet<>();
        List<String> out = new ArrayList<>();
        for (String v : given) {
            if (!(v.equals("auto") || v.startsWith("auto:"))) {
                out.add(v);
                named.add(name(v));
            }
        }
        for (String c : chosen) {
            if (!named.contains(c)) {
                out.add(value(c));
            }
        }
        return out;
    }

    /** The --iface value for an interface auto takes: its name and auto's options. */
    String value(String iface) {
        return iface + options;
    }

    /** The interface part of an --iface value (before its options). */
    static String name(String value) {
        return value.replaceFirst(":(cap|rate|flows)=.*$", "");
    }

    /** The values for now, or a usage error when auto takes nothing and nothing else is named. */
    List<String> expandNow(AutoLinks links, InetAddress server) throws DownloadException {
        if (!auto()) {
            return given;
        }
        List<String> chosen;
        try {
            chosen = links.chosen(server);
        } catch (SocketException e) {
            throw new DownloadException(ExitCodes.LOCAL_IO, "--iface auto: cannot list the interfaces: " + e.getMessage());
        }
        List<String> out = expand(chosen);
        if (out.isEmpty()) {
            String s = io.netty.util.NetUtil.toAddressString(server);
            throw new DownloadException(ExitCodes.USAGE, "--iface auto: no interface that is up reaches " + s
                    + " through itself (see biternet-get --list-ifaces " + s + ")");
        }
        return out;
    }
}
