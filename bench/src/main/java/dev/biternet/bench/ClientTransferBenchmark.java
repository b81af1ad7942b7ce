package dev.biternet.bench;

import dev.biternet.client.Download;
import dev.biternet.client.DownloadResult;
import dev.biternet.client.Target;
import dev.biternet.server.BiternetServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Guards what a user runs: one invocation is a whole {@code biternet-get} download ({@link
 * Download}) of a 128 MiB file from the real server over loopback, over one link or three
 * (127.0.0.1, .2, .3): connecting, the session, every piece written at its offset and hashed
 * beside the event loop, the syncs and the rename (no {@code --verify-disk} read-back, as by
 * default). Invocations count as
 * 128 operations, so the score reads as <b>MiB/s</b>.
 *
 * <p>Guarded ratio: three links must not be slower than one. On loopback the client's per-link
 * work (hashing, writing) is the bottleneck, and three links spread it over the cores; the
 * minimal receiver of {@link TransferBenchmark}, which does none of that work, cannot show it.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 4, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
public class ClientTransferBenchmark extends BenchBase {
    static final int FILE_MIB = 128;
    private static final String FILE_NAME = "client-transfer.bin";

    @Param({"1", "3"})
    public int links;

    private Path dir;
    private Path out;
    private BiternetServer server;
    private Download.Request request;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        dir = Files.createTempDirectory("biternet-bench-client-");
        Path served = Files.createDirectories(dir.resolve("served"));
        TransferBenchmark.writeFile(served.resolve(FILE_NAME), (long) FILE_MIB << 20);
        server = BiternetServer.start(BiternetServer.Config.of(served, "127.0.0.1", 0));
        out = dir.resolve("out.bin");
        List<String> ifaces = links == 1 ? List.of("127.0.0.1") : List.of("127.0.0.1", "127.0.0.2", "127.0.0.3");
        request = new Download.Request(new Target("127.0.0.1", server.port(), FILE_NAME), out, ifaces, 10_000, false);
        DownloadResult first = download();
        if (first.bytes() != (long) FILE_MIB << 20 || Files.mismatch(served.resolve(FILE_NAME), out) != -1) {
            throw new IllegalStateException("setup download does not match the served file");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (server != null) {
            server.close();
        }
        if (dir != null) {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public DownloadResult download() throws Exception {
        return new Download(request, new PrintWriter(Writer.nullWriter())).run();
    }
}
