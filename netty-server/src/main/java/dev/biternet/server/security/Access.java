package dev.biternet.server.security;

/**
 * Who may use the server and how much: the access token and the per-address limits.
 *
 * @param token the access token every Hello must carry, or {@link AccessToken#NONE}
 * @param limits what one client address may hold and the connection timeouts
 */
public record Access(AccessToken token, Limits limits) {
    /** No token, default limits. */
    public static final Access DEFAULT = new Access(AccessToken.NONE, Limits.DEFAULT);

    public Access withToken(AccessToken t) {
        return new Access(t, limits);
    }

    public Access withLimits(Limits l) {
        return new Access(token, l);
    }
}
