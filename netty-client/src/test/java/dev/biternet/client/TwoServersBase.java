package dev.biternet.client;

import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real biternet servers in this JVM for the tests of one download from several servers:
 * A serves {@link #rootA}, B serves {@link #rootB}, each on loopback at a port of its own, and
 * whichever is still running is closed after each test. A test that kills one sets it to null.
 */
abstract class TwoServersBase {
    @TempDir
    Path rootA;
    @TempDir
    Path rootB;
    @TempDir
    Path downloads;
    BiternetServer a;
    BiternetServer b;

    @AfterEach
    void stopServers() {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
    }

    /** Starts A and B with the servers' default piece size. */
    void startBoth() throws Exception {
        startBoth(0);
    }

    /** Starts A and B, as {@link #serve} does. */
    void startBoth(int pieceSize) throws Exception {
        a = serve(rootA, pieceSize);
        b = serve(rootB, pieceSize);
    }

    /**
     * Random bytes ({@code seed}) as f.bin on both roots, each its own copy (another inode and
     * mtime: another file version of the same bytes), and both servers started, as {@link #serve}
     * does. Returns A's copy.
     */
    Path sameFileOnBoth(long size, long seed, int pieceSize) throws Exception {
        Path source = Fixtures.randomFile(rootA, "f.bin", size, seed);
        Files.copy(source, rootB.resolve("f.bin"));
        startBoth(pieceSize);
        return source;
    }

    /** Closes A mid-test, as if killed: the test goes on without it. */
    void killA() {
        a.close();
        a = null;
    }

    /** Closes B mid-test, as if killed: the test goes on without it. */
    void killB() {
        b.close();
        b = null;
    }

    /** A server of {@code root} on loopback at any port, with pieces of {@code pieceSize} bytes (0: the server's default). */
    static BiternetServer serve(Path root, int pieceSize) throws Exception {
        return BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0).withPieceSize(pieceSize));
    }
}
