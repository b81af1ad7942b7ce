package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoints over a real part file and resume log: what a later run finds and takes over. */
class CheckpointerTest {
    @TempDir
    Path dir;

    private final byte[] file = new byte[3000];
    private final PieceLayout layout = new PieceLayout(file.length, 1000);

    private byte[] digest(int i) {
        var md = Digests.sha256();
        md.update(file, (int) layout.offset(i), layout.length(i));
        return md.digest();
    }

    private ResumeLog newLog(Path out) throws Exception {
        return ResumeLog.create(out, new ResumeLog.Identity("f", file.length, 1000, 1L));
    }

    /** A part file for {@code out} that holds {@link #file} (random bytes from {@code seed}). */
    private PartFile written(Path out, long seed) throws Exception {
        new Random(seed).nextBytes(file);
        PartFile part = new PartFile(out, 1000, false);
        part.write(ByteBuffer.wrap(file), 0);
        return part;
    }

    @Test
    void aCheckpointLogsTheVerifiedPiecesAndCloseLogsTheRest() throws Exception {
        Path out = dir.resolve("f");
        try (PartFile part = written(out, 1)) {
            try (Checkpointer cp = new Checkpointer(newLog(out), part, layout)) {
                cp.verified(2, digest(2));
                cp.checkpoint();
                assertThat(ResumeLog.read(out).orElseThrow().pieces()).containsOnlyKeys(2);
                cp.verified(0, digest(0));
            }
        }
        Map<Integer, byte[]> logged = ResumeLog.read(out).orElseThrow().pieces();
        assertThat(logged).containsOnlyKeys(0, 2);
        assertThat(logged.get(0)).isEqualTo(digest(0));
    }

    @Test
    void recheckKeepsOnlyTheLoggedPiecesTheDiskStillHolds() throws Exception {
        Path out = dir.resolve("g");
        try (PartFile part = written(out, 2)) {
            // piece 1 is damaged on disk after it was logged, piece 2's record names the wrong digest
            part.write(ByteBuffer.wrap(new byte[] {(byte) ~file[1500]}), 1500);
        }
        byte[] wrong = digest(2).clone();
        wrong[3] ^= 1;
        Map<Integer, byte[]> good = Checkpointer.recheck(out, layout,
                Map.of(0, digest(0), 1, digest(1), 2, wrong, 7, digest(0)));
        assertThat(good).containsOnlyKeys(0);
        assertThat(Checkpointer.recheck(dir.resolve("none"), layout, Map.of(0, digest(0)))).isEmpty();
    }
}
