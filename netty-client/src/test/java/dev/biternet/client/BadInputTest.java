package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user sees for requests that cannot work: one clear line, the documented exit code,
 * no output file, and a server that goes on serving everyone else.
 */
class BadInputTest {
    @TempDir
    Path base;
    private Path root;
    private Path downloads;
    private Path good;
    private BiternetServer server;

    @BeforeEach
    void start() throws Exception {
        root = Files.createDirectories(base.resolve("root"));
        downloads = Files.createDirectories(base.resolve("downloads"));
        Files.writeString(base.resolve("secret.txt"), "outside the root");
        Files.createSymbolicLink(root.resolve("escape"), base.resolve("secret.txt"));
        Files.createDirectories(root.resolve("dir"));
        good = randomFile(root, "good.bin", 2 << 20, 5);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private String url(String path) {
        return "biternet://127.0.0.1:" + server.port() + "/" + path;
    }

    private void assertRefused(String path, String expectedMessage) throws Exception {
        Path out = downloads.resolve("out");
        Fixtures.Run run = get("-o", out.toString(), url(path));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
        assertThat(run.err().strip()).doesNotContain("\n").contains(expectedMessage);
        assertThat(run.err()).doesNotContain("Exception");
        assertThat(out).doesNotExist();
        assertServerStillServes();
    }

    private void assertServerStillServes() throws Exception {
        Path out = downloads.resolve("good.bin");
        Files.deleteIfExists(out);
        Fixtures.Run run = get("-o", out.toString(), url("good.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertSameBytes(good, out);
    }

    @Test
    void parentTraversalIsRefused() throws Exception {
        assertRefused("../secret.txt", "path leaves the served root");
    }

    @Test
    void encodedAbsolutePathIsRefused() throws Exception {
        assertRefused("%2Fetc%2Fpasswd", "paths must be relative");
    }

    @Test
    void symlinkOutOfTheRootIsRefused() throws Exception {
        assertRefused("escape", "a link leads outside the served root");
    }

    @Test
    void directoryIsRefused() throws Exception {
        assertRefused("dir", "is a directory");
    }

    @Test
    void missingFileIsReported() throws Exception {
        assertRefused("nothing-here.bin", "no such file: nothing-here.bin");
    }

    @Test
    void unknownInterfaceIsNamed() throws Exception {
        Fixtures.Run run = get("--iface", "nosuchif0", "-o", downloads.resolve("x").toString(), url("good.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err().strip()).isEqualTo("biternet-get: --iface nosuchif0: no such network interface (see 'ip link')");
        assertServerStillServes();
    }

    /** A missing interface next to a usable link is a warning: the link waits for it, the others download. */
    @Test
    void aMissingInterfaceBesideAUsableLinkWaitsForIt() throws Exception {
        Path out = downloads.resolve("x");
        Fixtures.Run run = get("--iface", "127.0.0.1", "--iface", "nosuchif0", "-o", out.toString(), url("good.bin"));
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.err()).contains("biternet-get: warning: --iface nosuchif0: no such network interface (see 'ip link');"
                + " the link joins when it is up with an address");
        assertThat(Files.mismatch(out, root.resolve("good.bin"))).isEqualTo(-1);
    }

    @Test
    void addressNotOnThisMachineIsNamed() throws Exception {
        // 198.18.0.0/15 is the benchmarking range; no interface here has this address.
        Fixtures.Run run = get("--iface", "198.18.255.254", "-o", downloads.resolve("x").toString(), url("good.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(run.err()).contains("--iface 198.18.255.254").contains("cannot connect");
        assertThat(run.err().strip()).doesNotContain("\n");
    }

    @Test
    void wrongFamilyAddressIsNamed() throws Exception {
        Fixtures.Run run = get("--iface", "::1", "-o", downloads.resolve("x").toString(), url("good.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("--iface ::1 is an IPv6 address but the server 127.0.0.1 is IPv4");
    }

    @Test
    void nothingListeningIsANetworkError() throws Exception {
        server.close();
        Fixtures.Run run = get("-o", downloads.resolve("x").toString(), url("good.bin"));
        assertThat(run.exitCode()).isEqualTo(ExitCodes.NETWORK);
        assertThat(run.err()).contains("cannot connect to 127.0.0.1:" + server.port());
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
    }

    @Test
    void badUrlIsAUsageError() {
        Fixtures.Run run = get("ftp://example/x");
        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("not a biternet URL");
    }
}
