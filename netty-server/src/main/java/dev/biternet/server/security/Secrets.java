package dev.biternet.server.security;

import com.google.protobuf.ByteString;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * Random secrets and their comparison. Comparisons take time independent of where the first
 * differing byte is ({@link MessageDigest#isEqual}), so a client cannot find a secret byte by
 * byte by timing its refusals.
 */
public final class Secrets {
    /** 128 bits: unguessable. */
    public static final int BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Secrets() {}

    public static ByteString random() {
        byte[] b = new byte[BYTES];
        RANDOM.nextBytes(b);
        return ByteString.copyFrom(b);
    }

    /** True if {@code given} equals {@code expected}, in time that does not depend on the content. */
    public static boolean matches(ByteString expected, ByteString given) {
        return MessageDigest.isEqual(expected.toByteArray(), given.toByteArray());
    }
}
