package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Envelope;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.ServeCommand;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real biternet-serve process with a tiny heap, its budgets lifted so that sessions fill it:
 * out of memory it must exit (for its supervisor to restart it) with one line saying so, not
 * linger with dead event loops. Started without -XX:+ExitOnOutOfMemoryError, as a JVM someone
 * launched by hand would be: the process's own handling is what is tested.
 */
@Timeout(30)
class FloodOutOfMemoryTest {
    private static final Pattern PORT = Pattern.compile(" port (\\d+) ");

    @TempDir
    Path root;
    @TempDir
    Path logs;

    @Test
    void aServerOutOfMemoryExitsWithOneLine() throws Exception {
        try (RandomAccessFile sparse = new RandomAccessFile(root.resolve("huge.bin").toFile(), "rw")) {
            sparse.setLength(2L << 30); // 131,072 pieces of 16 KiB: 128 KiB of piece state a session
        }
        Path stderr = logs.resolve("stderr.txt");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx48m",
                "-cp", System.getProperty("java.class.path"), ServeCommand.class.getName(),
                "--root", root.toString(), "--host", "127.0.0.1", "--port", "0", "--piece-size", "16384",
                "--max-sessions-per-address", "100000", "--max-sessions", "100000", "--session-memory", "1000000");
        Process server = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
            String first = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (IOException e) {
                    return null;
                }
            }).get(15, TimeUnit.SECONDS);
            Matcher m = PORT.matcher(String.valueOf(first));
            assertThat(m.find()).as("first line %s, stderr %s", first, Files.readString(stderr)).isTrue();

            long deadline = System.nanoTime() + 10_000_000_000L;
            int opened = 0;
            try (WireClient c = new WireClient(new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1))))) {
                c.hello();
                while (System.nanoTime() < deadline) {
                    c.open("huge.bin");
                    if (((Envelope) c.read()).hasSessionOpened()) {
                        opened++;
                    }
                }
            } catch (IOException | AssertionError gone) {
                // the server went away mid-request: what this test waits for
            }

            assertThat(server.waitFor(10, TimeUnit.SECONDS))
                    .as("server exited after %d sessions; stderr:%n%s", opened, Files.readString(stderr)).isTrue();
            assertThat(server.exitValue()).isEqualTo(3);
            List<String> lines = Files.readAllLines(stderr);
            assertThat(lines).filteredOn(l -> l.contains("out of memory")).hasSize(1);
            // "(Java heap space)" mostly; an error the JVM throws without a message names its class
            assertThat(lines.get(lines.size() - 1)).startsWith("biternet-serve: out of memory (")
                    .contains("exiting so that a supervisor restarts it");
        } finally {
            server.destroyForcibly();
            server.waitFor(5, TimeUnit.SECONDS);
        }
    }
}
