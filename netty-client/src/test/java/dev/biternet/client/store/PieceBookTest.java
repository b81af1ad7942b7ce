package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.client.store.PieceStore.Outcome;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The piece book over a real part file: verdicts, what it tells its listener, and which writes reach the disk. */
class PieceBookTest {
    @TempDir
    Path dir;

    private final byte[] file = new byte[4000];
    private final PieceLayout layout = new PieceLayout(file.length, 1000);
    private final List<String> heard = new ArrayList<>();
    private final PieceBook.Listener listener = new PieceBook.Listener() {
        @Override
        public void verified(int index, byte[] digest) {
            heard.add("verified " + index);
        }

        @Override
        public void prefix(int from, int to) {
            heard.add("prefix " + from + ".." + to);
        }
    };
    private PartFile part;

    private PieceBook book(Map<Integer, byte[]> resumed) throws Exception {
        new Random(7).nextBytes(file);
        part = new PartFile(dir.resolve("f"), layout.pieceSize(), !resumed.isEmpty());
        return new PieceBook(layout, part, resumed, listener);
    }

    @AfterEach
    void closePart() throws Exception {
        if (part != null) {
            part.close();
        }
    }

    private byte[] digest(int i) {
        var md = Digests.sha256();
        md.update(file, (int) layout.offset(i), layout.length(i));
        return md.digest();
    }

    private byte[] allDigests() {
        byte[] all = new byte[layout.pieceCount() * 32];
        for (int i = 0; i < layout.pieceCount(); i++) {
            System.arraycopy(digest(i), 0, all, i * 32, 32);
        }
        return all;
    }

    private boolean write(PieceBook book, int i, Object writer) throws Exception {
        return book.write(i, layout.offset(i), ByteBuffer.wrap(file, (int) layout.offset(i), layout.length(i)), writer);
    }

    @Test
    void theListenerHearsEachVerdictAndThePrefixGrowInOrder() throws Exception {
        PieceBook book = book(Map.of());
        book.addHashes(0, allDigests());
        for (int i : new int[] {2, 0, 3, 1}) {
            write(book, i, this);
            assertThat(book.complete(i, digest(i), this)).isEqualTo(Outcome.VERIFIED);
        }
        assertThat(heard).containsExactly("verified 2", "verified 0", "prefix 0..1", "verified 3", "verified 1",
                "prefix 1..4");
        assertThat(book.allVerified()).isDone();
        assertThat(book.haveBitmap()).containsExactly(0x0f);
    }

    @Test
    void resumedPiecesAreVerifiedFromTheStartAndNeverWrittenAgain() throws Exception {
        Files.write(PartFile.partFor(dir.resolve("f")), new byte[0]);
        new Random(7).nextBytes(file);
        PieceBook book = book(Map.of(0, digest(0), 1, digest(1)));
        assertThat(heard).containsExactly("prefix 0..2");
        assertThat(book.verifiedCount()).isEqualTo(2);
        assertThat(write(book, 1, this)).as("a copy of a resumed piece").isFalse();
        assertThat(part.digest(layout.offset(1), layout.length(1), ByteBuffer.allocate(1000))).isNull();
        assertThat(book.complete(1, digest(1), this)).isEqualTo(Outcome.DUPLICATE);
        assertThat(book.allVerified()).isNotDone();
    }

    @Test
    void aFailedCopyIsNotHeardAndAContestedPieceCountsOnlyAsTheDiskHoldsIt() throws Exception {
        PieceBook book = book(Map.of());
        book.addHashes(0, allDigests());
        byte[] bad = digest(1);
        bad[0] ^= 1;
        write(book, 1, "a");
        assertThat(book.complete(1, bad, "a")).isEqualTo(Outcome.FAILED);
        // a second link writes zeros into piece 1 before the first one's good copy is judged
        book.write(1, 1500, ByteBuffer.wrap(new byte[100]), "b");
        assertThat(book.complete(1, digest(1), "a")).isEqualTo(Outcome.OVERWRITTEN);
        assertThat(heard).isEmpty();
        write(book, 1, "a");
        assertThat(book.complete(1, digest(1), "a")).isEqualTo(Outcome.VERIFIED);
        assertThat(heard).containsExactly("verified 1");
    }

    @Test
    void theRootIsCheckedOnlyOnceEveryPieceIsVerified() throws Exception {
        PieceBook book = book(Map.of());
        book.addHashes(0, allDigests());
        book.setRoot(Digests.root(allDigests()), new byte[32]);
        assertThatThrownBy(book::checkRoot).isInstanceOf(IllegalStateException.class);
        for (int i = 0; i < layout.pieceCount(); i++) {
            write(book, i, this);
            book.complete(i, digest(i), this);
        }
        assertThat(book.checkRoot()).isEqualTo(new byte[32]);
        book.setRoot(new byte[32], new byte[32]);
        assertThatThrownBy(book::checkRoot).isInstanceOf(PieceStore.IntegrityException.class)
                .hasMessageContaining("do not add up to the server's root hash");
    }

    @Test
    void aDigestWaitsForItsHashAndIsJudgedWhenItComes() throws Exception {
        PieceBook book = book(Map.of());
        write(book, 3, "late");
        assertThat(book.complete(3, digest(3), "late")).isEqualTo(Outcome.PENDING);
        byte[] all = allDigests();
        var resolved = book.addDigest(3, com.google.protobuf.ByteString.copyFrom(Arrays.copyOfRange(all, 96, 128)));
        assertThat(resolved).containsExactly(new PieceStore.Resolved(3, "late", Outcome.VERIFIED));
        assertThatThrownBy(() -> book.addDigest(3, com.google.protobuf.ByteString.copyFrom(new byte[32])))
                .hasMessageContaining("two different hashes for piece 3");
    }
}
