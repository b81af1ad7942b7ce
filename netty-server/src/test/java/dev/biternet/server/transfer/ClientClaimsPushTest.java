package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Claim;
import dev.biternet.proto.DigestRequest;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.Unclaim;
import dev.biternet.server.transfer.ServerHarness.Conn;
import dev.biternet.server.transfer.ServerHarness.Piece;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Protocol 2 on the real server pipeline: a session opened with {@code client_claims} sends
 * only the pieces the client's Claims grant it, stops at Unclaim, and a version-1 client is
 * still welcomed as before.
 */
class ClientClaimsPushTest {
    private static final int PIECE = ServerHarness.PIECE;
    private static final int SIZE = 6 * PIECE + 100;

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

    private static Envelope claim(int first, int count) {
        return Envelope.newBuilder().setClaim(Claim.newBuilder().setFirst(first).setCount(count)).build();
    }

    /** Hello 2, OpenSession with client_claims (or not), Attach with window 2. */
    private void attached(Conn c, boolean clientClaims) throws Exception {
        c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(2).setAgent("test")).build());
        assertThat(c.next().getWelcome().getProtocolVersion()).isEqualTo(2);
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin")
                .setClientClaims(clientClaims)).build());
        ByteString id = c.next().getSessionOpened().getSessionId();
        c.attach(id, 2);
    }

    @Test
    void onlyClaimedPiecesAreSentAndAnUnclaimedOneIsNot() throws Exception {
        Conn c = server.connect();
        attached(c, true);
        assertThat(c.pieces).as("nothing claimed yet").isEmpty();

        c.send(claim(4, 2));
        assertThat(c.newPieces()).extracting(Piece::index).containsExactly(4, 5);
        for (Piece p : c.pieces) {
            int off = (int) p.header().getOffset();
            assertThat(p.bytes()).isEqualTo(java.util.Arrays.copyOfRange(data, off, off + p.bytes().length));
        }

        // The window is full (4 and 5 unacknowledged): piece 1 is withdrawn before it could start.
        c.send(claim(1, 2));
        c.send(Envelope.newBuilder().setUnclaim(Unclaim.newBuilder().setFirst(1).setCount(1)).build());
        c.ack(4, true);
        c.ack(5, true);
        assertThat(c.newPieces()).extracting(Piece::index).as("piece 1 was claimed and withdrawn").doesNotContain(1);
        assertThat(c.pieces).extracting(Piece::index).containsOnly(4, 5, 2);
    }

    /** The Error the server answers {@code claim} with, on a session opened with client claims or not. */
    private Error errorFor(boolean clientClaims, Envelope claim) throws Exception {
        Conn c = server.connect();
        attached(c, clientClaims);
        c.drain();
        c.send(claim);
        return c.drain().stream().filter(Envelope::hasError).findFirst().orElseThrow().getError();
    }

    @Test
    void aClaimPastTheFileIsABadFrame() throws Exception {
        Error e = errorFor(true, claim(5, 3));
        assertThat(e.getCode()).isEqualTo(Error.Code.BAD_FRAME);
        assertThat(e.getMessage()).contains("past the file's 7");
    }

    @Test
    void aClaimInASessionOfTheUsualModeIsABadState() throws Exception {
        Error e = errorFor(false, claim(0, 1));
        assertThat(e.getCode()).isEqualTo(Error.Code.BAD_STATE);
        assertThat(e.getMessage()).contains("client_claims");
    }

    private static Envelope digests(int first, int count) {
        return Envelope.newBuilder().setDigestRequest(DigestRequest.newBuilder().setFirst(first).setCount(count)).build();
    }

    @Test
    void aDigestRequestIsAnsweredWithThePiecesDigestsAndNoPiece() throws Exception {
        Conn c = server.connect();
        c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(2).setAgent("test")).build());
        assertThat(c.next().getWelcome().getDigestsOnRequest()).as("Welcome says the server answers them").isTrue();
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin").setClientClaims(true))
                .build());
        c.attach(c.next().getSessionOpened().getSessionId(), 2);
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        // A file still being hashed gets the digests hashed so far: ask for the rest until all came.
        for (int tries = 0; got.size() < 7 * 32 && tries < 100; tries++) {
            c.send(digests(got.size() / 32, 7 - got.size() / 32));
            for (Envelope e : c.drain()) {
                assertThat(e.getPieceHashes().getFirstIndex()).isEqualTo(got.size() / 32);
                got.write(e.getPieceHashes().getDigests().toByteArray());
            }
            Thread.sleep(20);
        }
        java.io.ByteArrayOutputStream expected = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < 7; i++) {
            expected.write(dev.biternet.common.piece.Digests.sha256().digest(
                    java.util.Arrays.copyOfRange(data, i * PIECE, Math.min(SIZE, (i + 1) * PIECE))));
        }
        assertThat(got.toByteArray()).isEqualTo(expected.toByteArray());
        assertThat(c.pieces).as("a digest is not a piece").isEmpty();
    }

    @Test
    void aDigestRequestPastTheFileIsABadFrame() throws Exception {
        Error e = errorFor(true, digests(6, 2));
        assertThat(e.getCode()).isEqualTo(Error.Code.BAD_FRAME);
        assertThat(e.getMessage()).contains("past the file's 7");
    }

    @Test
    void aVersionOneClientIsWelcomedWithVersionOne() throws Exception {
        Conn c = server.connect();
        c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION)).build());
        assertThat(c.next().getWelcome().getProtocolVersion()).isEqualTo(1);
    }
}
