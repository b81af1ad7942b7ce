package dev.biternet.server.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One version of a served file: its real path, size, modification and status-change times and
 * identity (device and inode). The change time moves on every write, even when the modification
 * time is set back afterwards, so two equal versions are the same bytes as far as the kernel
 * tells; it also moves when the file is renamed over, linked or its mode changed, so equality is
 * the strict test (what the {@link HashCache} asks) and {@link #sameContentAs} the lenient one.
 */
public record FileVersion(Path path, long size, long mtimeNanos, long ctimeNanos, long device, long inode) {
    /**
     * Same file, size and modification time: what a session reading an open file asks, since the
     * change time also moves when the file is merely renamed over (its link count drops) or chmodded.
     */
    public boolean sameContentAs(FileVersion other) {
        return size == other.size && mtimeNanos == other.mtimeNanos && device == other.device && inode == other.inode;
    }

    /** The file at {@code realPath} now (by name). */
    public static FileVersion of(Path realPath) throws IOException {
        return read(realPath, realPath);
    }

    /** What tells one file from another whatever its name: equal for the same device and inode. */
    public Object fileKey() {
        return new Key(device, inode);
    }

    private record Key(long device, long inode) {}

    /** The attributes of {@code file} (a path or {@code /proc/self/fd/N}), recorded under the name {@code realPath}. */
    static FileVersion read(Path file, Path realPath) throws IOException {
        Map<String, Object> a = Files.readAttributes(file, "unix:size,lastModifiedTime,ctime,dev,ino");
        return new FileVersion(realPath, (Long) a.get("size"), nanos(a.get("lastModifiedTime")), nanos(a.get("ctime")),
                (Long) a.get("dev"), (Long) a.get("ino"));
    }

    private static long nanos(Object time) {
        return ((FileTime) time).to(TimeUnit.NANOSECONDS);
    }

    /**
     * A number that changes with the file's content version (with the size, it tells a changed
     * file): clients compare it when they resume. The change time is left out, so a {@code chmod}
     * does not throw away a client's pieces (they are verified against the digests anyway). The
     * value is the one earlier servers sent (the modification time XOR the JDK's file key hash),
     * so an upgrade does not make clients start their downloads again.
     */
    public long tag() {
        return mtimeNanos ^ (Long.hashCode(device) + Long.hashCode(inode));
    }
}
