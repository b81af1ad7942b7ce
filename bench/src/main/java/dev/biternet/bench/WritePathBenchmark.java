package dev.biternet.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The client's write path for received piece bytes: 64 MiB written as 64 KiB runs (what a
 * socket read delivers) at their file offsets. One invocation writes the whole 64 MiB, so the
 * score reads as <b>MiB/s</b>. Variants, compared in one run:
 * <ul>
 *   <li>{@code directPositional}: what the client does, {@code FileChannel.write(direct, pos)}
 *       from Netty's direct receive buffers: one copy, user to page cache;</li>
 *   <li>{@code heapPositional}: the same from heap buffers: the JDK first copies into a
 *       temporary direct buffer, so one more copy;</li>
 *   <li>{@code mapped}: the output file mapped once, runs copied in with {@code put}: no
 *       write syscall, but page faults and a copy; the zero-syscall alternative.</li>
 * </ul>
 * The file lives on tmpfs (/dev/shm) when there is one, so the disk stays out of it.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
public class WritePathBenchmark extends BenchBase {
    private static final int FILE_MIB = 64;
    private static final int RUN = 64 << 10;
    private static final long SIZE = (long) FILE_MIB << 20;

    private Path dir;
    private FileChannel channel;
    private MappedByteBuffer mapped;
    private ByteBuffer direct;
    private ByteBuffer heap;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path shm = Path.of("/dev/shm");
        dir = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "biternet-bench-write-")
                : Files.createTempDirectory("biternet-bench-write-");
        channel = FileChannel.open(dir.resolve("out.bin"), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        channel.truncate(0);
        channel.write(ByteBuffer.allocate(1), SIZE - 1);
        mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
        byte[] bytes = new byte[RUN];
        new SplittableRandom(3).nextBytes(bytes);
        direct = ByteBuffer.allocateDirect(RUN).put(bytes).flip();
        heap = ByteBuffer.wrap(bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        channel.close();
        Files.deleteIfExists(dir.resolve("out.bin"));
        Files.deleteIfExists(dir);
    }

    private void writeAll(ByteBuffer src) throws IOException {
        for (long pos = 0; pos < SIZE; pos += RUN) {
            ByteBuffer b = src.duplicate();
            long at = pos;
            while (b.hasRemaining()) {
                at += channel.write(b, at);
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void directPositional() throws IOException {
        writeAll(direct);
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void heapPositional() throws IOException {
        writeAll(heap);
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void mapped() {
        for (int pos = 0; pos < SIZE; pos += RUN) {
            mapped.put(pos, direct, 0, RUN);
        }
    }
}
