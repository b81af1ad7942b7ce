package dev.biternet.server.session;

import com.google.protobuf.ByteString;
import java.util.HexFormat;

/**
 * 128 random bits naming a session. Ids appear in logs; attaching also needs the session's
 * separate attach secret, which never does.
 */
public record SessionId(ByteString bytes) {
    public static final int BYTES = 16;

    public static SessionId random() {
        return new SessionId(dev.biternet.server.security.Secrets.random());
    }

    /** Short form for logs: the first 4 bytes in hex. */
    @Override
    public String toString() {
        return HexFormat.of().formatHex(bytes.substring(0, 4).toByteArray());
    }
}
