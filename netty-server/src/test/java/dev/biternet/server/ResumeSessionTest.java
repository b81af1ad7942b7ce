package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server side of resuming and of a file that changes under a session, over real sockets:
 * OpenSession.have spares the pieces a client holds only for the same file version, and a
 * changed file ends the session with FILE_CHANGED.
 */
class ResumeSessionTest {
    private static final int PIECE = 16 << 10;
    private static final int PIECES = 10;

    @TempDir
    Path root;
    private BiternetServer server;

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    private BiternetServerTest.WireClient client() throws Exception {
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 2, 1, 60));
        BiternetServerTest.WireClient c = new BiternetServerTest.WireClient(server.address());
        c.hello();
        return c;
    }

    /**
     * A client for a file the server has already hashed whole: a file replaced by rename while
     * its first hashing pass runs cannot be hashed (IO_ERROR); once hashed, the session serves
     * its own descriptor's bytes.
     */
    private BiternetServerTest.WireClient clientForHashed(String path) throws Exception {
        BiternetServerTest.WireClient c = client();
        long deadline = System.nanoTime() + 10_000_000_000L;
        boolean whole = false;
        while (!whole) {
            assertThat(System.nanoTime()).as("hashing finishes in time").isLessThan(deadline);
            c.open(path);
            whole = !c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened().getHashes().getRootHash().isEmpty();
            if (!whole) {
                Thread.sleep(50); // each try opens a session: few tries, far below the per-address limit
            }
        }
        c.close();
        c = new BiternetServerTest.WireClient(server.address());
        c.hello();
        return c;
    }

    private static Envelope openWithHave(SessionOpened from, BitSet have, long version) {
        byte[] bits = java.util.Arrays.copyOf(have.toByteArray(), (from.getPieceCount() + 7) / 8);
        return Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("file.bin")
                .setHave(ByteString.copyFrom(bits)).setExpectedFileVersion(version)
                .setExpectedFileSize(from.getFileSize()).setHavePieceSize(from.getPieceSize())).build();
    }

    /** Attaches, then receives and acks pieces until {@code count} distinct ones came; returns them in arrival order. */
    private static Set<Integer> receive(BiternetServerTest.WireClient c, SessionOpened session, int count) throws Exception {
        c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(session.getSessionId())
                .setSecret(session.getAttachSecret()).setWindow(3)).build());
        c.expect(Envelope.BodyCase.ATTACHED);
        Set<Integer> got = new java.util.LinkedHashSet<>();
        while (got.size() < count) {
            Object frame = c.read();
            if (frame instanceof BiternetServerTest.Piece p) {
                got.add(p.header().getIndex());
                c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(p.header().getIndex()).setOk(true)).build());
            } else {
                assertThat(((Envelope) frame).getBodyCase()).isEqualTo(Envelope.BodyCase.PIECE_HASHES);
            }
        }
        return got;
    }

    @Test
    void aResumingClientIsSentOnlyThePiecesItLacks() throws Exception {
        TestFiles.write(root.resolve("file.bin"), 4, PIECES * PIECE);
        try (BiternetServerTest.WireClient c = client()) {
            c.open("file.bin");
            SessionOpened first = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            BitSet have = new BitSet();
            have.set(0);
            have.set(2);
            have.set(3);
            have.set(7);

            c.send(openWithHave(first, have, first.getFileVersion()));
            SessionOpened resumed = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();

            assertThat(new TreeSet<>(receive(c, resumed, PIECES - 4))).containsExactly(1, 4, 5, 6, 8, 9);
        }
    }

    @Test
    void haveForAnotherFileVersionIsIgnored() throws Exception {
        TestFiles.write(root.resolve("file.bin"), 5, PIECES * PIECE);
        try (BiternetServerTest.WireClient c = client()) {
            c.open("file.bin");
            SessionOpened first = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            BitSet have = new BitSet();
            have.set(0, PIECES - 1);

            c.send(openWithHave(first, have, first.getFileVersion() + 1));
            SessionOpened fresh = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();

            assertThat(receive(c, fresh, PIECES)).as("every piece is sent, in order").containsExactly(
                    0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        }
    }

    @Test
    void aFileThatChangesDuringTheSessionEndsItWithFileChanged() throws Exception {
        Path file = root.resolve("file.bin");
        TestFiles.write(file, 6, PIECES * PIECE);
        try (BiternetServerTest.WireClient c = client()) {
            c.open("file.bin");
            SessionOpened s = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(s.getSessionId()).setSecret(s.getAttachSecret()).setWindow(1)).build());
            c.expect(Envelope.BodyCase.ATTACHED);
            BiternetServerTest.Piece p = firstPiece(c);

            Files.write(file, new byte[] {1}, StandardOpenOption.APPEND);
            // The server stats the file at most every 100 ms: let that pass before the next claim.
            Thread.sleep(150);
            c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(p.header().getIndex()).setOk(true)).build());

            Envelope error = null;
            while (error == null) {
                Object frame = c.read();
                if (frame instanceof Envelope e && e.getBodyCase() == Envelope.BodyCase.ERROR) {
                    error = e;
                }
            }
            assertThat(error.getError().getCode()).isEqualTo(Error.Code.FILE_CHANGED);
            assertThat(error.getError().getMessage()).contains("changed on the server");
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aFileReplacedByRenameKeepsServingTheSessionsVersion() throws Exception {
        Path file = root.resolve("file.bin");
        byte[] old = TestFiles.write(file, 7, PIECES * PIECE);
        try (BiternetServerTest.WireClient c = clientForHashed("file.bin")) {
            c.open("file.bin");
            SessionOpened s = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(s.getSessionId()).setSecret(s.getAttachSecret()).setWindow(1)).build());
            c.expect(Envelope.BodyCase.ATTACHED);
            byte[] received = new byte[old.length];
            BiternetServerTest.Piece p = firstPiece(c);
            System.arraycopy(p.bytes(), 0, received, (int) p.header().getOffset(), p.bytes().length);

            Path replacement = root.resolve("file.bin.new");
            TestFiles.write(replacement, 8, PIECES * PIECE + 5);
            Files.move(replacement, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Thread.sleep(150);
            c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(p.header().getIndex()).setOk(true)).build());

            Set<Integer> got = new TreeSet<>(Set.of(p.header().getIndex()));
            while (got.size() < PIECES) {
                Object frame = c.read();
                if (frame instanceof Envelope e) {
                    assertThat(e.getBodyCase()).as("no Error: the session still reads its own file")
                            .isEqualTo(Envelope.BodyCase.PIECE_HASHES);
                    continue;
                }
                BiternetServerTest.Piece next = (BiternetServerTest.Piece) frame;
                System.arraycopy(next.bytes(), 0, received, (int) next.header().getOffset(), next.bytes().length);
                got.add(next.header().getIndex());
                c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(next.header().getIndex()).setOk(true)).build());
            }
            assertThat(received).as("the old version, whole").isEqualTo(old);
        }
    }

    private static BiternetServerTest.Piece firstPiece(BiternetServerTest.WireClient c) throws Exception {
        while (true) {
            Object frame = c.read();
            if (frame instanceof BiternetServerTest.Piece p) {
                return p;
            }
        }
    }
}
