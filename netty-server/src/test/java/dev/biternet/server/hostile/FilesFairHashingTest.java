package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Someone opens a huge file and leaves; the next client wants a small one. With one hashing
 * thread, the small file must not wait for the huge one to be hashed through.
 */
@Timeout(30)
class FilesFairHashingTest extends FilesServerBase {
    @TempDir
    Path root;
    @Test
    void aSmallFileIsServedWhileAHugeOneOpenedFirstIsStillBeingHashed() throws Exception {
        sparse(root.resolve("huge.bin"), 8L << 30);
        byte[] small = TestFiles.write(root.resolve("small.bin"), 9, 2 << 20);
        start(root, 0, 1);
        try (WireClient first = new WireClient(server.address())) {
            first.hello();
            first.open("huge.bin");
            first.expect(Envelope.BodyCase.SESSION_OPENED);
        }
        try (WireClient c = new WireClient(server.address()); WireClient link = new WireClient(server.address())) {
            c.hello();
            link.hello();
            c.open("small.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            assertThat(link.fetchAll(opened, 8)).as("the small file's bytes").isEqualTo(small);

            c.open("huge.bin");
            SessionOpened huge = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            assertThat(huge.getHashes().getRootHash().isEmpty())
                    .as("the huge file, opened first, is still being hashed when the small one is downloaded").isTrue();
        }
    }
}
