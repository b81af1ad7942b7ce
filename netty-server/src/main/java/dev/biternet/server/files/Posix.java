package dev.biternet.server.files;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * The few Linux calls {@link ServedRoot} needs and {@code java.nio} cannot make: {@code openat}
 * with {@code O_PATH} (a FIFO or device is named, not opened: nothing waits for a writer) and
 * {@code O_NOFOLLOW}, {@code readlinkat}, {@code fstatfs} and descriptor duplication. Names are passed as UTF-8 bytes,
 * the protocol's encoding. 64-bit Linux only, on the architectures whose flag values are the
 * generic ones (aarch64 and ppc64le differ in two, handled here).
 */
final class Posix {
    static final int AT_FDCWD = -100;
    static final int O_CLOEXEC = 02000000;
    /** A descriptor that names a file without opening it for reading (fstat, fstatfs, openat and readlink work). */
    static final int O_PATH = 010000000;
    static final int O_DIRECTORY;
    static final int O_NOFOLLOW;
    private static final int F_DUPFD_CLOEXEC = 1030;

    static final int ENOENT = 2;
    static final int EACCES = 13;
    static final int ENOTDIR = 20;
    static final int EINVAL = 22;
    static final int ELOOP = 40;

    /** Why the calls cannot be made here, or null when they can. */
    private static final String UNAVAILABLE;

    /** {@code f_type} of the file systems whose files are made up when read (linux/magic.h). */
    private static final Map<Long, String> PSEUDO_FILE_SYSTEMS = Map.ofEntries(
            Map.entry(0x9fa0L, "proc"), Map.entry(0x62656572L, "sysfs"), Map.entry(0x64626720L, "debugfs"),
            Map.entry(0x74726163L, "tracefs"), Map.entry(0x73636673L, "securityfs"), Map.entry(0x27e0ebL, "cgroup"),
            Map.entry(0x63677270L, "cgroup2"), Map.entry(0x6165676cL, "pstore"), Map.entry(0xcafe4a11L, "bpf"),
            Map.entry(0x62656570L, "configfs"), Map.entry(0xde5e81e4L, "efivarfs"), Map.entry(0x65735543L, "fusectl"),
            Map.entry(0xf97cff8cL, "selinuxfs"), Map.entry(0x43415d53L, "smackfs"), Map.entry(0x42494e4dL, "binfmt_misc"),
            Map.entry(0x1cd1L, "devpts"), Map.entry(0x19800202L, "mqueue"), Map.entry(0x6e736673L, "nsfs"));

    static {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        boolean armLike = arch.equals("aarch64") || arch.equals("ppc64le");
        O_DIRECTORY = armLike ? 040000 : 0200000;
        O_NOFOLLOW = armLike ? 0100000 : 0400000;
        String why = null;
        if (!Platform.isLinux() || !java.util.Set.of("amd64", "x86_64", "aarch64", "ppc64le", "riscv64", "s390x",
                "loongarch64").contains(arch)) {
            why = "serving files needs 64-bit Linux on x86-64, aarch64, ppc64le, riscv64, s390x or loongarch64 (files are"
                    + " opened by descriptor), not " + System.getProperty("os.name") + " " + arch;
        } else {
            try {
                Native.register(Posix.class, Platform.C_LIBRARY_NAME);
            } catch (LinkageError e) {
                why = "cannot load the native file calls (JNA): " + e.getMessage();
            }
        }
        UNAVAILABLE = why;
    }

    private Posix() {}

    /** Throws with a one-line reason if these calls cannot be made on this machine. */
    static void check() throws java.io.IOException {
        if (UNAVAILABLE != null) {
            throw new java.io.IOException(UNAVAILABLE);
        }
    }

    private static native int openat(int dirfd, byte[] path, int flags, int mode) throws LastErrorException;

    private static native long readlinkat(int dirfd, byte[] path, byte[] buf, long size) throws LastErrorException;

    private static native int fstatfs(int fd, long[] buf) throws LastErrorException;

    private static native int fcntl(int fd, int cmd, int arg) throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    private static native String strerror(int errnum);

    /** Opens {@code name} relative to {@code dirfd}; throws {@link LastErrorException} with the errno. */
    static int openAt(int dirfd, String name, int flags) {
        return openat(dirfd, cString(name), flags, 0);
    }

    /**
     * The target of the symbolic link {@code name} in {@code dirfd}, or null if it is not one
     * ({@code name} empty: of the link {@code dirfd} itself, opened with O_PATH | O_NOFOLLOW).
     */
    static String readLinkAt(int dirfd, String name) {
        byte[] buf = new byte[4096];
        try {
            int n = (int) readlinkat(dirfd, cString(name), buf, buf.length);
            return new String(buf, 0, n, StandardCharsets.UTF_8);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EINVAL || e.getErrorCode() == ENOENT) {
                return null;
            }
            throw e;
        }
    }

    /** The name of the pseudo file system {@code fd} lies on (proc, sysfs...), or null for a real one. */
    static String pseudoFileSystem(int fd) {
        long[] statfs = new long[32]; // struct statfs is 120 bytes on 64-bit Linux; f_type comes first
        fstatfs(fd, statfs);
        return PSEUDO_FILE_SYSTEMS.get(statfs[0] & 0xffffffffL);
    }

    static int dup(int fd) {
        return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }

    static void closeQuietly(int fd) {
        if (fd >= 0) {
            try {
                close(fd);
            } catch (LastErrorException ignored) {
                // a descriptor only read from: nothing is lost
            }
        }
    }

    /** The C library's text for an errno, lower-cased as in the rest of a one-line message. */
    static String describe(LastErrorException e) {
        String s = strerror(e.getErrorCode());
        if (s == null || s.isEmpty()) {
            return "error " + e.getErrorCode();
        }
        return Character.toLowerCase(s.charAt(0)) + s.substring(1);
    }

    private static byte[] cString(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, b.length + 1);
    }
}
