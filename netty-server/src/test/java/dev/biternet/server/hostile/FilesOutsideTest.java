package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a client can learn about files outside the root (nothing: a link leading out gets one
 * answer whether or not its target exists), and files that are not what their size says (proc).
 */
@Timeout(20)
class FilesOutsideTest extends FilesServerBase {
    @TempDir
    Path tmp;
    @Test
    void aLinkLeadingOutGetsOneAnswerWhetherTheOutsideFileExistsOrNot() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("root"));
        Files.writeString(tmp.resolve("secret.txt"), "outside");
        Files.createSymbolicLink(root.resolve("out-dir"), tmp);
        Files.createSymbolicLink(root.resolve("out-file"), tmp.resolve("secret.txt"));
        Files.createSymbolicLink(root.resolve("out-missing"), tmp.resolve("missing.txt"));
        Files.createSymbolicLink(root.resolve("out-relative"), Path.of("../secret.txt"));
        Files.createSymbolicLink(root.resolve("out-relative-missing"), Path.of("../missing.txt"));
        start(root, 16 << 10, 1);
        Map<String, String> answers = new LinkedHashMap<>();
        try (WireClient c = new WireClient(server.address())) {
            c.hello();
            for (String path : List.of("out-dir/secret.txt", "out-dir/missing.txt", "out-dir/no/such/dir.txt",
                    "out-dir/secret.txt/x", "out-file", "out-missing", "out-relative", "out-relative-missing")) {
                c.open(path);
                Error e = c.expect(Envelope.BodyCase.ERROR).getError();
                answers.put(path, e.getCode() + " " + e.getMessage().replace("'" + path + "'", "'PATH'"));
                assertThat(e.getMessage()).doesNotContain(tmp.toString(), "\n");
            }
        }
        assertThat(answers.values()).as("answers: %s", answers).containsOnly(
                "FORBIDDEN_PATH refused path 'PATH': a link leads outside the served root");
    }

    @Test
    void aProcFileIsRefusedNotServedAsAnEmptyVerifiedFile() throws Exception {
        // /proc/self/status: 0 bytes by stat, a page of text when read.
        start(Path.of("/proc/self"), 16 << 10, 1);
        try (WireClient c = new WireClient(server.address())) {
            c.hello();
            c.open("status");
            Error e = c.expect(Envelope.BodyCase.ERROR).getError();
            assertThat(e.getCode()).isEqualTo(Error.Code.FORBIDDEN_PATH);
            assertThat(e.getMessage()).isEqualTo(
                    "refused path 'status': is on proc, a pseudo file system (its sizes are not its contents)");
        }
    }
}
