package dev.biternet.server.security;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts what each client address holds (connections or sessions) against a maximum; one
 * instance per kind per server, shared by every channel. Addresses that are not IP (embedded
 * test channels) are not counted. An address whose count drops to zero is forgotten, so the
 * map holds only addresses with something open.
 */
public final class AddressLimiter {
    private final int max;
    private final Map<InetAddress, Integer> counts = new ConcurrentHashMap<>();

    public AddressLimiter(int max) {
        this.max = max;
    }

    public int max() {
        return max;
    }

    /** Takes one unit for {@code address}; false (and nothing taken) if it already holds the maximum. */
    public boolean tryAcquire(SocketAddress address) {
        InetAddress ip = ip(address);
        if (ip == null) {
            return true;
        }
        boolean[] taken = {false};
        counts.compute(ip, (k, n) -> {
            int now = n == null ? 0 : n;
            if (now >= max) {
                return n;
            }
            taken[0] = true;
            return now + 1;
        });
        return taken[0];
    }

    /** Returns a unit taken by a successful {@link #tryAcquire}. */
    public void release(SocketAddress address) {
        InetAddress ip = ip(address);
        if (ip != null) {
            counts.computeIfPresent(ip, (k, n) -> n <= 1 ? null : n - 1);
        }
    }

    /** Units {@code address} holds now. */
    public int held(SocketAddress address) {
        InetAddress ip = ip(address);
        return ip == null ? 0 : counts.getOrDefault(ip, 0);
    }

    /** The address part of {@code address} for messages and logs ({@code 127.0.0.1}, {@code ::1}). */
    public static String hostOf(SocketAddress address) {
        InetAddress ip = ip(address);
        return ip == null ? String.valueOf(address) : io.netty.util.NetUtil.toAddressString(ip);
    }

    private static InetAddress ip(SocketAddress address) {
        return address instanceof InetSocketAddress a ? a.getAddress() : null;
    }
}
