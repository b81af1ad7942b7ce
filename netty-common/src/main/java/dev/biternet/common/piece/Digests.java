package dev.biternet.common.piece;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 helpers: piece digests are 32 bytes; the root hash is SHA-256 over all of them in order. */
public final class Digests {
    public static final int SHA256_BYTES = 32;
    private static final HexFormat HEX = HexFormat.of();

    private Digests() {}

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** Root hash over concatenated piece digests ({@code count * 32} bytes). */
    public static byte[] root(byte[] concatenatedDigests) {
        return sha256().digest(concatenatedDigests);
    }

    public static String hex(byte[] bytes) {
        return HEX.formatHex(bytes);
    }
}
