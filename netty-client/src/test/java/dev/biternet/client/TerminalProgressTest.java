package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.server.BiternetServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The live progress on a real terminal: biternet-get runs in a tmux pane against a real server
 * over three loopback links (rate-limited, so the download lasts a few seconds), and the pane is
 * read while it runs and after it ends. Needs tmux (Debian package {@code tmux}).
 */
class TerminalProgressTest {
    private static final long SIZE = 24_000_000;

    @TempDir
    Path dir;
    private BiternetServer server;

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (Files.exists(dir.resolve("tmux.sock"))) {
            tmux("kill-server");
        }
    }

    @Test
    void threeLinksRedrawnInPlaceThenTheSummary() throws Exception {
        Prerequisites.require(Prerequisites.onPath("tmux"), "tmux is not installed (apt-get install tmux)");
        Path root = Files.createDirectories(dir.resolve("served"));
        Path source = Fixtures.randomFile(root, "f.bin", SIZE, 7);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = dir.resolve("f.bin");
        List<String> cmd = Prerequisites.clientCommand("--iface", "127.0.0.1:rate=4M", "--iface", "127.0.0.2:rate=2M",
                "--iface", "127.0.0.3:rate=2M,cap=10M", "-o", out.toString(),
                "biternet://127.0.0.1:" + server.port() + "/f.bin");
        Path script = dir.resolve("run.sh");
        Files.writeString(script, cmd.stream().map(TerminalProgressTest::quote).collect(Collectors.joining(" "))
                + "\necho \"biternet-get exited with $?\"\nexec sleep 600\n");
        tmux("new-session", "-d", "-x", "200", "-y", "30", "bash " + script);

        // A screen from the middle of the download (30-99 % verified), every link up.
        String running = awaitScreen(s -> s.lines().anyMatch(l -> l.matches("total +[3-9]\\d\\.\\d% .* ETA \\d+:\\d\\d .*"))
                && s.lines().filter(l -> l.matches("127\\.0\\.0\\.\\d .* up .*")).count() == 3);
        String done = awaitScreen(s -> s.contains("biternet-get exited with"));

        // The --iface options are typed in SI units: sizes and rates shown in kB, MB, three significant digits.
        String size = "\\d[\\d.]{1,3} [kM]B";
        assertThat(running.lines()).anySatisfy(l -> assertThat(l).matches(
                "127\\.0\\.0\\.1 +127\\.0\\.0\\.1 +up +" + size + "/s +\\d+ ms +" + size + " +\\d+\\.\\d% +rate limit 4\\.00 MB/s"));
        assertThat(running.lines()).anySatisfy(l -> assertThat(l).matches(
                "127\\.0\\.0\\.3 +127\\.0\\.0\\.3 +up .* cap \\d+% of 10\\.0 MB, rate limit 2\\.00 MB/s"));
        assertThat(running.lines()).anySatisfy(l -> assertThat(l).matches(
                "total +\\d+\\.\\d% +" + size + "/s +ETA \\d+:\\d\\d +" + size + " of 24\\.0 MB verified"));

        List<String> lines = done.lines().toList();
        assertThat(lines).as(done).contains("biternet-get exited with 0");
        // Redrawn in place: the header is on the screen once, not once per redraw.
        assertThat(lines.stream().filter(l -> l.startsWith("link ")).count()).as(done).isEqualTo(1);
        for (String address : List.of("127.0.0.1", "127.0.0.2", "127.0.0.3")) {
            assertThat(lines).as(done).anySatisfy(l -> assertThat(l).startsWith(address).contains(" done "));
        }
        assertThat(lines).as(done).contains("total  100.0%  24.0 MB verified");
        assertThat(lines).as(done).anySatisfy(l -> assertThat(l).startsWith(out + ": " + SIZE + " bytes (24.0 MB) in ")
                .endsWith("pieces verified, sha256 " + Fixtures.sha256(source)));
        // For docs/progress-screen.txt.
        Files.writeString(Path.of("target", "progress-screen.txt"), "while running:\n" + forDocs(running)
                + "\nat the end:\n" + forDocs(done));
    }

    private String forDocs(String screen) {
        return screen.lines().map(String::stripTrailing).collect(Collectors.joining("\n")).strip()
                .replace(dir.toString(), "/tmp/demo") + "\n";
    }

    /** Reads the pane until it shows what is wanted; a bound (not a timing assertion) keeps a broken run from hanging. */
    private String awaitScreen(Predicate<String> wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        String screen = "";
        while (System.nanoTime() < deadline) {
            screen = tmux("capture-pane", "-p");
            if (wanted.test(screen)) {
                return screen;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the pane never showed what was expected; last screen:\n" + screen);
    }

    private String tmux(String... args) throws IOException {
        // A tmux server of its own, its socket in the test's directory (removed with it).
        List<String> cmd = new ArrayList<>(List.of("tmux", "-S", dir.resolve("tmux.sock").toString()));
        cmd.addAll(List.of(args));
        return Prerequisites.exec(cmd).out();
    }

    private static String quote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
