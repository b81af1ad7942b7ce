package dev.biternet.server.security;

/**
 * What one client address may hold, and how long a connection may sit without doing its part.
 *
 * @param sessionsPerAddress open sessions one client address may hold at once
 * @param channelsPerAddress open connections one client address may hold at once
 * @param helloSeconds a connection must send its Hello within this time (slowloris)
 * @param idleSeconds a connection on which nothing is read or written for this long is closed
 *                    (an attached link that grants no credit and acks nothing); 0 = never
 */
public record Limits(int sessionsPerAddress, int channelsPerAddress, int helloSeconds, int idleSeconds) {
    public static final Limits DEFAULT = new Limits(64, 256, 5, 120);

    public Limits {
        if (sessionsPerAddress < 1 || channelsPerAddress < 1 || helloSeconds < 1 || idleSeconds < 0) {
            throw new IllegalArgumentException("limits must be positive: " + this);
        }
    }
}
