package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.Digests;
import dev.biternet.proto.SessionOpened;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Resume} on real files: what a previous run left goes to the server in OpenSession.have
 * with its file version, and the store keeps those pieces only if the server's file is still
 * that version; a session layout this client does not take writes nothing.
 */
class ResumeLoadTest {
    private static final int PIECE = 16 << 10;
    private static final long VERSION = 42;

    @TempDir
    Path dir;
    private final StringWriter err = new StringWriter();
    private final List<String> traces = new ArrayList<>();

    private Resume load(Path out) throws DownloadException {
        return Resume.load(out, "f.bin", false, new PrintWriter(err, true), traces::add);
    }

    private static SessionOpened session(long version) {
        return SessionOpened.newBuilder().setFileSize(2L * PIECE).setPieceSize(PIECE).setPieceCount(2)
                .setFileVersion(version).setSessionId(ByteString.copyFromUtf8("s")).build();
    }

    /** OUT.part with piece 0 written and logged, as a run killed after its first piece leaves them. */
    private Path runKilledAfterPieceZero() throws Exception {
        Path out = dir.resolve("f.bin");
        byte[] piece = new byte[PIECE];
        new Random(1).nextBytes(piece);
        Files.write(PieceStore.partFor(out), piece);
        try (ResumeLog log = ResumeLog.create(out, new ResumeLog.Identity("f.bin", 2L * PIECE, PIECE, VERSION))) {
            log.append(List.of(new ResumeLog.Entry(0, Digests.sha256().digest(piece))));
        }
        return out;
    }

    @Test
    void withoutAStateTheDownloadStartsFromNothingSilently() throws Exception {
        Resume r = load(dir.resolve("f.bin"));

        assertThat(r.request().getPath()).isEqualTo("f.bin");
        assertThat(r.request().getHave().isEmpty()).isTrue();
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void aPreviousRunsPiecesGoToTheServerAndStayWhenTheFileIsTheSameVersion() throws Exception {
        Path out = runKilledAfterPieceZero();

        Resume r = load(out);

        assertThat(r.request().getHave().byteAt(0) & 1).as("piece 0 in OpenSession.have").isEqualTo(1);
        assertThat(r.request().getExpectedFileVersion()).isEqualTo(VERSION);
        assertThat(traces).containsExactly("resume state: 1 piece(s) logged, 1 re-hashed intact");
        try (PieceStore store = r.openStore(session(VERSION))) {
            assertThat(store.verifiedCount()).isEqualTo(1);
        }
        assertThat(err.toString().strip()).isEqualTo("biternet-get: resuming " + out + ".part: 1 of 2 pieces already verified");
    }

    @Test
    void aFileChangedOnTheServerStartsOverWithOneLine() throws Exception {
        Path out = runKilledAfterPieceZero();

        try (PieceStore store = load(out).openStore(session(VERSION + 1))) {
            assertThat(store.verifiedCount()).isZero();
        }
        assertThat(err.toString().strip()).isEqualTo("biternet-get: warning: " + out + ".part is from another version"
                + " of f.bin (the file changed on the server); the download starts over");
    }

    @Test
    void aLayoutThisClientDoesNotTakeWritesNothing() throws Exception {
        Path out = dir.resolve("f.bin");
        SessionOpened tiny = session(VERSION).toBuilder().setPieceSize(1024).setPieceCount(32).build();

        assertThatThrownBy(() -> load(out).openStore(tiny)).isInstanceOf(DownloadException.class)
                .hasMessage("the server announced 32768 bytes in 32 pieces of 1024 bytes: pieces must be 16384 to "
                        + dev.biternet.common.wire.Frames.MAX_PIECE_SIZE + " bytes; nothing was written");
        assertThat(PieceStore.partFor(out)).doesNotExist();
        assertThat(ResumeLog.pathFor(out)).doesNotExist();
    }
}
