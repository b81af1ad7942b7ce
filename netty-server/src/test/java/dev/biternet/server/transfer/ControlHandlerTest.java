package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.ServerInitializer;
import dev.biternet.server.TestFiles;
import dev.biternet.server.session.SessionId;
import dev.biternet.server.transfer.ServerHarness.Conn;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dispatcher on the real server pipeline: the handshake, opening sessions, attaching, and
 * what a refused request or a broken protocol does to the channel.
 */
class ControlHandlerTest {
    private static final int SIZE = 5 * ServerHarness.PIECE + 100;

    @TempDir
    Path dir;
    private ServerHarness server;
    private byte[] data;

    @BeforeEach
    void setUp() throws Exception {
        server = new ServerHarness(dir);
        data = server.file("data.bin", SIZE);
    }

    @AfterEach
    void tearDown() {
        server.close();
    }

    @Test
    void thePipelineHasItsStagesInOrder() {
        Conn c = server.connect();
        assertThat(c.ch.pipeline().names()).containsSubsequence(
                ServerInitializer.FRAME_DECODER, ServerInitializer.ENVELOPE_ENCODER,
                ServerInitializer.PIECE_PUSHER, ServerInitializer.DISPATCHER);
        assertThat(c.ch.pipeline().names()).doesNotContain(ServerInitializer.READ_TIMEOUT);
    }

    @Test
    void aConnectionThatNeverAttachesIsClosedAfterTheDeadline() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.ch.advanceTimeBy(ControlHandler.ATTACH_DEADLINE_SECONDS - 1, java.util.concurrent.TimeUnit.SECONDS);
        c.ch.runScheduledPendingTasks();
        assertThat(c.ch.isOpen()).as("open before the deadline").isTrue();

        c.ch.advanceTimeBy(2, java.util.concurrent.TimeUnit.SECONDS);
        c.ch.runScheduledPendingTasks();
        assertThat(c.drain()).singleElement().satisfies(e -> {
            assertThat(e.getError().getCode()).isEqualTo(dev.biternet.proto.Error.Code.LIMIT_EXCEEDED);
            assertThat(e.getError().getMessage()).isEqualTo("not attached to a session within 30 s");
        });
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void anAttachedConnectionOutlivesTheDeadline() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("data.bin");
        c.attach(c.next().getSessionOpened().getSessionId(), 1);
        c.drain();
        c.ch.advanceTimeBy(ControlHandler.ATTACH_DEADLINE_SECONDS + 5, java.util.concurrent.TimeUnit.SECONDS);
        c.ch.runScheduledPendingTasks();
        assertThat(c.ch.isOpen()).isTrue();
        assertThat(c.drain()).noneMatch(e -> e.hasError());
    }

    @Test
    void helloIsAnsweredWithWelcome() throws Exception {
        Conn c = server.connect();
        c.hello();
        Envelope answer = c.next();
        assertThat(answer.getBodyCase()).isEqualTo(Envelope.BodyCase.WELCOME);
        assertThat(answer.getWelcome().getProtocolVersion()).isEqualTo(Frames.PROTOCOL_VERSION);
        assertThat(answer.getWelcome().getAgent()).isNotEmpty();
        assertThat(answer.getWelcome().getFlowGroups()).isTrue();
        // what this machine's TCP sends with, as the client needs it to judge lossy links
        assertThat(answer.getWelcome().getCongestionControl()).isEqualTo(
                java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/net/ipv4/tcp_congestion_control")).strip());
        assertThat(c.ch.isActive()).isTrue();
    }

    @Test
    void aWrongProtocolVersionIsRefusedAndClosed() throws Exception {
        Conn c = server.connect();
        c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION + 1)).build());
        assertError(c.next(), Error.Code.UNSUPPORTED_VERSION, String.valueOf(Frames.PROTOCOL_VERSION + 1));
        assertThat(c.ch.isOpen()).as("closed after the error").isFalse();
    }

    @Test
    void openSessionBeforeHelloIsABadStateAndCloses() throws Exception {
        Conn c = server.connect();
        c.open("data.bin");
        assertError(c.next(), Error.Code.BAD_STATE, "OPEN_SESSION");
        assertThat(c.ch.isOpen()).isFalse();
        assertThat(server.registry.size()).as("no session was opened").isZero();
    }

    @Test
    void aSecondHelloIsABadStateAndCloses() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.hello();
        assertError(c.next(), Error.Code.BAD_STATE, "HELLO");
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void anAckBeforeAttachingIsABadStateAndCloses() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(0).setOk(true)).build());
        assertError(c.next(), Error.Code.BAD_STATE, "ACK");
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void openSessionAnswersWithTheLayoutAndTheRootHash() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("data.bin");
        Envelope answer = c.next();
        assertThat(answer.getBodyCase()).isEqualTo(Envelope.BodyCase.SESSION_OPENED);
        SessionOpened opened = answer.getSessionOpened();
        assertThat(opened.getSessionId().size()).isEqualTo(SessionId.BYTES);
        assertThat(opened.getFileSize()).isEqualTo(SIZE);
        assertThat(opened.getPieceSize()).isEqualTo(ServerHarness.PIECE);
        assertThat(opened.getPieceCount()).isEqualTo(6);
        byte[] digests = TestFiles.allPieceDigests(data, ServerHarness.PIECE);
        assertThat(opened.getHashes().getFirstIndex()).isEqualTo(6);
        assertThat(opened.getHashes().getDigests().isEmpty()).as("digests come with the pieces").isTrue();
        assertThat(opened.getHashes().getRootHash().toByteArray()).isEqualTo(TestFiles.sha256(digests));
        assertThat(opened.getHashes().getFileSha256().toByteArray()).isEqualTo(TestFiles.sha256(data));
        assertThat(server.registry.size()).isEqualTo(1);
        assertThat(c.ch.isActive()).isTrue();
    }

    @Test
    void twoOpensGetDistinctSessions() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("data.bin");
        ByteString first = c.next().getSessionOpened().getSessionId();
        c.open("data.bin");
        ByteString second = c.next().getSessionOpened().getSessionId();
        assertThat(second).isNotEqualTo(first);
        assertThat(server.registry.size()).isEqualTo(2);
    }

    @Test
    void aMissingFileIsNotFoundAndTheChannelStaysUsable() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("missing.bin");
        assertError(c.next(), Error.Code.NOT_FOUND, "missing.bin");
        assertThat(c.ch.isActive()).as("a refused request does not close the channel").isTrue();
        c.open("data.bin");
        assertThat(c.next().getBodyCase()).isEqualTo(Envelope.BodyCase.SESSION_OPENED);
    }

    @Test
    void aTraversalPathIsForbidden() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("../../etc/passwd");
        assertError(c.next(), Error.Code.FORBIDDEN_PATH, "../../etc/passwd");
        assertThat(c.ch.isActive()).isTrue();
        assertThat(server.registry.size()).isZero();
    }

    @Test
    void attachingToAnUnknownSessionIsRefusedAndCloses() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.attach(SessionId.random().bytes(), 4);
        assertError(c.next(), Error.Code.UNKNOWN_SESSION, "session");
        assertThat(c.ch.isOpen()).isFalse();
        assertThat(c.pusher().attached()).isFalse();
    }

    @Test
    void garbageBytesAreABadFrameAndClose() throws Exception {
        Conn c = server.connect();
        ByteBuf garbage = Unpooled.copiedBuffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", StandardCharsets.US_ASCII);
        c.sendRaw(garbage);
        assertError(c.next(), Error.Code.BAD_FRAME, "frame length");
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void aPieceFrameFromAClientIsABadFrameAndCloses() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.sendRaw(Frames.pieceHeader(io.netty.buffer.ByteBufAllocator.DEFAULT,
                dev.biternet.proto.PieceHeader.newBuilder().setIndex(0).setLength(1).build()));
        assertError(c.next(), Error.Code.BAD_FRAME, "piece");
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void aControlFrameThatDoesNotParseIsABadFrameAndCloses() throws Exception {
        Conn c = server.connect();
        ByteBuf frame = Unpooled.buffer();
        frame.writeInt(1 + 3).writeByte(Frames.TYPE_CONTROL).writeBytes(new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff});
        c.sendRaw(frame);
        assertError(c.next(), Error.Code.BAD_FRAME, "malformed");
        assertThat(c.ch.isOpen()).isFalse();
    }

    @Test
    void attachConfirmsAndStartsSending() throws Exception {
        Conn c = server.connect();
        c.hello();
        c.next();
        c.open("data.bin");
        ByteString id = c.next().getSessionOpened().getSessionId();
        c.attach(id, 1);
        assertThat(c.drain()).extracting(Envelope::getBodyCase).containsExactly(Envelope.BodyCase.ATTACHED);
        assertThat(c.pieces).hasSize(1);
        assertThat(c.pusher().attached()).isTrue();
        assertThat(server.registry.get(id).linkCount()).isEqualTo(1);

        c.attach(id, 1);
        assertError(c.next(), Error.Code.BAD_STATE, "ATTACH");
        assertThat(c.ch.isOpen()).isFalse();
        assertThat(server.registry.get(id).linkCount()).as("the closed channel detached").isZero();
    }

    /** OpenSession with an attach: SessionOpened, Attached, and the first piece, with no Attach sent. */
    @Test
    void anOpenWithAnAttachSendsPiecesAtOnce() throws Exception {
        Conn c = server.connect();
        c.hello();
        assertThat(c.next().getWelcome().getOpenAttaches()).isTrue();
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin")
                .setAttach(Attach.newBuilder().setWindow(1).setLinkName("eth0"))).build());
        List<Envelope> answers = c.drain();
        assertThat(answers).extracting(Envelope::getBodyCase)
                .containsExactly(Envelope.BodyCase.SESSION_OPENED, Envelope.BodyCase.ATTACHED);
        assertThat(c.pieces).hasSize(1);
        ByteString id = answers.get(0).getSessionOpened().getSessionId();
        assertThat(server.registry.get(id).linkCount()).isEqualTo(1);

        c.open("data.bin");
        assertError(c.next(), Error.Code.BAD_STATE, "OPEN_SESSION");
        assertThat(c.ch.isOpen()).isFalse();
    }

    /** The links of one client open with one join key: one session, both attached, no piece sent twice. */
    @Test
    void opensWithOneJoinKeyShareOneSession() throws Exception {
        ByteString key = ByteString.copyFrom(new byte[16]).concat(ByteString.copyFromUtf8("k"));
        Conn a = server.connect();
        Conn b = server.connect();
        List<ByteString> ids = new java.util.ArrayList<>();
        for (Conn c : List.of(a, b)) {
            c.hello();
            c.next();
            c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin").setJoinKey(key)
                    .setAttach(Attach.newBuilder().setWindow(2))).build());
            ids.add(c.drain().get(0).getSessionOpened().getSessionId());
        }
        assertThat(ids.get(1)).isEqualTo(ids.get(0));
        assertThat(server.registry.size()).isEqualTo(1);
        assertThat(server.registry.get(ids.get(0)).linkCount()).isEqualTo(2);
        assertThat(a.pieces).extracting(p -> p.header().getIndex())
                .doesNotContainAnyElementsOf(b.pieces.stream().map(p -> p.header().getIndex()).toList());

        // Another key, or none, opens a session of its own.
        Conn other = server.connect();
        other.hello();
        other.next();
        other.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin")
                .setJoinKey(key.concat(ByteString.copyFromUtf8("x")))).build());
        assertThat(other.next().getSessionOpened().getSessionId()).isNotEqualTo(ids.get(0));
    }

    @Test
    void aJoinKeyForAnotherFileOrOfAWrongLengthIsRefused() throws Exception {
        server.file("other.bin", 1000);
        ByteString key = ByteString.copyFrom(new byte[20]);
        Conn c = server.connect();
        c.hello();
        c.next();
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin").setJoinKey(key)).build());
        assertThat(c.next().getBodyCase()).isEqualTo(Envelope.BodyCase.SESSION_OPENED);

        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("other.bin").setJoinKey(key)).build());
        assertError(c.next(), Error.Code.BAD_STATE, "another file");
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin")
                .setJoinKey(ByteString.copyFrom(new byte[8]))).build());
        assertError(c.next(), Error.Code.BAD_FRAME, "join key of 8 bytes");
        assertThat(server.registry.size()).isEqualTo(1);
        assertThat(c.ch.isActive()).as("a refused request does not close the channel").isTrue();
    }

    private static void assertError(Envelope e, Error.Code code, String mentions) {
        assertThat(e.getBodyCase()).as("answer %s", e).isEqualTo(Envelope.BodyCase.ERROR);
        assertThat(e.getError().getCode()).as("error %s", e.getError().getMessage()).isEqualTo(code);
        assertThat(e.getError().getMessage()).contains(mentions).doesNotContain("\n");
    }
}
