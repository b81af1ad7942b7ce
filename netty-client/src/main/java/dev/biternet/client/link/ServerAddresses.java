package dev.biternet.client.link;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Every address of the server's name (a cluster's nodes behind one name), and which one a link
 * connects to: link i (its turn, from 0) to the i-th of the addresses of its own family, modulo
 * their count, so a download's links spread over the nodes; a link whose connection fails takes
 * the next turn ({@link Link#failedAt}). With one address every turn is that address.
 */
public record ServerAddresses(List<InetAddress> all, int port) {
    public ServerAddresses {
        if (all.isEmpty()) {
            throw new IllegalArgumentException("no server address");
        }
        all = List.copyOf(all);
    }

    /** One address (no cluster, or a test's server). */
    public static ServerAddresses of(InetSocketAddress one) {
        return new ServerAddresses(List.of(one.getAddress()), one.getPort());
    }

    /** The address the link's resolvers choose its interface's address for: the first. */
    public InetAddress first() {
        return all.get(0);
    }

    /** Where a link bound to {@code local} (null: the default route) connects on its turn {@code turn}. */
    public InetSocketAddress pick(InetAddress local, int turn) {
        List<InetAddress> mine = reachable(local);
        return new InetSocketAddress(mine.get(Math.floorMod(turn, mine.size())), port);
    }

    /** How many addresses a link bound to {@code local} can try. */
    public int count(InetAddress local) {
        return reachable(local).size();
    }

    /** The addresses of the family of {@code local}; all of them when it is null or none matches. */
    private List<InetAddress> reachable(InetAddress local) {
        if (local == null) {
            return all;
        }
        boolean v4 = local instanceof Inet4Address;
        List<InetAddress> same = all.stream().filter(a -> (a instanceof Inet4Address) == v4).toList();
        return same.isEmpty() ? all : same;
    }
}
