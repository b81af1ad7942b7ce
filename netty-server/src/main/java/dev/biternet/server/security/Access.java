package dev.biternet.server.security;

import io.netty.handler.ssl.SslContext;

/**
 * Who may use the server and how much: the access token, the per-address limits and TLS.
 *
 * @param token the access token every Hello must carry, or {@link AccessToken#NONE}
 * @param limits what one client address may hold and the connection timeouts
 * @param tls the server's TLS context, or null for plain TCP
 */
public record Access(AccessToken token, Limits limits, SslContext tls) {
    /** No token, default limits, no TLS. */
    public static final Access DEFAULT = new Access(AccessToken.NONE, Limits.DEFAULT, null);

    public Access withToken(AccessToken t) {
        return new Access(t, limits, tls);
    }

    public Access withLimits(Limits l) {
        return new Access(token, l, tls);
    }

    public Access withTls(SslContext context) {
        return new Access(token, limits, context);
    }
}
