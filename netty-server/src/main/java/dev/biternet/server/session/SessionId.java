package dev.biternet.server.session;

import com.google.protobuf.ByteString;
import java.security.SecureRandom;
import java.util.HexFormat;

/** 128 random bits from a {@link SecureRandom}: unguessable, so knowing one is the right to attach. */
public record SessionId(ByteString bytes) {
    public static final int BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    public static SessionId random() {
        byte[] b = new byte[BYTES];
        RANDOM.nextBytes(b);
        return new SessionId(ByteString.copyFrom(b));
    }

    /** Short form for logs: the first 4 bytes in hex. */
    @Override
    public String toString() {
        return HexFormat.of().formatHex(bytes.substring(0, 4).toByteArray());
    }
}
