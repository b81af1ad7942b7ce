package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The verify-disk read-back over a real part file: its SHA-256 is that of the bytes on disk. */
class DiskReadBackTest {
    @TempDir
    Path dir;

    @Test
    void theDigestIsOfWhatTheFileHoldsReadInPrefixSteps() throws Exception {
        byte[] file = new byte[(20 << 20) + 123];
        new Random(3).nextBytes(file);
        PieceLayout layout = new PieceLayout(file.length, 1 << 20);
        try (PartFile part = new PartFile(dir.resolve("f"), layout.pieceSize(), false);
                DiskReadBack back = new DiskReadBack(part, layout)) {
            part.write(ByteBuffer.wrap(file), 0);
            byte[] onDisk = file.clone();
            onDisk[5 << 20] ^= 1;
            part.write(ByteBuffer.wrap(onDisk, 5 << 20, 1), 5 << 20);
            back.follow(0, 3);
            back.follow(3, 17);
            back.follow(17, layout.pieceCount());
            assertThat(back.digest()).isEqualTo(Digests.sha256().digest(onDisk))
                    .isNotEqualTo(Digests.sha256().digest(file));
        }
    }

    @Test
    void aPartFileShorterThanThePrefixFailsTheReadBack() throws Exception {
        PieceLayout layout = new PieceLayout(3000, 1000);
        try (PartFile part = new PartFile(dir.resolve("g"), 1000, false);
                DiskReadBack back = new DiskReadBack(part, layout)) {
            part.write(ByteBuffer.wrap(new byte[1500]), 0);
            back.follow(0, 3);
            assertThatThrownBy(back::digest).isInstanceOf(IOException.class)
                    .hasMessage("reading the file back failed: part file shorter than written");
        }
    }
}
