package dev.biternet.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * How the client's whole pieces reach the disk: one invocation writes a new 256 MiB file on the
 * real disk (the system temp dir, or {@code -Dbench.diskDir}) as whole pieces at their offsets,
 * makes it durable ({@code fdatasync}) and deletes it, as a download does, so every invocation
 * meets freshly allocated blocks and, through the page cache, freshly allocated pages. The
 * score reads as <b>ms per MiB</b> of wall time (lower is better); with {@code -prof 'perfnorm:events=task-clock'} JMH also gives
 * the CPU per MiB, which is what a download on two cores feels.
 * <ul>
 *   <li>{@code pageCache}: positional writes from a direct buffer through the page cache (the
 *       client until this benchmark), then {@code fdatasync} writes them back;</li>
 *   <li>{@code directIo}: the same pieces from an aligned buffer through a channel opened with
 *       {@code O_DIRECT} (what {@code PieceStore.writePiece} does now): no page-cache pages, the
 *       disk reads the buffer itself.</li>
 * </ul>
 * Not in the guard: it depends on the disk and on the VM's memory, not on biternet's code.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, batchSize = 1)
@Measurement(iterations = 6, batchSize = 1)
@State(Scope.Benchmark)
public class DiskWriteBenchmark extends BenchBase {
    private static final int FILE_MIB = 256;
    private static final long SIZE = (long) FILE_MIB << 20;

    @Param({"256", "1024"})
    public int pieceKiB;

    private Path dir;
    private ByteBuffer piece;
    private int alignment;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Path base = Path.of(System.getProperty("bench.diskDir", System.getProperty("java.io.tmpdir")));
        dir = Files.createTempDirectory(base, "biternet-bench-disk-");
        alignment = (int) Math.max(512, Files.getFileStore(dir).getBlockSize());
        int size = pieceKiB << 10;
        byte[] bytes = new byte[size];
        new SplittableRandom(5).nextBytes(bytes);
        piece = ByteBuffer.allocateDirect(size + alignment).alignedSlice(alignment);
        piece.put(bytes).flip();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        Files.deleteIfExists(dir.resolve("out.bin"));
        Files.deleteIfExists(dir);
    }

    private void writeFile(boolean direct) throws IOException {
        Path out = dir.resolve("out.bin");
        Files.deleteIfExists(out);
        try (FileChannel c = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             FileChannel d = direct ? FileChannel.open(out, StandardOpenOption.WRITE,
                     com.sun.nio.file.ExtendedOpenOption.DIRECT) : null) {
            FileChannel to = direct ? d : c;
            for (long pos = 0; pos < SIZE; pos += pieceKiB << 10) {
                ByteBuffer b = piece.duplicate();
                long at = pos;
                while (b.hasRemaining()) {
                    at += to.write(b, at);
                }
            }
            c.force(false);
        }
        Files.delete(out);
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void pageCache() throws IOException {
        writeFile(false);
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void directIo() throws IOException {
        writeFile(true);
    }
}
