package dev.biternet.server;

import dev.biternet.common.piece.Digests;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;

/** Random test files and the digests a client would compute over them, independent of the server's code. */
public final class TestFiles {
    private TestFiles() {}

    public static byte[] randomBytes(long seed, int size) {
        byte[] data = new byte[size];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < size; i++) {
            data[i] = (byte) r.nextInt(256);
        }
        return data;
    }

    public static byte[] write(Path file, long seed, int size) throws IOException {
        byte[] data = randomBytes(seed, size);
        Files.write(file, data);
        return data;
    }

    public static byte[] sha256(byte[] data, int from, int to) {
        var md = Digests.sha256();
        md.update(data, from, to - from);
        return md.digest();
    }

    public static byte[] sha256(byte[] data) {
        return sha256(data, 0, data.length);
    }

    /** Digest of piece {@code index} of {@code data} cut into {@code pieceSize} pieces. */
    public static byte[] pieceDigest(byte[] data, int pieceSize, int index) {
        int from = index * pieceSize;
        return sha256(data, from, Math.min(data.length, from + pieceSize));
    }

    /** All piece digests concatenated, as the protocol lays them out. */
    public static byte[] allPieceDigests(byte[] data, int pieceSize) {
        int count = (data.length + pieceSize - 1) / pieceSize;
        byte[] all = new byte[count * Digests.SHA256_BYTES];
        for (int i = 0; i < count; i++) {
            System.arraycopy(pieceDigest(data, pieceSize, i), 0, all, i * Digests.SHA256_BYTES, Digests.SHA256_BYTES);
        }
        return all;
    }

    public static byte[] slice(byte[] data, long offset, int length) {
        return Arrays.copyOfRange(data, (int) offset, (int) offset + length);
    }

    /** Polls until the condition holds; fails the test after {@code millis}. */
    public static void await(String what, long millis, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + millis + " ms waiting for " + what);
            }
            Thread.sleep(2);
        }
    }
}
