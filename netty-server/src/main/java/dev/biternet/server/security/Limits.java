package dev.biternet.server.security;

/**
 * What one client address and the whole server may hold, and how long a connection may sit
 * without doing its part. The server-wide defaults come from the machine (descriptor limit, maximum heap):
 * a server that runs out of descriptors or heap fails everyone, so it refuses the one request
 * too many instead.
 *
 * @param sessionsPerAddress open sessions one client address may hold at once
 * @param channelsPerAddress open connections one client address may hold at once
 * @param helloSeconds a connection must send its Hello within this time (slowloris)
 * @param idleSeconds a connection on which nothing is read or written for this long is closed
 *                    (an attached link that grants no credit and acks nothing); 0 = never
 * @param maxSessions open sessions over all clients (each holds a file descriptor)
 * @param sessionMemory bytes of piece state all open sessions may hold together (see
 *                      {@code SessionRegistry#stateBytes})
 * @param maxConnections open connections over all clients
 */
public record Limits(int sessionsPerAddress, int channelsPerAddress, int helloSeconds, int idleSeconds,
                     int maxSessions, long sessionMemory, int maxConnections) {
    public static final Limits DEFAULT = new Limits(64, 256, 5, 120);

    public Limits {
        if (sessionsPerAddress < 1 || channelsPerAddress < 1 || helloSeconds < 1 || idleSeconds < 0
                || maxSessions < 1 || sessionMemory < 1 || maxConnections < 1) {
            throw new IllegalArgumentException("limits must be positive: " + this);
        }
    }

    /** The per-address limits and timeouts given, with the server-wide ones for this machine. */
    public Limits(int sessionsPerAddress, int channelsPerAddress, int helloSeconds, int idleSeconds) {
        this(sessionsPerAddress, channelsPerAddress, helloSeconds, idleSeconds, defaultMaxSessions(),
                defaultSessionMemory(), defaultMaxConnections());
    }

    public Limits withServerWide(int sessions, long memory, int connections) {
        return new Limits(sessionsPerAddress, channelsPerAddress, helloSeconds, idleSeconds, sessions, memory, connections);
    }

    /**
     * The process's descriptor limit. Half of it for connections, a quarter for sessions (one
     * open file each) leaves a quarter for files being hashed, the JVM's own files and epoll.
     */
    public static long descriptorLimit() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
            return unix.getMaxFileDescriptorCount();
        }
        return 4096;
    }

    public static int defaultMaxConnections() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(16, descriptorLimit() / 2));
    }

    public static int defaultMaxSessions() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(8, descriptorLimit() / 4));
    }

    /** A quarter of the maximum heap. */
    public static long defaultSessionMemory() {
        return Math.max(1 << 20, Runtime.getRuntime().maxMemory() / 4);
    }
}
