package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** biternet-serve --config: a properties file gives the defaults, options on the command line win. */
@Timeout(60)
class ConfigFileTest {
    @TempDir
    Path dir;
    private ServeProcess serve;

    @AfterEach
    void kill() {
        if (serve != null) {
            serve.close();
        }
    }

    private static Envelope hello(String token) {
        return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION)
                .setToken(ByteString.copyFromUtf8(token))).build();
    }

    @Test
    void theFileSetsOptionsAndTheCommandLineOverridesThem() throws Exception {
        Path root = Files.createDirectory(dir.resolve("served"));
        Path token = Files.writeString(dir.resolve("token"), "from-the-config\n");
        Path config = Files.writeString(dir.resolve("serve.properties"), String.join("\n",
                "# biternet-serve defaults",
                "root=" + root,
                "host=127.0.0.1",
                "port=1",
                "token-file=" + token,
                "max-channels-per-address=2",
                ""));
        // port=1 cannot be bound unprivileged; --port 0 on the command line must win.
        serve = ServeProcess.start(dir.resolve("serve.err"), "--config", config.toString(), "--port", "0");
        InetSocketAddress address = serve.address();
        assertThat(serve.firstLine).contains("serving " + root.toRealPath() + " on 127.0.0.1 port ");
        assertThat(address.getPort()).isNotEqualTo(1);

        // From another loopback address, so that this connection does not count against 127.0.0.1's limit.
        try (WireClient wrong = new WireClient(address, java.net.InetAddress.getByName("127.0.0.2"))) {
            wrong.send(hello("something-else"));
            assertThat(wrong.expect(Envelope.BodyCase.ERROR).getError().getCode()).as("token-file from the config")
                    .isEqualTo(Error.Code.UNAUTHORIZED);
        }
        try (WireClient a = new WireClient(address)) {
            a.send(hello("from-the-config"));
            a.expect(Envelope.BodyCase.WELCOME);
            try (WireClient b = new WireClient(address)) {
                b.send(hello("from-the-config"));
                b.expect(Envelope.BodyCase.WELCOME);
                try (WireClient c = new WireClient(address)) {
                    assertThat(c.expect(Envelope.BodyCase.ERROR).getError().getMessage()).as("max-channels-per-address from the config")
                            .isEqualTo("too many connections from 127.0.0.1 (limit 2)");
                }
            }
        }
    }

    @Test
    void aMissingFileOrAnUnknownKeyIsAUsageError() throws Exception {
        serve = ServeProcess.start(dir.resolve("missing.err"), "--config", dir.resolve("nope.properties").toString());
        assertThat(serve.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(serve.process.exitValue()).isEqualTo(2);
        assertThat(serve.stderr()).startsWith("--config: " + dir.resolve("nope.properties") + " does not exist or is not readable");

        Path typo = Files.writeString(dir.resolve("typo.properties"), "root=" + dir + "\nprot=7420\n");
        serve = ServeProcess.start(dir.resolve("typo.err"), "--config", typo.toString());
        assertThat(serve.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(serve.process.exitValue()).isEqualTo(2);
        assertThat(serve.stderr()).startsWith("--config: " + typo + " sets 'prot', which is not an option of biternet-serve");
    }
}
