package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Welcome;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * What a connection says and hears before pieces: its Hello, a Welcome in another protocol
 * refused in one line, and the Attach it asks with, whose cap is what the whole link has left.
 */
class HandshakeTest {
    private static final ByteString TOKEN = ByteString.copyFromUtf8("secret");

    private static Handshake handshake(long cap) {
        return new Handshake(new LinkSpec("wlan0", null, null, new LinkOptions(cap, 5_000_000, 1)), TOKEN);
    }

    @Test
    void helloCarriesTheProtocolTheAgentAndTheToken() {
        Envelope hello = handshake(0).hello();

        assertThat(hello.getHello().getProtocolVersion()).isEqualTo(Frames.OLDEST_PROTOCOL_VERSION);
        assertThat(hello.getHello().getAgent()).isEqualTo("biternet-get");
        assertThat(hello.getHello().getToken()).isEqualTo(TOKEN);
    }

    @Test
    void aServerOfAnotherProtocolIsRefusedInOneLine() {
        Handshake h = handshake(0);
        Welcome other = Welcome.newBuilder().setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION + 1).setFlowGroups(true).build();

        assertThatThrownBy(() -> h.welcome(other)).isInstanceOf(ProtocolException.class)
                .hasMessage("server speaks protocol " + (Frames.OLDEST_PROTOCOL_VERSION + 1) + ", this client speaks "
                        + Frames.OLDEST_PROTOCOL_VERSION)
                .satisfies(e -> assertThat(((ProtocolException) e).code()).isEqualTo(Error.Code.UNSUPPORTED_VERSION));
        assertThat(h.welcomed()).isFalse();
        assertThat(h.flowGroups()).as("nothing taken from a refused Welcome").isFalse();
    }

    @Test
    void whatWelcomeOffersIsKept() throws Exception {
        Handshake h = handshake(0);
        h.welcome(Welcome.newBuilder().setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION).setFlowGroups(true)
                .setOpenAttaches(true).setCongestionControl("bbr").build());

        assertThat(h.welcomed()).isTrue();
        assertThat(h.flowGroups()).isTrue();
        assertThat(h.congestionControl()).isEqualTo("bbr");
        assertThat(h.attachedByOpen(false)).as("this connection did not ask to be attached on open").isFalse();
        h.openAndAttach(OpenSession.newBuilder().setPath("f").build(), 4, false, 0, 1);
        assertThat(h.attachedByOpen(false)).isTrue();
        assertThat(h.attachedByOpen(true)).as("the open failed").isFalse();
    }

    @Test
    void anAttachAsksForWhatTheWholeLinkHasLeftOfItsCap() {
        Attach a = handshake(1000).attach(ByteString.copyFromUtf8("s"), ByteString.copyFromUtf8("x"), 4, true, 400, 2);

        assertThat(a.getCapBytes()).isEqualTo(600);
        assertThat(a.getLinkName()).isEqualTo("wlan0");
        assertThat(a.getRateLimit()).isEqualTo(5_000_000);
        assertThat(a.getWindow()).isEqualTo(4);
        assertThat(a.getStandby()).isTrue();
        assertThat(a.getFlowGroup()).isEqualTo(2);
        assertThat(handshake(1000).attach(ByteString.EMPTY, ByteString.EMPTY, 4, false, 1000, 0).getCapBytes())
                .as("a spent cap: 1 byte, no piece through, not 0 (no cap)").isEqualTo(1);
        assertThat(handshake(0).attach(ByteString.EMPTY, ByteString.EMPTY, 4, false, 1000, 0).getCapBytes()).isZero();
    }

    /** A connection asked to be attached as it opened: its own answer decides how it attaches. */
    @Test
    void howAConnectionAttaches() throws Exception {
        ByteString ours = ByteString.copyFromUtf8("ours");
        Handshake h = handshake(0);
        h.welcome(Welcome.newBuilder().setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION).setOpenAttaches(true).build());
        CompletableFuture<SessionOpened> answer = new CompletableFuture<>();
        assertThat(h.attachment(answer, ours)).as("did not ask: it sends Attach").isEqualTo(Handshake.Attachment.ASK);

        h.openAndAttach(OpenSession.newBuilder().setPath("f").build(), 4, false, 0, 1);

        assertThat(h.attachment(answer, ours)).isEqualTo(Handshake.Attachment.AWAIT_OPEN);
        answer.complete(SessionOpened.newBuilder().setSessionId(ours).build());
        assertThat(h.attachment(answer, ours)).isEqualTo(Handshake.Attachment.BY_OPEN);
        assertThat(h.attachment(CompletableFuture.completedFuture(SessionOpened.newBuilder()
                .setSessionId(ByteString.copyFromUtf8("theirs")).build()), ours)).isEqualTo(Handshake.Attachment.OTHER_SESSION);
        assertThat(h.attachment(CompletableFuture.failedFuture(new java.io.IOException("busy")), ours))
                .as("the open failed").isEqualTo(Handshake.Attachment.ASK);
    }

    @Test
    void aServerThatDoesNotAttachOnOpenIsAskedWithAnAttach() throws Exception {
        Handshake h = handshake(0);
        h.welcome(Welcome.newBuilder().setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION).build());
        h.openAndAttach(OpenSession.newBuilder().setPath("f").build(), 4, false, 0, 1);

        assertThat(h.attachment(CompletableFuture.completedFuture(SessionOpened.getDefaultInstance()), ByteString.EMPTY))
                .isEqualTo(Handshake.Attachment.ASK);
    }

    @Test
    void openAndAttachCarriesTheAttachInsideOpenSession() {
        Envelope e = handshake(0).openAndAttach(OpenSession.newBuilder().setPath("f.bin").build(), 4, false, 0, 3);

        assertThat(e.getOpenSession().getPath()).isEqualTo("f.bin");
        assertThat(e.getOpenSession().getAttach().getFlowGroup()).isEqualTo(3);
        assertThat(e.getOpenSession().getAttach().getSessionId().isEmpty()).isTrue();
    }
}
