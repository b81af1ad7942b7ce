package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FIFO where a served file should be: opening one for reading waits for a writer, so the
 * server must refuse it without waiting, on a single event loop and a single hashing thread, and
 * go on serving everyone else.
 */
@Timeout(30)
class FilesFifoTest extends FilesServerBase {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;
    private void start() throws Exception {
        start(root, PIECE, 1);
    }

    @Test
    void aFifoIsRefusedAtOnceAndTheServerKeepsServing() throws Exception {
        mkfifo(root.resolve("pipe"));
        byte[] data = TestFiles.write(root.resolve("file.bin"), 3, 5 * PIECE + 1);
        start();
        try (WireClient c = new WireClient(server.address()); WireClient link = new WireClient(server.address())) {
            c.hello();
            for (int i = 0; i < 3; i++) {
                c.open("pipe");
                assertRefusedAsNotRegular(c, "pipe");
            }
            c.open("file.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            link.hello();
            assertThat(link.fetchAll(opened, 4)).as("a normal file after the FIFO").isEqualTo(data);
        }
    }

    @Test
    void aFifoRenamedOverAFileWaitingToBeHashedHangsNothing() throws Exception {
        sparse(root.resolve("big.bin"), 2L << 30); // keeps the only hashing thread busy
        byte[] small = TestFiles.write(root.resolve("small.bin"), 5, 3 * PIECE);
        byte[] other = TestFiles.write(root.resolve("other.bin"), 6, 2 * PIECE + 5);
        start();
        try (WireClient c = new WireClient(server.address()); WireClient link = new WireClient(server.address())) {
            c.hello();
            link.hello();
            c.open("big.bin");
            c.expect(Envelope.BodyCase.SESSION_OPENED);
            c.open("small.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            Files.move(mkfifo(root.resolve("fifo.tmp")), root.resolve("small.bin"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);

            assertThat(link.fetchAll(opened, 4)).as("the session serves the file it opened").isEqualTo(small);
            c.open("small.bin");
            assertRefusedAsNotRegular(c, "small.bin");
            c.open("other.bin");
            SessionOpened next = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            try (WireClient link2 = new WireClient(server.address())) {
                link2.hello();
                assertThat(link2.fetchAll(next, 4)).as("another file after the FIFO").isEqualTo(other);
            }
        }
    }

    private void assertRefusedAsNotRegular(WireClient c, String path) throws IOException {
        Error e = c.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(e.getCode()).isEqualTo(Error.Code.FORBIDDEN_PATH);
        assertThat(e.getMessage()).contains("'" + path + "'", "not a regular file")
                .doesNotContain("\n", root.toString());
    }
}
