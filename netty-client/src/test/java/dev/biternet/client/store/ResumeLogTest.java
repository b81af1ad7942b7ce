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
        long whole = ResumeLog.read(out).orElseThrow().validLength();
        // a crash in the middle of appending piece 5's record
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer torn = ByteBuffer.allocate(20).putInt(5).put(digest(5), 0, 16).flip();
            c.write(torn, whole);
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
        long second = ResumeLog.read(out).orElseThrow().validLength() - 2L * ResumeLog.RECORD_BYTES;
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
    void theLogReservesARecordPerPieceAndReopeningZeroesATornTail() throws Exception {
        Path out = dir.resolve("f.bin");
        Path file = ResumeLog.pathFor(out);
        int pieces = 39; // 10,000,000 bytes in pieces of 262,144
        try (ResumeLog log = ResumeLog.create(out, ID)) {
            long header = ResumeLog.read(out).orElseThrow().validLength();
            assertThat(Files.size(file)).isEqualTo(header + (long) pieces * ResumeLog.RECORD_BYTES);
            log.append(List.of(new ResumeLog.Entry(1, digest(1))));
        }
        long reserved = Files.size(file);
        long valid = ResumeLog.read(out).orElseThrow().validLength();
        try (FileChannel c = FileChannel.open(file, StandardOpenOption.WRITE)) {
            // a torn record, then a whole one that a later, shorter append would not overwrite
            c.write(ByteBuffer.allocate(20).putInt(5).put(digest(5), 0, 16).flip(), valid);
            ByteBuffer whole = ByteBuffer.allocate(ResumeLog.RECORD_BYTES).putInt(6).put(digest(6));
            java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
            crc.update(whole.array(), 0, whole.position());
            c.write(whole.putInt((int) crc.getValue()).flip(), valid + ResumeLog.RECORD_BYTES);
        }
        assertThat(ResumeLog.read(out).orElseThrow().pieces()).as("the torn record ends the log").containsOnlyKeys(1);
        try (ResumeLog log = ResumeLog.reopen(out, ResumeLog.read(out).orElseThrow())) {
            assertThat(Files.size(file)).isEqualTo(reserved);
            byte[] tail = java.util.Arrays.copyOfRange(Files.readAllBytes(file), (int) valid, (int) reserved);
            assertThat(tail).as("the torn tail is zeroed, the reservation kept").containsOnly((byte) 0);
            log.append(List.of(new ResumeLog.Entry(2, digest(2))));
        }
        assertThat(ResumeLog.read(out).orElseThrow().pieces()).containsOnlyKeys(1, 2);
    }

    /**
     * The disk fills up (here: a 1 MiB tmpfs) after the log was created and before anything
     * was logged; every verified piece's record must still fit.
     */
    @Test
    void recordsStillFitWhenTheDiskFilledUpAfterTheLogWasCreated() throws Exception {
        Path small = smallTmpfs();
        try {
            // 2,000 pieces: 80,000 bytes of records, many pages past the header's.
            ResumeLog.Identity id = new ResumeLog.Identity("f.bin", 2000L * 65536, 65536, 1L);
            Path out = small.resolve("f.bin");
            List<ResumeLog.Entry> all = new java.util.ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                all.add(new ResumeLog.Entry(i, digest(i)));
            }
            List<ResumeLog.Entry> again = new java.util.ArrayList<>();
            for (int i = 0; i < 200; i++) {
                again.add(new ResumeLog.Entry(i, digest(i + 1)));
            }
            try (ResumeLog log = ResumeLog.create(out, id)) {
                fill(small.resolve("filler"));
                log.append(all.subList(0, 10));
                log.append(all.subList(10, 2000));
                assertThat(ResumeLog.read(out).orElseThrow().pieces()).hasSize(2000);
                // Past the reservation the full disk refuses; the log stays as it was.
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> log.append(again))
                        .isInstanceOf(java.io.IOException.class);
                assertThat(ResumeLog.read(out).orElseThrow().pieces().get(0)).isEqualTo(digest(0));
                Files.delete(small.resolve("filler"));
                log.append(again);
            }
            ResumeLog.Contents c = ResumeLog.read(out).orElseThrow();
            assertThat(c.pieces()).hasSize(2000);
            assertThat(c.pieces().get(0)).as("the record appended once there was space").isEqualTo(digest(1));
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }
    }

    @Test
    void aLogThatDoesNotFitLeavesNoTemporaryFileAndTheOldLogAsItWas() throws Exception {
        Path small = smallTmpfs();
        try {
            Path out = small.resolve("f.bin");
            try (ResumeLog log = ResumeLog.create(out, ID)) {
                log.append(List.of(new ResumeLog.Entry(1, digest(1))));
            }
            fill(small.resolve("filler"));
            // A million pieces: 20,971 records (840 KB) reserved ahead, more than the full disk takes.
            ResumeLog.Identity huge = new ResumeLog.Identity("f.bin", 1L << 34, 16384, 2L);

            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ResumeLog.create(out, huge))
                    .isInstanceOf(java.io.IOException.class).hasMessageContaining("No space left");
            assertThat(Files.exists(small.resolve("f.bin.part.state.tmp"))).isFalse();
            assertThat(ResumeLog.read(out).orElseThrow().pieces()).containsOnlyKeys(1);
        } finally {
            new ProcessBuilder("umount", small.toString()).inheritIO().start().waitFor();
        }
    }

    /** A 1 MiB tmpfs under the test's directory (unmount it when done); the test is skipped without root. */
    private Path smallTmpfs() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "needs root to mount a size-limited tmpfs");
        Path small = Files.createDirectories(dir.resolve("small"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small.toString())
                .redirectErrorStream(true).start();
        String said = new String(mount.getInputStream().readAllBytes());
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.waitFor() == 0, "cannot mount a tmpfs: " + said.strip());
        return small;
    }

    /** Writes until the file system is full. */
    private static void fill(Path filler) throws Exception {
        try (FileChannel c = FileChannel.open(filler, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ByteBuffer chunk = ByteBuffer.allocate(4096);
            while (true) {
                chunk.clear();
                c.write(chunk);
            }
        } catch (java.io.IOException full) {
            assertThat(full.getMessage()).contains("No space left");
        }
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
