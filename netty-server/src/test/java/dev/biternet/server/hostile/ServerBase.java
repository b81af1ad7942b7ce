package dev.biternet.server.hostile;

import dev.biternet.server.BiternetServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;

/** A real server on loopback for the hostile tests, closed after each test. */
abstract class ServerBase {
    BiternetServer server;

    /** Starts a server on {@code root} with one event loop and {@code hashThreads} hashing threads. */
    void start(Path root, int pieceSize, int hashThreads) throws Exception {
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, pieceSize, 1, hashThreads, 60));
    }

    @AfterEach
    void stopServer() {
        if (server != null) {
            server.close();
        }
    }
}
