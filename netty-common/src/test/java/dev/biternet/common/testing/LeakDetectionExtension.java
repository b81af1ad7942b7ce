package dev.biternet.common.testing;

import io.netty.buffer.AbstractByteBuf;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Runs every test with Netty's {@link ResourceLeakDetector} at {@code PARANOID} and fails the
 * test when a leak is reported, as Flink's {@code NettyLeakDetectionExtension} does.
 *
 * <p>Netty reports a leak only when a tracked object has been garbage collected without being
 * released, and only from inside a later {@code track()} call (an allocation). So after each
 * test this extension collects garbage and allocates a few buffers, and any leak recorded by
 * then fails that test. A leak that surfaces later still fails the test that was running, and
 * the report's creation trace names the real culprit.
 *
 * <p>It is registered through {@code META-INF/services/org.junit.jupiter.api.extension.Extension}
 * (surefire enables autodetection), so it applies to every test of every module that depends on
 * this test-jar. Autodetected extensions are loaded before any test class is initialised, which
 * is what lets the static initializer install the detector factory before
 * {@code AbstractByteBuf} creates its detector; {@link #beforeEach} checks that it did.
 */
public final class LeakDetectionExtension implements BeforeEachCallback, AfterEachCallback {
    private static final Queue<String> LEAKS = new ConcurrentLinkedQueue<>();
    private static final int COLLECTION_ROUNDS = 3;

    static {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new RecordingFactory());
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        if (!byteBufDetectorIsRecording()) {
            throw new ExtensionConfigurationException("ByteBuf leak detector was created before "
                    + LeakDetectionExtension.class.getSimpleName() + " installed its factory; leaks would go unnoticed");
        }
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        collectAndPoll();
        List<String> leaks = drainLeaksForTest();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " Netty resource leak(s) reported during "
                    + context.getDisplayName() + ":\n" + String.join("\n\n", leaks));
        }
    }

    /**
     * Collects garbage and allocates, so that the detectors poll their reference queues and
     * report any tracked object that was collected unreleased.
     */
    static void collectAndPoll() throws InterruptedException {
        for (int i = 0; i < COLLECTION_ROUNDS; i++) {
            System.gc();
            // References are enqueued by the JVM's reference handler thread after the collection.
            Thread.sleep(5);
            poke(PooledByteBufAllocator.DEFAULT);
            poke(UnpooledByteBufAllocator.DEFAULT);
            poke(ByteBufAllocator.DEFAULT);
        }
    }

    private static void poke(ByteBufAllocator alloc) {
        alloc.heapBuffer(1).release();
        alloc.directBuffer(1).release();
    }

    /** Takes every leak recorded so far (tests of this extension only: it clears the record). */
    static List<String> drainLeaksForTest() {
        List<String> drained = new ArrayList<>();
        for (String leak; (leak = LEAKS.poll()) != null; ) {
            drained.add(leak);
        }
        return drained;
    }

    private static boolean byteBufDetectorIsRecording() {
        try {
            Field field = AbstractByteBuf.class.getDeclaredField("leakDetector");
            field.setAccessible(true);
            return field.get(null) instanceof RecordingDetector<?>;
        } catch (ReflectiveOperationException | RuntimeException e) {
            // A Netty version without that field: cannot check, so trust the static initializer.
            return true;
        }
    }

    private static final class RecordingFactory extends ResourceLeakDetectorFactory {
        @Override
        @SuppressWarnings("deprecation")
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
            return new RecordingDetector<>(resource, samplingInterval);
        }

        @Override
        public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval) {
            return new RecordingDetector<>(resource, samplingInterval);
        }
    }

    /** Logs as usual and records the report; never throws, since it runs on whichever thread allocates. */
    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        RecordingDetector(Class<?> resource, int samplingInterval) {
            super(resource, samplingInterval);
        }

        @Override
        protected boolean needReport() {
            // The default asks whether error logging is on; a leak must fail the test regardless.
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected." + records);
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            LEAKS.add("LEAK: " + resourceType + ".release() was not called before it was garbage-collected"
                    + " (no access records).");
            super.reportUntracedLeak(resourceType);
        }
    }
}
