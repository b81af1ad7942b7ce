package dev.biternet.server.files;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileVersionTest {
    @TempDir
    Path dir;

    @Test
    void theTagAClientResumesWithIsTheOneEarlierServersSent() throws Exception {
        Path f = Files.writeString(dir.resolve("f"), "x");
        BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
        assertThat(FileVersion.of(f).tag())
                .isEqualTo(a.lastModifiedTime().to(TimeUnit.NANOSECONDS) ^ Objects.hashCode(a.fileKey()));
    }

    @Test
    void aRewriteWithTheModificationTimeSetBackIsAnotherVersion() throws Exception {
        Path f = Files.writeString(dir.resolve("f"), "abc");
        FileVersion before = FileVersion.of(f);
        Thread.sleep(20); // past the file system's timestamp tick
        Files.writeString(f, "xyz");
        Files.setLastModifiedTime(f, FileTime.from(before.mtimeNanos(), TimeUnit.NANOSECONDS));
        FileVersion after = FileVersion.of(f);
        assertThat(after.size()).isEqualTo(before.size());
        assertThat(after.mtimeNanos()).isEqualTo(before.mtimeNanos());
        assertThat(after).isNotEqualTo(before);
    }
}
