package dev.biternet.server.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/** One version of a served file: its real path, size, modification time and inode. */
public record FileVersion(Path path, long size, long mtimeNanos, Object fileKey) {
    public static FileVersion of(Path realPath) throws IOException {
        BasicFileAttributes a = Files.readAttributes(realPath, BasicFileAttributes.class);
        return new FileVersion(realPath, a.size(), a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS),
                a.fileKey());
    }

    /** A number that changes with the file's content version (with the size, it tells a changed file). */
    public long tag() {
        return mtimeNanos ^ Objects.hashCode(fileKey);
    }
}
