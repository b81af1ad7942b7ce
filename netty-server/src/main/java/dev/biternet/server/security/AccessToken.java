package dev.biternet.server.security;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Error;
import java.security.MessageDigest;

/**
 * The optional shared access token every {@code Hello} must carry ({@code --token-file}). Only
 * its SHA-256 is kept; a presented token is hashed and the digests compared with
 * {@link MessageDigest#isEqual}, so neither the content nor the length of the token shows in
 * how long a refusal takes.
 */
public final class AccessToken {
    /** No token required. */
    public static final AccessToken NONE = new AccessToken(null);

    private final byte[] digest;

    private AccessToken(byte[] digest) {
        this.digest = digest;
    }

    public static AccessToken of(ByteString token) {
        if (token.isEmpty()) {
            throw new IllegalArgumentException("empty access token");
        }
        return new AccessToken(Digests.sha256().digest(token.toByteArray()));
    }

    public boolean required() {
        return digest != null;
    }

    /** Throws {@code UNAUTHORIZED} unless {@code presented} is the token (or none is required). */
    public void check(ByteString presented) {
        if (digest == null) {
            return;
        }
        if (presented.isEmpty()) {
            throw new ProtocolException(Error.Code.UNAUTHORIZED,
                    "this server requires an access token (biternet-get --token-file FILE)");
        }
        byte[] given = Digests.sha256().digest(presented.toByteArray());
        if (!MessageDigest.isEqual(digest, given)) {
            throw new ProtocolException(Error.Code.UNAUTHORIZED, "wrong access token");
        }
    }
}
