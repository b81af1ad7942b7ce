package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.store.OutputLock;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What biternet-get does with the files at and beside its output: one run per output, never a
 * rename over anything but a regular file, no following of links at its own paths, and errors
 * that name the file and the reason. Real server, real files, and a second real process where
 * locks are per process.
 */
class OutputFilesTest {
    @TempDir
    Path base;
    private Path root;
    private Path downloads;
    private Path source;
    private BiternetServer server;

    @BeforeEach
    void start() throws Exception {
        root = Files.createDirectories(base.resolve("root"));
        downloads = Files.createDirectories(base.resolve("downloads"));
        source = randomFile(root, "f.bin", 32L << 20, 51);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private String url(String path) {
        return "biternet://127.0.0.1:" + server.port() + "/" + path;
    }

    /** A download slow enough (about 4 s) for something to happen meanwhile. */
    private CompletableFuture<Fixtures.Run> slowGet(Path out) {
        return CompletableFuture.supplyAsync(() -> get("-q", "--iface", "127.0.0.1:rate=8M", "-o", out.toString(),
                url("f.bin")));
    }

    private static void assertOneLine(Fixtures.Run r, int code, String... parts) {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(code);
        assertThat(r.err().strip()).doesNotContain("\n").doesNotContain("Exception").contains(parts);
    }

    @Test
    void aSecondRunOnTheSameOutputIsRefusedAndTheFirstRunsFileIsRight() throws Exception {
        Path out = downloads.resolve("f.bin");
        Process first = new ProcessBuilder(Prerequisites.clientCommand("-q", "--iface", "127.0.0.1:rate=8M", "-o",
                out.toString(), url("f.bin"))).redirectErrorStream(true).redirectOutput(base.resolve("first.log").toFile())
                .start();
        try {
            Fixtures.awaitLogged(out, 8, first::isAlive);
            long partBytes = Files.size(Path.of(out + ".part"));

            Fixtures.Run second = get("-q", "-o", out.toString(), url("f.bin"));

            assertOneLine(second, ExitCodes.BUSY, "biternet-get: " + out + " is being downloaded by another biternet-get"
                    + " (pid " + first.pid() + ")");
            assertThat(Files.size(Path.of(out + ".part"))).as("the part file was not truncated").isGreaterThanOrEqualTo(partBytes);
            assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(first.exitValue()).as(Files.readString(base.resolve("first.log"))).isZero();
            assertSameBytes(source, out);
            assertThat(OutputLock.pathFor(out)).as("the lock file goes with the run").doesNotExist();
        } finally {
            first.destroyForcibly();
        }
    }

    @Test
    void aPartFileReplacedDuringTheDownloadIsNotRenamedIntoPlace() throws Exception {
        Path out = downloads.resolve("f.bin");
        CompletableFuture<Fixtures.Run> run = slowGet(out);
        Fixtures.awaitLogged(out, 8, () -> !run.isDone());
        Path other = Files.write(downloads.resolve("other"), new byte[1000]);
        Files.move(other, Path.of(out + ".part"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

        Fixtures.Run r = run.get(60, TimeUnit.SECONDS);

        assertOneLine(r, ExitCodes.LOCAL_IO, out + ".part is no longer the file this download wrote");
        assertThat(out).doesNotExist();
    }

    @Test
    void anOutputThatBecomesADirectoryIsNotReplacedAndTheLineSaysWhy() throws Exception {
        Path out = downloads.resolve("f.bin");
        CompletableFuture<Fixtures.Run> run = slowGet(out);
        Fixtures.awaitLogged(out, 8, () -> !run.isDone());
        Files.createDirectory(out);

        Fixtures.Run r = run.get(60, TimeUnit.SECONDS);

        assertOneLine(r, ExitCodes.LOCAL_IO, out + " is a directory, not a regular file; " + out + ".part is kept");
        assertThat(out).isDirectory();
        assertThat(Path.of(out + ".part")).isRegularFile();
    }

    @Test
    void anOutputThatIsADeviceIsRefusedBeforeAnythingIsDownloaded() throws Exception {
        Prerequisites.require(Prerequisites.root(), "needs root to make a device node (mknod)");
        Path dev = downloads.resolve("null-copy");
        Prerequisites.Exec made = Prerequisites.exec(List.of("mknod", dev.toString(), "c", "1", "3"));
        assertThat(made.code()).as(made.out()).isZero();

        Fixtures.Run r = get("-o", dev.toString(), url("f.bin"));

        assertOneLine(r, ExitCodes.USAGE, "biternet-get: " + dev + " is a character device, not a regular file;"
                + " -o must name a regular file, a new file or a directory");
        assertThat((Integer) Files.getAttribute(dev, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000)
                .as("still a character device").isEqualTo(0020000);
        assertThat(Files.list(downloads).map(p -> p.getFileName().toString())).containsExactly("null-copy");
    }

    @Test
    void anOutputThatIsAFifoOrALinkIsRefused() throws Exception {
        Path fifo = downloads.resolve("fifo");
        assertThat(Prerequisites.exec(List.of("mkfifo", fifo.toString())).code()).isZero();
        Path victim = Files.writeString(base.resolve("victim"), "keep me");
        Path link = Files.createSymbolicLink(downloads.resolve("link"), victim);

        assertOneLine(get("-o", fifo.toString(), url("f.bin")), ExitCodes.USAGE, fifo + " is a FIFO, not a regular file");
        assertOneLine(get("-o", link.toString(), url("f.bin")), ExitCodes.USAGE, link + " is a symbolic link, not a regular file");
        assertThat(Files.readString(victim)).isEqualTo("keep me");
        assertThat(Files.isSymbolicLink(link)).isTrue();
    }

    @Test
    void linksAtTheClientsOwnPathsAreNotFollowed() throws Exception {
        Path out = downloads.resolve("f.bin");
        Path victim = Files.writeString(base.resolve("victim"), "keep me");
        for (String suffix : List.of(".part", ".part.state", ".part.state.tmp", ".part.lock")) {
            Path link = Files.createSymbolicLink(Path.of(out + suffix), victim);

            Fixtures.Run r = get("-q", "-o", out.toString(), url("f.bin"));

            assertOneLine(r, ExitCodes.LOCAL_IO, link + " is a symbolic link, not a regular file");
            assertThat(Files.readString(victim)).as("the link's target after %s", suffix).isEqualTo("keep me");
            assertThat(out).doesNotExist();
            Files.delete(link);
        }
        // A hard link is another name of the victim itself: the lock file is written into, so it is refused too.
        Path hard = Files.createLink(Path.of(out + ".part.lock"), victim);
        assertOneLine(get("-q", "-o", out.toString(), url("f.bin")), ExitCodes.LOCAL_IO, hard + " has 2 names (hard links)");
        assertThat(Files.readString(victim)).isEqualTo("keep me");
    }

    @Test
    void anOutputDirectoryGetsTheFileUnderItsName() throws Exception {
        Fixtures.Run r = get("-q", "-o", downloads.toString(), url("f.bin"));

        assertThat(r.exitCode()).as(r.err()).isZero();
        assertSameBytes(source, downloads.resolve("f.bin"));
    }

    @Test
    void aUrlWithoutAFileNameIsAUsageError() {
        Fixtures.Run r = get("-o", downloads.resolve("x").toString(), url("dir/"));

        assertThat(r.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(r.err()).contains("no file name in " + url("dir/") + " (it ends in /; name a file)");
    }

    @Test
    void anOutputInAMissingDirectoryNamesItAndTheReason() {
        Path out = downloads.resolve("nowhere").resolve("f.bin");

        assertOneLine(get("-o", out.toString(), url("f.bin")), ExitCodes.USAGE,
                "biternet-get: cannot write " + out + ": " + out.getParent() + ": No such file or directory");
    }

    @Test
    void aDiscardedResumeStateSaysWhyInOneLine() throws Exception {
        Path out = downloads.resolve("f.bin");
        Files.writeString(ResumeLog.pathFor(out), "not a state file");
        Fixtures.Run damaged = get("-q", "-o", out.toString(), url("f.bin"));
        assertThat(damaged.exitCode()).as(damaged.err()).isZero();
        assertThat(damaged.err().strip()).isEqualTo("biternet-get: warning: " + ResumeLog.pathFor(out) + " is damaged"
                + " (not a state this client wrote, or cut short); the download starts over");
        assertSameBytes(source, out);

        ResumeLog.create(out, new ResumeLog.Identity("other.bin", 1 << 20, 65536, 1)).close();
        Fixtures.Run other = get("-q", "-o", out.toString(), url("f.bin"));
        assertThat(other.err().strip()).isEqualTo("biternet-get: warning: " + ResumeLog.pathFor(out) + " belongs to a"
                + " download of other.bin, not f.bin; the download starts over");

        try (ResumeLog log = ResumeLog.create(out, new ResumeLog.Identity("f.bin", 32L << 20, 65536, 1))) {
            log.append(List.of(new ResumeLog.Entry(0, new byte[32]), new ResumeLog.Entry(1, new byte[32])));
        }
        Files.write(Path.of(out + ".part"), new byte[200_000]);
        Fixtures.Run stale = get("-q", "-o", out.toString(), url("f.bin"));
        assertThat(stale.exitCode()).as(stale.err()).isZero();
        assertThat(stale.err().strip()).isEqualTo("biternet-get: warning: none of the 2 pieces " + ResumeLog.pathFor(out)
                + " names is intact in " + out + ".part (changed or truncated since); the download starts over");
        assertSameBytes(source, out);
    }
}
