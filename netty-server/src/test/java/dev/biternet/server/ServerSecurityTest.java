package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.AccessToken;
import dev.biternet.server.security.Limits;
import java.net.InetAddress;
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

    private static Envelope hello(ByteString token) {
        return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION)
                .setAgent("test").setToken(token)).build();
    }

    private static void assertRefused(WireClient c, Error.Code code, String message) throws Exception {
        Error error = c.expect(Envelope.BodyCase.ERROR).getError();
        assertThat(error.getCode()).isEqualTo(code);
        assertThat(error.getMessage()).isEqualTo(message);
        assertThat(c.closedByServer()).as("refused connection is closed").isTrue();
    }

    @Test
    void withATokenOnlyAHelloCarryingItIsWelcome() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 2, PIECE);
        ByteString token = ByteString.copyFromUtf8("correct horse battery staple");
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withToken(AccessToken.of(token))));
        try (WireClient none = new WireClient(server.address())) {
            none.send(hello(ByteString.EMPTY));
            none.open("f.bin"); // pipelined, as biternet-get does: must get no second answer
            assertRefused(none, Error.Code.UNAUTHORIZED, "this server requires an access token (biternet-get --token-file FILE)");
        }
        try (WireClient wrong = new WireClient(server.address())) {
            wrong.send(hello(ByteString.copyFromUtf8("correct horse battery stapler")));
            assertRefused(wrong, Error.Code.UNAUTHORIZED, "wrong access token");
        }
        try (WireClient right = new WireClient(server.address())) {
            right.send(hello(token));
            right.expect(Envelope.BodyCase.WELCOME);
            right.open("f.bin");
            assertThat(right.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getFileSize()).isEqualTo(PIECE);
        }
    }

    @Test
    void anAddressBeyondItsConnectionLimitIsRefusedOthersAreNot() throws Exception {
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(8, 2, 5, 120))));
        InetAddress other = InetAddress.getByName("127.0.0.2");
        try (WireClient a = new WireClient(server.address()); WireClient b = new WireClient(server.address())) {
            a.hello();
            b.hello();
            try (WireClient c = new WireClient(server.address())) {
                assertRefused(c, Error.Code.LIMIT_EXCEEDED, "too many connections from 127.0.0.1 (limit 2)");
            }
            try (WireClient elsewhere = new WireClient(server.address(), other)) {
                elsewhere.hello();
            }
        }
        // Closed connections give their places back.
        TestFiles.await("connections released", 10_000, () -> {
            try (WireClient again = new WireClient(server.address()); WireClient again2 = new WireClient(server.address())) {
                again.hello();
                again2.hello();
                return true;
            } catch (AssertionError | java.io.IOException refused) {
                return false;
            }
        });
    }

    @Test
    void finishedDownloadsDoNotHoldTheirAddressesSessionSlots() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 4, PIECE);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(2, 256, 5, 120))));
        // Five downloads in a row from one address with a limit of two open sessions: each one
        // is over (every piece acknowledged, its connection closed) before the next opens.
        for (int i = 0; i < 5; i++) {
            long deadline = System.nanoTime() + 1_000_000_000L; // the server notices a close asynchronously
            boolean done = false;
            while (!done) {
                try (WireClient c = new WireClient(server.address())) {
                    c.hello();
                    c.open("f.bin");
                    Envelope answer = (Envelope) c.read();
                    if (!answer.hasSessionOpened()) {
                        assertThat(answer.getError().getCode()).as("download %d", i).isEqualTo(Error.Code.LIMIT_EXCEEDED);
                        assertThat(System.nanoTime()).as("download %d: finished sessions still hold the slots", i)
                                .isLessThan(deadline);
                        Thread.sleep(20);
                        continue;
                    }
                    SessionOpened opened = answer.getSessionOpened();
                    c.send(attach(opened.getSessionId(), opened.getAttachSecret()));
                    c.expect(Envelope.BodyCase.ATTACHED);
                    Object piece;
                    do {
                        piece = c.read();
                    } while (!(piece instanceof BiternetServerTest.Piece));
                    c.send(Envelope.newBuilder().setAck(dev.biternet.proto.Ack.newBuilder()
                            .setIndex(((BiternetServerTest.Piece) piece).header().getIndex()).setOk(true)).build());
                    done = true;
                }
            }
        }
    }

    @Test
    void anAddressBeyondItsSessionLimitIsRefusedWithTheReason() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 3, PIECE);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(2, 256, 5, 120))));
        try (WireClient c = new WireClient(server.address())) {
            c.hello();
            for (int i = 0; i < 2; i++) {
                c.open("f.bin");
                c.expect(Envelope.BodyCase.SESSION_OPENED);
            }
            c.open("f.bin");
            Error error = c.expect(Envelope.BodyCase.ERROR).getError();
            assertThat(error.getCode()).isEqualTo(Error.Code.LIMIT_EXCEEDED);
            assertThat(error.getMessage()).isEqualTo("too many open sessions from 127.0.0.1 (limit 2)");
        }
        try (WireClient elsewhere = new WireClient(server.address(), InetAddress.getByName("127.0.0.2"))) {
            elsewhere.hello();
            elsewhere.open("f.bin");
            elsewhere.expect(Envelope.BodyCase.SESSION_OPENED);
        }
    }

    @Test
    void aConnectionThatNeverSaysHelloIsClosed() throws Exception {
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(8, 8, 1, 120))));
        try (WireClient silent = new WireClient(server.address())) {
            assertRefused(silent, Error.Code.LIMIT_EXCEEDED, "no Hello within 1 s");
        }
    }

    @Test
    void anAttachedLinkThatStopsAckingIsClosedAsIdle() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 4, 4 * PIECE);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(8, 8, 5, 1))));
        try (WireClient c = new WireClient(server.address())) {
            SessionOpened opened = open(c, "f.bin");
            c.send(attach(opened.getSessionId(), opened.getAttachSecret()));
            c.expect(Envelope.BodyCase.ATTACHED);
            int pieces = 0;
            Object frame;
            // Window 2, never acked: two pieces, then silence both ways until the server gives up.
            while (!((frame = c.read()) instanceof Envelope e && e.hasError())) {
                if (frame instanceof BiternetServerTest.Piece) {
                    pieces++;
                }
            }
            Error error = ((Envelope) frame).getError();
            assertThat(pieces).as("pieces sent before the window filled").isEqualTo(2);
            assertThat(error.getCode()).isEqualTo(Error.Code.LIMIT_EXCEEDED);
            assertThat(error.getMessage()).isEqualTo("idle for 1 s (nothing read or written)");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aLinkPacedByItsRateLimitIsNotIdle() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 5, 4 * PIECE);
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(8, 8, 5, 1))));
        try (WireClient c = new WireClient(server.address())) {
            SessionOpened opened = open(c, "f.bin");
            // 8 KiB/s: a 16 KiB piece every 2 s, with nothing read or written in between.
            c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(opened.getSessionId())
                    .setSecret(opened.getAttachSecret()).setWindow(8).setRateLimit(8 << 10)).build());
            c.expect(Envelope.BodyCase.ATTACHED);
            int pieces = 0;
            while (pieces < 3) {
                Object frame = c.read();
                if (frame instanceof Envelope e) {
                    assertThat(e.hasError()).as("error %s", e).isFalse();
                } else {
                    pieces++;
                }
            }
        }
    }
}
