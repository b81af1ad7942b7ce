package dev.biternet.bench;

import dev.biternet.server.session.LocalPieceAllocator;
import dev.biternet.server.session.PieceAllocator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * Guards the one lock every link of a session goes through: {@link LocalPieceAllocator}. One
 * operation is a claim followed by a complete, what a link does per piece (claim before
 * sending, complete on the client's ack). The same operation runs with 1, 4 and 16 threads
 * sharing one allocator, standing for links on different event loops; the ratio between them
 * shows what contention costs. Reported in ops/s summed over all threads, i.e. pieces/s.
 *
 * <p>What it must stay far above: a 10 Gbit/s link moves about 1,200 pieces/s of 1 MiB.
 *
 * <p>The allocator has 262,144 pieces (the most {@code PieceLayout.forFile} aims for); when a
 * claim finds it exhausted, the thread that sees this swaps in a fresh one and claims again, so
 * every measured operation is a successful claim. The endgame is kept out
 * ({@code endgameMinAgeNanos = Long.MAX_VALUE}): it only matters for the last few pieces.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class AllocatorBenchmark extends BenchBase {
    private static final int PIECES = dev.biternet.common.piece.PieceLayout.TARGET_MAX_PIECES;

    /** One session's allocator, shared by every benchmark thread. */
    @State(Scope.Benchmark)
    public static class Shared {
        final AtomicReference<PieceAllocator> allocator = new AtomicReference<>(fresh());
        final AtomicInteger nextLinkId = new AtomicInteger();

        static PieceAllocator fresh() {
            PieceAllocator a = new LocalPieceAllocator(PIECES);
            a.setAvailable(PIECES);
            return a;
        }
    }

    /** One thread is one link. */
    @State(Scope.Thread)
    public static class Link {
        int id;

        @Setup
        public void setUp(Shared shared) {
            id = shared.nextLinkId.incrementAndGet();
        }
    }

    private static int claimAndComplete(Shared shared, Link link) {
        return claimAndComplete(shared.allocator, link.id);
    }

    /** A claim and a complete on the allocator in {@code allocator}, replaced by a fresh one when it runs out. */
    static int claimAndComplete(AtomicReference<PieceAllocator> allocator, int linkId) {
        while (true) {
            PieceAllocator a = allocator.get();
            int index = a.claim(linkId, Long.MAX_VALUE);
            if (index != PieceAllocator.NONE) {
                a.complete(index);
                return index;
            }
            allocator.compareAndSet(a, Shared.fresh());
        }
    }

    @Benchmark
    @Threads(1)
    public int links01(Shared shared, Link link) {
        return claimAndComplete(shared, link);
    }

    @Benchmark
    @Threads(4)
    public int links04(Shared shared, Link link) {
        return claimAndComplete(shared, link);
    }

    @Benchmark
    @Threads(16)
    public int links16(Shared shared, Link link) {
        return claimAndComplete(shared, link);
    }
}
