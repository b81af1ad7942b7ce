package dev.biternet.server.files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.biternet.proto.Error;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one gate between a client's path and the file system. */
class ServedRootTest {
    @TempDir
    Path tmp;
    private Path rootDir;
    private Path outside;
    private ServedRoot root;

    @BeforeEach
    void setUp() throws IOException {
        rootDir = Files.createDirectory(tmp.resolve("root"));
        outside = Files.writeString(tmp.resolve("secret.txt"), "outside the root");
        Files.writeString(rootDir.resolve("file.txt"), "hello");
        Files.createDirectories(rootDir.resolve("sub/deeper"));
        Files.writeString(rootDir.resolve("sub/deeper/nested.bin"), "nested");
        root = new ServedRoot(rootDir);
    }

    @Test
    void aRegularFileResolvesToItsRealPath() throws Exception {
        assertThat(realPath(root, "file.txt")).isEqualTo(rootDir.resolve("file.txt").toRealPath());
        assertThat(realPath(root, "sub/deeper/nested.bin")).isEqualTo(rootDir.resolve("sub/deeper/nested.bin").toRealPath());
        assertThat(root.path()).isEqualTo(rootDir.toRealPath());
    }

    @Test
    void aSymlinkToAFileInsideTheRootIsAllowed() throws Exception {
        Files.createSymbolicLink(rootDir.resolve("alias"), rootDir.resolve("sub/deeper/nested.bin"));
        Files.createSymbolicLink(rootDir.resolve("relative-alias"), Path.of("file.txt"));
        assertThat(realPath(root, "alias")).isEqualTo(rootDir.resolve("sub/deeper/nested.bin").toRealPath());
        assertThat(realPath(root, "relative-alias")).isEqualTo(rootDir.resolve("file.txt").toRealPath());
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "..", "a/../../x", "sub/../file.txt", "sub/deeper/../../../secret.txt",
        "/etc/passwd", "/", "sub\\file.txt", "..\\secret.txt", ""})
    void hostilePathsAreForbidden(String path) {
        assertRefused(path, Error.Code.FORBIDDEN_PATH, "'" + dev.biternet.server.security.UntrustedText.field(path) + "'");
    }

    @Test
    void aNulByteIsForbiddenAndTheMessageStaysPrintable() {
        RequestException e = assertRefused("file.txt\0.jpg", Error.Code.FORBIDDEN_PATH, "'file.txt\\u0000.jpg'");
        assertThat(rendered(e, "file.txt\0.jpg")).doesNotContain("\0");
    }

    @Test
    void aSymlinkLeadingOutsideTheRootIsForbidden() throws Exception {
        Files.createSymbolicLink(rootDir.resolve("escape"), outside);
        Files.createSymbolicLink(rootDir.resolve("escape-dir"), tmp);
        assertRefused("escape", Error.Code.FORBIDDEN_PATH, "'escape'");
        assertRefused("escape-dir/secret.txt", Error.Code.FORBIDDEN_PATH, "'escape-dir/secret.txt'");
    }

    @Test
    void aServedRootThatIsItselfASymlinkStillServesItsFiles() throws Exception {
        Path link = Files.createSymbolicLink(tmp.resolve("root-link"), rootDir);
        ServedRoot viaLink = new ServedRoot(link);
        assertThat(realPath(viaLink, "file.txt")).isEqualTo(rootDir.resolve("file.txt").toRealPath());
    }

    @Test
    void aDirectoryIsForbidden() {
        RequestException e = assertRefused("sub", Error.Code.FORBIDDEN_PATH, "'sub'");
        assertThat(e.getMessage()).contains("directory");
        assertRefused("sub/deeper", Error.Code.FORBIDDEN_PATH, "'sub/deeper'");
    }

    @Test
    void aFifoIsForbidden() throws Exception {
        Path fifo = rootDir.resolve("pipe");
        int exit = run("mkfifo", fifo.toString());
        assumeThat(exit).as("mkfifo is available").isZero();
        RequestException e = assertRefused("pipe", Error.Code.FORBIDDEN_PATH, "'pipe'");
        assertThat(e.getMessage()).contains("not a regular file");
    }

    /** A device is named with O_PATH, never opened (opening some has effects: a tape rewinds, a watchdog arms). */
    @Test
    void aDeviceIsForbidden() throws Exception {
        int exit = run("mknod", rootDir.resolve("null").toString(), "c", "1", "3");
        assumeThat(exit).as("mknod works here (root)").isZero();
        RequestException e = assertRefused("null", Error.Code.FORBIDDEN_PATH, "'null'");
        assertThat(e.getMessage()).contains("not a regular file");
    }

    @Test
    void aMissingFileIsNotFound() {
        assertRefused("nope.bin", Error.Code.NOT_FOUND, "nope.bin");
        assertRefused("sub/missing/deeper.bin", Error.Code.NOT_FOUND, "sub/missing/deeper.bin");
    }

    @Test
    void aDanglingSymlinkIsNotFound() throws Exception {
        Files.createSymbolicLink(rootDir.resolve("dangling"), rootDir.resolve("gone"));
        assertRefused("dangling", Error.Code.NOT_FOUND, "dangling");
    }

    @Test
    void aRootThatIsNotADirectoryIsRejected() {
        assertThatThrownBy(() -> new ServedRoot(rootDir.resolve("file.txt")))
                .isInstanceOf(IOException.class).hasMessageContaining("not a directory");
        assertThatThrownBy(() -> new ServedRoot(tmp.resolve("missing-root")))
                .isInstanceOf(IOException.class);
    }

    /**
     * A client-chosen name with a line break must not break the one-line error (it is logged and
     * sent back verbatim). FORBIDDEN_PATH messages sanitise the path; NOT_FOUND and IO_ERROR
     * messages do not.
     */
    @Test
    void aMissingFileWithALineBreakInItsNameStillGetsAOneLineMessage() {
        RequestException e = assertRefused("nope\nINFO: forged log line", Error.Code.NOT_FOUND, "nope\\nINFO");
        assertThat(rendered(e, "nope\nINFO: forged log line")).doesNotContain("\n");
    }

    /** Runs a command and returns its exit status (-1 if it is not installed). */
    private static int run(String... command) throws Exception {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("%s finishes", command[0]).isTrue();
            return p.exitValue();
        } catch (IOException notInstalled) {
            return -1;
        }
    }

    /** The real path of the file {@code path} opens (the file is closed again). */
    private static Path realPath(ServedRoot root, String path) throws RequestException {
        try (ServedFile f = root.open(path)) {
            return f.version().path();
        }
    }

    private static void open(ServedRoot root, String path) throws RequestException {
        root.open(path).close();
    }

    /** The refusal as the session registry sends and logs it (escaped, bounded, without the root). */
    private String rendered(RequestException e, String path) {
        return dev.biternet.server.security.UntrustedText.message(e.getMessage(), path, rootDir.toString());
    }

    private RequestException assertRefused(String path, Error.Code code, String namedAs) {
        RequestException e = org.junit.jupiter.api.Assertions.assertThrows(RequestException.class, () -> open(root, path),
                () -> "resolving '" + path + "' should be refused");
        assertThat(e.code()).as("code for '%s' (%s)", path, e.getMessage()).isEqualTo(code);
        assertThat(rendered(e, path)).as("message for '%s'", path)
                .contains(namedAs)
                .doesNotContain("\n", "\r");
        return e;
    }
}
