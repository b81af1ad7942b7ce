package dev.biternet.common.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** Proves the globally registered extension is active and would fail a leaking test. */
class LeakDetectionExtensionTest {

    @Test
    void detectionRunsAtParanoid() {
        assertThat(ResourceLeakDetector.getLevel()).isEqualTo(ResourceLeakDetector.Level.PARANOID);
    }

    @Test
    void unreleasedPooledBufferIsRecorded() throws InterruptedException {
        List<String> leaks = leakAndCollect(() -> PooledByteBufAllocator.DEFAULT.directBuffer(64));
        assertThat(leaks).anySatisfy(leak -> assertThat(leak)
                .startsWith("LEAK: ByteBuf.release() was not called")
                .contains("Created at:")
                .contains(LeakDetectionExtensionTest.class.getName()));
    }

    @Test
    void unreleasedUnpooledDirectBufferIsRecorded() throws InterruptedException {
        // Unpooled heap buffers are not tracked at all (the GC reclaims them); direct ones are.
        List<String> leaks = leakAndCollect(() -> UnpooledByteBufAllocator.DEFAULT.directBuffer(64));
        assertThat(leaks).anySatisfy(leak -> assertThat(leak).startsWith("LEAK: ByteBuf.release() was not called"));
    }

    @Test
    void releasedBuffersAreNotRecorded() throws InterruptedException {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        buf.writeLong(42);
        buf.release();
        LeakDetectionExtension.collectAndPoll();
        assertThat(LeakDetectionExtension.drainLeaksForTest()).isEmpty();
    }

    /**
     * Allocates a buffer, forgets it, and collects until the detector reports it. The leaks are
     * drained here, so the extension's own afterEach finds nothing and this test passes.
     */
    private static List<String> leakAndCollect(Supplier<ByteBuf> allocation) throws InterruptedException {
        leak(allocation);
        List<String> leaks = new ArrayList<>();
        for (int round = 0; round < 50 && leaks.isEmpty(); round++) {
            LeakDetectionExtension.collectAndPoll();
            leaks.addAll(LeakDetectionExtension.drainLeaksForTest());
        }
        return leaks;
    }

    private static void leak(Supplier<ByteBuf> allocation) {
        ByteBuf buf = allocation.get();
        buf.writeInt(7);
    }
}
