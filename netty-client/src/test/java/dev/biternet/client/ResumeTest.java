package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.server.BiternetServer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A biternet-get process killed with SIGKILL half-way and run again: the second run fetches
 * only what the first had not made durable, and the file is byte-identical. The first run is a
 * real child process (so the kill is a real one), over rate-limited loopback links.
 */
class ResumeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long SIZE = 64L << 20;

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private BiternetServer server;
    private Process child;

    @AfterEach
    void stop() {
        if (child != null) {
            child.destroyForcibly();
        }
        if (server != null) {
            server.close();
        }
    }

    @Test
    void killedHalfWayThenRerunFetchesOnlyWhatWasMissing() throws Exception {
        Path source = randomFile(root, "big.bin", SIZE, 11);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("big.bin");
        String url = "biternet://127.0.0.1:" + server.port() + "/big.bin";
        PieceLayout layout = PieceLayout.forFile(SIZE);

        child = getProcess("--iface", "127.0.0.1:rate=8M", "--iface", "127.0.0.2:rate=8M", "-o", out.toString(), url);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (loggedPieces(out) < layout.pieceCount() * 2 / 5) {
            assertThat(child.isAlive()).as("the first run is still downloading").isTrue();
            assertThat(System.nanoTime()).as("40 %% of the file logged within 60 s").isLessThan(deadline);
            Thread.sleep(20);
        }
        // About half-way, at a moment unrelated to the checkpoints.
        Thread.sleep(330);
        child.destroyForcibly(); // SIGKILL: no shutdown hook, no final checkpoint
        assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(out).doesNotExist();

        // What the killed run really left on disk, judged against the source, not the log.
        List<Integer> intact = intactPieces(source, out.resolveSibling("big.bin.part"), layout);
        Map<Integer, byte[]> logged = ResumeLog.read(out).orElseThrow().pieces();
        assertThat(intact).as("every piece the state file claims is on disk").containsAll(logged.keySet());
        assertThat(logged.size()).as("pieces logged").isGreaterThanOrEqualTo(layout.pieceCount() * 2 / 5);
        long missing = SIZE - intact.stream().mapToLong(layout::length).sum();

        Fixtures.Run rerun = get("--json", "--iface", "127.0.0.1:rate=8M", "--iface", "127.0.0.2:rate=8M",
                "-o", out.toString(), url);

        assertThat(rerun.exitCode()).as(rerun.err()).isZero();
        assertSameBytes(source, out);
        JsonNode summary = JSON.readTree(rerun.out());
        long received = summary.get("received_bytes").asLong();
        System.out.printf("resume after SIGKILL: %d of %d pieces intact, %d logged; rerun received %d bytes for %d"
                        + " missing (%.2f %% of the file beyond what was missing)%n", intact.size(), layout.pieceCount(),
                logged.size(), received, missing, 100.0 * (received - missing) / SIZE);
        assertThat(received).as("bytes fetched again beyond what was missing, at most 2 %% of the file")
                .isLessThanOrEqualTo(missing + SIZE / 50);
        assertThat(summary.get("resumed_pieces").asInt()).isEqualTo(logged.size());
        assertThat(rerun.err()).contains("resuming");
        assertThat(ResumeLog.pathFor(out)).as("the state file goes with the part file").doesNotExist();
        assertThat(out.resolveSibling("big.bin.part")).doesNotExist();
    }

    @Test
    void aPieceDamagedOnDiskAfterTheRunIsFetchedAgain() throws Exception {
        Path source = randomFile(root, "f.bin", 8L << 20, 12);
        server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        Path out = downloads.resolve("f.bin");
        String url = "biternet://127.0.0.1:" + server.port() + "/f.bin";
        PieceLayout layout = PieceLayout.forFile(8L << 20);

        child = getProcess("--iface", "127.0.0.1:rate=2M", "-o", out.toString(), url);
        while (loggedPieces(out) < 8) {
            assertThat(child.isAlive()).isTrue();
            Thread.sleep(20);
        }
        child.destroyForcibly();
        child.waitFor(10, TimeUnit.SECONDS);
        Map<Integer, byte[]> logged = ResumeLog.read(out).orElseThrow().pieces();
        int victim = logged.keySet().iterator().next();
        try (FileChannel c = FileChannel.open(out.resolveSibling("f.bin.part"), StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(new byte[] {1, 2, 3}), layout.offset(victim) + 100);
        }

        Fixtures.Run rerun = get("--json", "-o", out.toString(), url);

        assertThat(rerun.exitCode()).as(rerun.err()).isZero();
        assertSameBytes(source, out);
        assertThat(JSON.readTree(rerun.out()).get("resumed_pieces").asInt())
                .as("pieces taken over: all logged but the damaged one").isEqualTo(logged.size() - 1);
    }

    private Process getProcess(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), GetCommand.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(downloads.resolve("child.log").toFile()).start();
    }

    private static int loggedPieces(Path out) throws IOException {
        try {
            return ResumeLog.read(out).map(c -> c.pieces().size()).orElse(0);
        } catch (java.nio.file.NoSuchFileException e) {
            return 0;
        }
    }

    static List<Integer> intactPieces(Path source, Path part, PieceLayout layout) throws IOException {
        List<Integer> intact = new ArrayList<>();
        try (FileChannel a = FileChannel.open(source); FileChannel b = FileChannel.open(part)) {
            ByteBuffer x = ByteBuffer.allocate(layout.pieceSize());
            ByteBuffer y = ByteBuffer.allocate(layout.pieceSize());
            for (int i = 0; i < layout.pieceCount(); i++) {
                x.clear().limit(layout.length(i));
                y.clear().limit(layout.length(i));
                a.read(x, layout.offset(i));
                b.read(y, layout.offset(i));
                if (!y.hasRemaining() && x.flip().equals(y.flip())) {
                    intact.add(i);
                }
            }
        }
        return intact;
    }
}
