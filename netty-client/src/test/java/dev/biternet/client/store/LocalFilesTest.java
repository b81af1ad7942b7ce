package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** File errors as the user reads them, from real failing file operations; and the output lock within one JVM. */
class LocalFilesTest {
    @TempDir
    Path dir;

    private static String failure(IoAction a) {
        try {
            a.run();
        } catch (IOException e) {
            return LocalFiles.describe(Path.of("unused"), e);
        }
        throw new AssertionError("did not fail");
    }

    private interface IoAction {
        void run() throws IOException;
    }

    @Test
    void aFileErrorNamesTheFileAndTheSystemsReason() throws Exception {
        Path missing = dir.resolve("gone").resolve("x.part.state.tmp");
        assertThat(failure(() -> FileChannel.open(missing, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close()))
                .isEqualTo(missing + ": No such file or directory");

        Path part = Files.writeString(dir.resolve("x.part"), "data");
        Path out = Files.createDirectory(dir.resolve("x"));
        assertThat(failure(() -> Files.move(part, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)))
                .isEqualTo(part + " -> " + out + ": Is a directory");

        assertThat(LocalFiles.describe(part, new IOException("No space left on device")))
                .as("a failed write on an open channel names no file: the caller's is named")
                .isEqualTo(part + ": No space left on device");
    }

    @Test
    void aNewFileIsNeverALinksTarget() throws Exception {
        Path victim = Files.writeString(dir.resolve("victim"), "keep me");
        Path link = Files.createSymbolicLink(dir.resolve("x.part"), victim);

        assertThatThrownBy(() -> LocalFiles.createNew(link, StandardOpenOption.WRITE)).isInstanceOf(LocalFiles.Refused.class)
                .hasMessage(link + " is a symbolic link, not a regular file; biternet-get does not write through links"
                        + " or into special files at its own paths: remove " + link + " and rerun");
        assertThat(Files.readString(victim)).isEqualTo("keep me");

        Files.delete(link);
        Files.writeString(link, "left by a killed run");
        try (FileChannel c = LocalFiles.createNew(link, StandardOpenOption.WRITE)) {
            assertThat(c.size()).as("a leftover regular file is replaced by a new, empty one").isZero();
            assertThat(LocalFiles.isStill(link, LocalFiles.openedKey(link))).isTrue();
        }
    }

    @Test
    void theOutputLockRefusesASecondDownloadInTheSameJvmAndGoesWithTheFirst() throws Exception {
        Path out = dir.resolve("f.bin");
        try (OutputLock first = OutputLock.acquire(out)) {
            assertThat(Files.readString(OutputLock.pathFor(out)).strip()).isEqualTo("" + ProcessHandle.current().pid());
            assertThatThrownBy(() -> OutputLock.acquire(out)).isInstanceOf(OutputLock.Busy.class)
                    .hasMessage(out + " is being downloaded by another biternet-get (pid " + ProcessHandle.current().pid()
                            + "); wait for it to finish or stop it");
        }
        assertThat(OutputLock.pathFor(out)).doesNotExist();
        OutputLock.acquire(out).close();
    }
}
