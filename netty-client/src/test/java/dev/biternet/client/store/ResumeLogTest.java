package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The resume log on a real file: what a later run reads back after clean and torn appends. */
class ResumeLogTest {
    private static final ResumeLog.Identity ID = new ResumeLog.Identity("dir/f.bin", 10_000_000, 262_144, 123456789L);

    @TempDir
    Path dir;

    private static byte[] digest(int seed) {
        byte[] d = new byte[32];
        java.util.Arrays.fill(d, (byte) seed);
        return d;
    }

    @Test
    void recordsAppendedAcrossRunsAreReadBackWithTheirIdentity() throws Exception {
        Path out = dir.resolve("f.bin");
        try (ResumeLog log = ResumeLog.create(out, ID)) {
            log.append(List.of(new ResumeLog.Entry(3, digest(3)), new ResumeLog.Entry(0, digest(0))));
        }
        ResumeLog.Contents first = ResumeLog.read(out).orElseThrow();
        try (ResumeLog log = ResumeLog.reopen(out, first)) {
            log.append(List.of(new ResumeLog.Entry(7, digest(7))));
        }

        ResumeLog.Contents c = ResumeLog.read(out).orElseThrow();

        assertThat(c.identity()).isEqualTo(ID);
        assertThat(c.pieces()).containsOnlyKeys(0, 3, 7);
        assertThat(c.pieces().get(7)).isEqualTo(digest(7));
    }

    @Test
    void aRecordTornByACrashIsIgnoredAndCutOffOnReopen() throws Exception {
        Path out = dir.resolve("f.bin");
        try (ResumeLog log = ResumeLog.create(out, ID)) {
            log.append(List.of(new ResumeLog.Entry(1, digest(1)), new ResumeLog.Entry(2, digest(2))));
        }
        Path file = ResumeLog.pathFor(out);
        long whole = Files.size(file);
        // a crash in the middle of appending piece 5's record
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            ByteBuffer torn = ByteBuffer.allocate(20).putInt(5).put(digest(5), 0, 16).flip();
            c.write(torn);
        }

        ResumeLog.Contents c = ResumeLog.read(out).orElseThrow();
        assertThat(c.pieces()).containsOnlyKeys(1, 2);
        assertThat(c.validLength()).isEqualTo(whole);
        try (ResumeLog log = ResumeLog.reopen(out, c)) {
            log.append(List.of(new ResumeLog.Entry(5, digest(5))));
        }
        assertThat(ResumeLog.read(out).orElseThrow().pieces()).containsOnlyKeys(1, 2, 5);
    }

    @Test
    void aDamagedRecordEndsTheTrustedPartOfTheLog() throws Exception {
        Path out = dir.resolve("f.bin");
        try (ResumeLog log = ResumeLog.create(out, ID)) {
            log.append(List.of(new ResumeLog.Entry(1, digest(1)), new ResumeLog.Entry(2, digest(2)),
                    new ResumeLog.Entry(4, digest(4))));
        }
        Path file = ResumeLog.pathFor(out);
        long second = Files.size(file) - 2L * ResumeLog.RECORD_BYTES;
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(new byte[] {(byte) 0xFF}), second + 10);
        }

        assertThat(ResumeLog.read(out).orElseThrow().pieces()).as("records after the damaged one are not trusted")
                .containsOnlyKeys(1);
    }

    @Test
    void noLogOrADamagedHeaderMeansNothingToResume() throws Exception {
        Path out = dir.resolve("f.bin");
        assertThat(ResumeLog.read(out)).isEmpty();
        ResumeLog.create(out, ID).close();
        try (FileChannel c = FileChannel.open(ResumeLog.pathFor(out), StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(new byte[] {'x'}), 12);
        }
        assertThat(ResumeLog.read(out)).isEmpty();
    }

    @Test
    void createReplacesAnOldLogForAnotherVersion() throws Exception {
        Path out = dir.resolve("f.bin");
        try (ResumeLog log = ResumeLog.create(out, ID)) {
            log.append(List.of(new ResumeLog.Entry(1, digest(1))));
        }
        ResumeLog.Identity newer = new ResumeLog.Identity("dir/f.bin", 10_000_001, 262_144, 99L);
        ResumeLog.create(out, newer).close();

        ResumeLog.Contents c = ResumeLog.read(out).orElseThrow();
        assertThat(c.identity()).isEqualTo(newer);
        assertThat(c.pieces()).isEqualTo(Map.of());
    }
}
