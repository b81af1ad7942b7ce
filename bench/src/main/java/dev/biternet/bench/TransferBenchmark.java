package dev.biternet.bench;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;
import java.util.SplittableRandom;
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
 * Guards the server's send path end to end over loopback: one invocation downloads a whole
 * 256 MiB file from the real server pipeline ({@link LoopbackServer}) with a minimal receiver
 * ({@link LoopbackClient}). Invocations count as 256 operations, so the score, in ops/s, reads
 * as <b>MiB/s</b>.
 *
 * <p>Included in one invocation: connecting every link, {@code Hello}, {@code OpenSession} (the
 * server opens the file and finds its piece hashes cached), {@code Attach}, all 1,024 pieces of
 * 256 KiB as 2,048 blocks of 128 KiB (header frame plus body) through the real
 * {@code PiecePusher} and allocator, one {@code Ack} per piece, and closing the links. Not
 * included: hashing on the client, writing the output file (the receiver discards the bytes),
 * server-side hashing (done once in the setup, then cached as on a real server) and disk reads
 * (the file is in the page cache).
 *
 * <p>Parameters, compared within one run:
 * <ul>
 *   <li>{@code path}: {@code fileRegion}, the real path (a {@code FileRegion}, sendfile on epoll
 *       and NIO, splice on io_uring), against {@code heapCopy}, the same pipeline with each block
 *       read into a heap buffer and written as that ({@link LoopbackServer.HeapCopyStage});</li>
 *   <li>{@code links}: 1 or 3 channels, bound to 127.0.0.1, .2 and .3;</li>
 *   <li>{@code transport}: epoll, io_uring, NIO, the same on both sides.</li>
 * </ul>
 * Client and server share the machine's cores, so the score is what loopback delivers with
 * both ends on one box: a sender that costs more CPU shows up directly.
 *
 * <p>Warmup is 5 iterations, not the base's 3: on 2 cores the sendfile path kept speeding up
 * for about 4 s (1.1 to 3.0 GiB/s) while the JIT compiled the event loops' paths.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
public class TransferBenchmark extends BenchBase {
    static final int FILE_MIB = 256;
    private static final String FILE_NAME = "transfer.bin";

    @Param({"epoll", "io_uring", "nio"})
    public String transport;

    @Param({"fileRegion", "heapCopy"})
    public String path;

    @Param({"1", "3"})
    public int links;

    private Path dir;
    private LoopbackServer server;
    private EventLoopGroup clientGroup;
    private Transport chosen;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        chosen = Transport.valueOf(transport.toUpperCase(Locale.ROOT));
        dir = Files.createTempDirectory("biternet-bench-");
        Path file = dir.resolve(FILE_NAME);
        writeFile(file, (long) FILE_MIB << 20);
        server = new LoopbackServer(dir, chosen, "heapCopy".equals(path) ? file : null);
        clientGroup = chosen.newGroup(links);
        // One checked download: the server hashes the file (then caches the hashes), the page
        // cache is warm, and the bytes this variant sends are the file's bytes.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedByteBuffer expected = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
            long got = LoopbackClient.download(chosen, clientGroup, server.address(), links, FILE_NAME, expected);
            if (got < ch.size()) {
                throw new IllegalStateException("setup download received " + got + " of " + ch.size() + " bytes");
            }
        }
    }

    /** Distinct pseudo-random 1 MiB blocks, so no two pieces are alike. */
    static void writeFile(Path file, long size) throws IOException {
        SplittableRandom random = new SplittableRandom(42);
        ByteBuffer block = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long at = 0; at < size; at += block.capacity()) {
                block.clear();
                while (block.hasRemaining()) {
                    block.putLong(random.nextLong());
                }
                block.flip();
                while (block.hasRemaining()) {
                    out.write(block);
                }
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        if (clientGroup != null) {
            clientGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (server != null) {
            server.close();
        }
        if (dir != null) {
            Files.deleteIfExists(dir.resolve(FILE_NAME));
            Files.deleteIfExists(dir);
        }
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public long download() throws Exception {
        return LoopbackClient.download(chosen, clientGroup, server.address(), links, FILE_NAME, null);
    }
}
