package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Who may attach and connect, over real loopback sockets with a hand-written client. */
@Timeout(60)
class ServerSecurityTest {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;
    private BiternetServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private SessionOpened open(WireClient opener, String path) throws Exception {
        opener.hello();
        opener.open(path);
        return opener.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
    }

    private static Envelope attach(ByteString id, ByteString secret) {
        return Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(id).setSecret(secret)
                .setWindow(2).setLinkName("test")).build();
    }

    @Test
    void attachingNeedsTheSessionsSecretNotJustItsId() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 1, 3 * PIECE);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60));
        try (WireClient opener = new WireClient(server.address())) {
            SessionOpened opened = open(opener, "f.bin");
            ByteString secret = opened.getAttachSecret();
            assertThat(secret.size()).as("attach secret bytes").isGreaterThanOrEqualTo(16);
            assertThat(secret).as("the secret is not the (logged) session id").isNotEqualTo(opened.getSessionId());

            byte[] flipped = secret.toByteArray();
            flipped[flipped.length - 1] ^= 1;
            for (ByteString wrong : new ByteString[] {ByteString.copyFrom(flipped), ByteString.EMPTY, opened.getSessionId()}) {
                try (WireClient thief = new WireClient(server.address())) {
                    thief.hello();
                    thief.send(attach(opened.getSessionId(), wrong));
                    Error error = thief.expect(Envelope.BodyCase.ERROR).getError();
                    assertThat(error.getCode()).isEqualTo(Error.Code.UNAUTHORIZED);
                    assertThat(error.getMessage()).contains("secret").doesNotContain("\n");
                    assertThat(thief.closedByServer()).as("a wrong secret closes the connection").isTrue();
                }
            }
            try (WireClient link = new WireClient(server.address())) {
                link.hello();
                link.send(attach(opened.getSessionId(), secret));
                assertThat(link.expect(Envelope.BodyCase.ATTACHED).getAttached().getLinkId()).isPositive();
            }
        }
    }
}
