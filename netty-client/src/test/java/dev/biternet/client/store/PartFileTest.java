package dev.biternet.client.store;

import static dev.biternet.client.store.PieceStoreTest.data;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.common.piece.Digests;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The part file on a real file system: what lands where, what is read back, and when it is renamed. */
class PartFileTest {
    private static final int PIECE = 65536;

    @TempDir
    Path dir;

    @Test
    void wholePiecesAndAnOddLastPieceBecomeTheFileCutToSizeAtTheRename() throws Exception {
        byte[] file = data(3 * PIECE + 1000, 1);
        Path out = dir.resolve("f.bin");
        try (PartFile part = new PartFile(out, PIECE, false)) {
            assertThat(part.path()).isEqualTo(dir.resolve("f.bin.part")).exists();
            for (int i = 3; i >= 0; i--) {
                ByteBuffer b = part.pieceBuffer();
                assertThat(b.position()).isZero();
                assertThat(b.limit()).isEqualTo(PIECE);
                int len = Math.min(PIECE, file.length - i * PIECE);
                b.put(file, i * PIECE, len).flip();
                part.writeWhole(b, (long) i * PIECE);
                part.recycle(b);
            }
            // a stray write past the end (a longer piece layout would do this) is cut off at the rename
            part.write(ByteBuffer.wrap(new byte[10]), file.length);
            part.moveTo(out, file.length);
            assertThat(part.isOpen()).isFalse();
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(file);
        assertThat(dir.resolve("f.bin.part")).doesNotExist();
    }

    @Test
    void aRecycledBufferIsHandedOutAgainCleared() throws Exception {
        try (PartFile part = new PartFile(dir.resolve("r"), PIECE, false)) {
            ByteBuffer b = part.pieceBuffer();
            b.put(new byte[100]);
            part.recycle(b);
            ByteBuffer again = part.pieceBuffer();
            assertThat(again).isSameAs(b);
            assertThat(again.position()).isZero();
            assertThat(again.limit()).isEqualTo(PIECE);
        }
    }

    @Test
    void digestReadsTheRangeBackAndIsNullWhereTheFileEndsFirst() throws Exception {
        byte[] file = data(5000, 2);
        try (PartFile part = new PartFile(dir.resolve("d"), 1000, false)) {
            part.write(ByteBuffer.wrap(file), 0);
            ByteBuffer small = ByteBuffer.allocateDirect(300);
            var md = Digests.sha256();
            md.update(file, 1000, 2500);
            assertThat(part.digest(1000, 2500, small)).isEqualTo(md.digest());
            assertThat(part.digest(4000, 2000, small)).isNull();
        }
    }

    @Test
    void aPartFileReplacedMeanwhileIsNeverRenamed() throws Exception {
        Path out = dir.resolve("x");
        try (PartFile part = new PartFile(out, 1000, false)) {
            part.write(ByteBuffer.wrap(data(1000, 3)), 0);
            Path p = part.path();
            Files.delete(p);
            Files.write(p, new byte[] {1, 2, 3});
            assertThatThrownBy(() -> part.moveTo(out, 1000)).isInstanceOf(LocalFiles.Refused.class)
                    .hasMessageContaining("is no longer the file this download wrote");
        }
        assertThat(out).doesNotExist();
        assertThat(Files.readAllBytes(dir.resolve("x.part"))).isEqualTo(new byte[] {1, 2, 3});
    }

    @Test
    void aResumedPartFileKeepsItsBytesAndANewOneStartsEmpty() throws Exception {
        Path out = dir.resolve("y");
        byte[] before = data(2000, 4);
        Files.write(PartFile.partFor(out), before);
        try (PartFile part = new PartFile(out, 1000, true)) {
            ByteBuffer buf = ByteBuffer.allocate(2000);
            assertThat(part.read(buf, 0)).isEqualTo(2000);
            assertThat(buf.array()).isEqualTo(before);
        }
        try (PartFile part = new PartFile(out, 1000, false)) {
            assertThat(part.read(ByteBuffer.allocate(10), 0)).isEqualTo(-1);
        }
    }
}
