package dev.biternet.bench;

import dev.biternet.common.piece.Digests;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Guards piece hashing, the one per-byte cost the client pays on every received byte (the
 * server's is paid once per file version). Both methods SHA-256 one 1 MiB piece and finish the
 * digest:
 * <ul>
 *   <li>{@link #heapArray}: {@code MessageDigest.update(byte[])}, the baseline (what the server's
 *       hasher does with its heap buffer);</li>
 *   <li>{@link #directBuffer}: {@code MessageDigest.update(ByteBuffer)} on a direct buffer, what
 *       the client does with the direct buffers Netty reads from the socket. The JDK cannot hand
 *       a direct buffer to the digest as an array, so it copies it through a small temporary
 *       array first; this measures what that costs.</li>
 * </ul>
 * One operation is 1 MiB, so ops/s reads directly as MiB/s. The ratio direct/heap is the number
 * to watch; the absolute value says whether one core can verify a link's bytes as fast as it
 * delivers them.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Thread)
public class HashBenchmark extends BenchBase {
    private static final int PIECE_SIZE = 1 << 20;

    private final MessageDigest digest = Digests.sha256();
    private byte[] heap;
    private ByteBuffer direct;

    @Setup
    public void setUp() {
        heap = new byte[PIECE_SIZE];
        ThreadLocalRandom.current().nextBytes(heap);
        direct = ByteBuffer.allocateDirect(PIECE_SIZE).put(heap).flip();
    }

    @Benchmark
    public byte[] heapArray() {
        digest.update(heap);
        return digest.digest();
    }

    @Benchmark
    public byte[] directBuffer() {
        // a duplicate, as the client passes b.duplicate(): the update consumes the buffer's position
        digest.update(direct.duplicate());
        return digest.digest();
    }
}
