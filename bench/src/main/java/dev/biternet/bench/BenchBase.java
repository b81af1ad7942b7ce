package dev.biternet.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What every biternet benchmark shares, so results from different classes and different runs
 * are comparable: one fork, 3 warmup and 3 measured iterations of 1 s each.
 *
 * <p>Why these values: the benchmarks guard orders of magnitude (is the per-frame cost still
 * negligible next to a piece, does the allocator still have headroom, is hashing direct buffers
 * still as fast as heap arrays), not single-digit percentages, so a short profile that runs on
 * a laptop or CI box in a couple of minutes is worth more than a precise one nobody runs. One
 * fork keeps it short; a fresh JVM per class still isolates JIT profiles between benchmarks.
 *
 * <p>Netty's leak detector is off in the forked JVM: at its default level it samples buffers
 * and records stack traces, which would be measured too. Tests run it at PARANOID instead.
 *
 * <p>Each subclass chooses its own {@code @BenchmarkMode} and {@code @OutputTimeUnit} and
 * compares two ways of doing the same thing in one run, so a ratio can be read off without
 * trusting absolute numbers across machines. JMH has no annotation for the result format:
 * JSON output is selected on the command line (see bench/README.md).
 */
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=DISABLED"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
public abstract class BenchBase {
}
