package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.AccessToken;
import dev.biternet.server.security.Tls;
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

    @Test
    void overTlsTheFileArrivesByteIdenticalAndAnUntrustedServerIsRefused() throws Exception {
        Path source = randomFile(root, "t.bin", 5_000_000, 8);
        TestCerts server1 = TestCerts.create(work, "biternet-test");
        TestCerts stranger = TestCerts.create(work, "stranger");
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0)
                .withAccess(Access.DEFAULT.withTls(Tls.server(server1.cert(), server1.key()))));

        Path out = work.resolve("t.bin");
        Fixtures.Run ok = get("--tls", "--tls-trust", server1.cert().toString(), "--iface", "127.0.0.1", "--iface", "127.0.0.2",
                "--iface", "127.0.0.3", "-o", out.toString(), url("t.bin"));
        assertThat(ok.exitCode()).as(ok.err()).isZero();
        assertSameBytes(source, out);

        Fixtures.Run untrusted = get("--tls", "--tls-trust", stranger.cert().toString(), "-o", work.resolve("u.bin").toString(),
                url("t.bin"));
        assertThat(untrusted.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(untrusted.err()).startsWith("biternet-get: ").contains("TLS: the server's certificate is not trusted")
                .contains("--tls-trust FILE").hasLineCount(1);
        assertThat(work.resolve("u.bin")).doesNotExist();

        Fixtures.Run defaultCas = get("--tls", "-o", work.resolve("d.bin").toString(), url("t.bin"));
        assertThat(defaultCas.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(defaultCas.err()).contains("TLS: the server's certificate is not trusted");

        Fixtures.Run plain = get("-o", work.resolve("p.bin").toString(), url("t.bin"));
        assertThat(plain.exitCode()).as("a plain client gets nothing from a TLS server").isNotZero();
        assertThat(work.resolve("p.bin")).doesNotExist();

        Path insecureOut = work.resolve("i.bin");
        Fixtures.Run insecure = get("--tls", "--tls-insecure", "-o", insecureOut.toString(), url("t.bin"));
        assertThat(insecure.exitCode()).as("the server kept serving; " + insecure.err()).isZero();
        assertSameBytes(source, insecureOut);
    }

    @Test
    void aTlsClientAgainstAPlainServerSaysSo() throws Exception {
        randomFile(root, "f.bin", 1000, 9);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Fixtures.Run run = get("--tls", "--tls-insecure", "-o", work.resolve("f.bin").toString(), url("f.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(run.err()).contains("TLS").hasLineCount(1);
    }
}
