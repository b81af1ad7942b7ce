package dev.biternet.server.transfer;

/**
 * A link's delivery rate from the spacing of its acks: sums of the bytes acknowledged and of
 * the time between acks, both decaying with time (not per ack), divided. So the burst of acks
 * that ends a retransmission stall adds its bytes to the stall it ended, which is what the link
 * delivered over that time, and a lossy link does not look the fastest (what was tried before:
 * docs/DESIGN.md, "Real networks").
 */
final class DeliveryRate {
    /** The sums' time constant: the past weighs e^(-t / this) after t seconds. */
    static final double MEMORY_SECONDS = 0.5;
    /** A gap shorter than this (a burst of acks read at once) counts as this long. */
    private static final long MIN_GAP_NANOS = 1000;

    private double bytes;
    private double seconds;
    private int samples;

    /** One ack of {@code length} bytes, {@code gapNanos} after the previous one (or the claim after an idle spell). */
    void ack(long length, long gapNanos) {
        double gap = Math.max(gapNanos, MIN_GAP_NANOS) / 1e9;
        double keep = Math.exp(-gap / MEMORY_SECONDS);
        bytes = keep * bytes + length;
        seconds = keep * seconds + gap;
        samples++;
    }

    /** Bytes per second; 0 before the first ack. */
    double bytesPerSecond() {
        return samples == 0 ? 0 : bytes / seconds;
    }

    int samples() {
        return samples;
    }
}
