package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import io.netty.handler.ssl.SslContext;

/**
 * What every link of a download presents to the server: the access token sent in {@code Hello}
 * (empty: none) and, with TLS, the client's {@link SslContext} (null: plain TCP).
 */
public record LinkSecurity(ByteString token, SslContext tls) {
    public static final LinkSecurity NONE = new LinkSecurity(ByteString.EMPTY, null);

    public LinkSecurity withToken(ByteString t) {
        return new LinkSecurity(t, tls);
    }

    public LinkSecurity withTls(SslContext context) {
        return new LinkSecurity(token, context);
    }
}
