package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.biternet.server.BiternetServer;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client's resident memory stays under its bound: bin/biternet-get, with its JVM options
 * (on the classes under test), downloads 1 GiB (1 MiB pieces) over eight loopback links at
 * once, and the process's peak resident set ({@code VmHWM}) is read from /proc while it runs.
 * The 16 GiB measurement is bench/memory.sh; the bound and the numbers are in docs/DESIGN.md.
 */
class MemoryBoundTest {
    /** The peak a download may reach, KiB (150 MB, the goal; measured ~125 MiB here). */
    static final long BOUND_KIB = 150_000_000 / 1024;
    private static final int LINKS = 8;

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private BiternetServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void eightLinksDownloadingAGibibyteStayUnderTheBound() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "needs /proc");
        try (RandomAccessFile f = new RandomAccessFile(root.resolve("g.bin").toFile(), "rw")) {
            f.setLength(1L << 30); // sparse: the server reads zeros without touching the disk
        }
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("g.bin");
        List<String> cmd = new ArrayList<>(List.of(Path.of("..", "bin", "biternet-get").toString()));
        for (int i = 1; i <= LINKS; i++) {
            cmd.add("--iface");
            cmd.add("127.0.0." + i);
        }
        cmd.add("-o");
        cmd.add(out.toString());
        cmd.add("biternet://127.0.0.1:" + server.port() + "/g.bin");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(downloads.resolve("get.log").toFile());
        // The launcher with its JVM options, on the classes under test; it execs java, so the
        // process is the JVM.
        pb.environment().put("BITERNET_TEST_CLASSPATH",
                System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        pb.environment().remove("BITERNET_JAVA_OPTS");
        pb.environment().remove("BITERNET_JIT");
        Process p = pb.start();
        long peakKib = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!p.waitFor(10, TimeUnit.MILLISECONDS)) {
            peakKib = Math.max(peakKib, highWaterKib(p.pid()));
            if (System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new AssertionError("the download did not finish in 120 s");
            }
        }
        String log = Files.readString(downloads.resolve("get.log"));
        assertThat(p.exitValue()).as(log).isZero();
        assertThat(Files.size(out)).isEqualTo(1L << 30);
        assertThat(peakKib).as("peak resident set, KiB").isPositive().isLessThanOrEqualTo(BOUND_KIB);
    }

    /** VmHWM of a running process, KiB (0 once it is gone). */
    private static long highWaterKib(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (Exception e) {
            // exited between the check and the read
        }
        return 0;
    }
}
