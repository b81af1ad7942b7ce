package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.AccessToken;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The access token (and TLS) end to end: biternet-get against a real server on loopback. */
class SecureDownloadTest {
    @TempDir
    Path root;
    @TempDir
    Path work;
    private BiternetServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private String url(String path) {
        return "biternet://127.0.0.1:" + server.port() + "/" + path;
    }

    @Test
    void theTokenFromTheSameFileLetsTheDownloadThroughAndNoTokenOrAWrongOneDoesNot() throws Exception {
        Path source = randomFile(root, "f.bin", 3_000_000, 7);
        Path token = Files.writeString(work.resolve("token"), "s3cret-token-4711\n");
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0)
                .withAccess(Access.DEFAULT.withToken(AccessToken.of(ByteString.copyFromUtf8("s3cret-token-4711")))));

        Path out = work.resolve("f.bin");
        Fixtures.Run ok = get("--iface", "127.0.0.1", "--iface", "127.0.0.2", "--token-file", token.toString(),
                "-o", out.toString(), url("f.bin"));
        assertThat(ok.exitCode()).as(ok.err()).isZero();
        assertSameBytes(source, out);

        Fixtures.Run none = get("-o", work.resolve("none.bin").toString(), url("f.bin"));
        assertThat(none.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(none.err()).isEqualTo("biternet-get: server refused f.bin: this server requires an access token"
                + " (biternet-get --token-file FILE)" + System.lineSeparator());

        Path wrongToken = Files.writeString(work.resolve("wrong"), "s3cret-token-4712");
        Fixtures.Run wrong = get("--token-file", wrongToken.toString(), "-o", work.resolve("wrong.bin").toString(), url("f.bin"));
        assertThat(wrong.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(wrong.err()).contains("wrong access token");
        assertThat(work.resolve("wrong.bin")).doesNotExist();

        Fixtures.Run missing = get("--token-file", work.resolve("nope").toString(), url("f.bin"));
        assertThat(missing.exitCode()).isEqualTo(2);
        assertThat(missing.err()).contains("token file " + work.resolve("nope") + " does not exist");
    }
}
