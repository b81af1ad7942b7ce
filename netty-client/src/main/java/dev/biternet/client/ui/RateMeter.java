package dev.biternet.client.ui;

import dev.biternet.client.Progress;
import dev.biternet.client.link.LinkStats;
import java.util.List;

/**
 * Current payload rate of each link, from the byte counters of successive {@link Progress}
 * snapshots, smoothed over about a second (an exponential moving average weighted by the time
 * between samples, so an irregular sampling thread does not skew it). Times are passed in, never
 * read from a clock, so the arithmetic is testable.
 */
public final class RateMeter {
    private static final double TAU_SECONDS = 1.0;
    private long[] lastBytes;
    private double[] rates;
    private long lastNanos;

    /** Takes one sample; returns the smoothed rate of each link in bytes per second. */
    public double[] sample(Progress p, long nanos) {
        List<LinkStats> links = p.links();
        if (lastBytes == null || lastBytes.length != links.size()) {
            lastBytes = new long[links.size()];
            rates = new double[links.size()];
            for (int i = 0; i < links.size(); i++) {
                lastBytes[i] = links.get(i).bytes();
            }
            lastNanos = nanos;
            return rates.clone();
        }
        double dt = (nanos - lastNanos) / 1e9;
        if (dt <= 0) {
            return rates.clone();
        }
        double weight = 1 - Math.exp(-dt / TAU_SECONDS);
        for (int i = 0; i < links.size(); i++) {
            long bytes = links.get(i).bytes();
            double instant = (bytes - lastBytes[i]) / dt;
            rates[i] += (instant - rates[i]) * weight;
            lastBytes[i] = bytes;
        }
        lastNanos = nanos;
        return rates.clone();
    }
}
