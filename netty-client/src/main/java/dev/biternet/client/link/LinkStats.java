package dev.biternet.client.link;

/** What one link carried, for the summary; {@code rttMs} is its latest smoothed round trip (0: not measured). */
public record LinkStats(String iface, String address, long bytes, int pieces, int duplicates, long duplicateBytes,
                        int failed, long failedBytes, double seconds, String state, long capBytes, long rateLimit,
                        int reconnects, boolean dropped, double rttMs) {
    /** Average payload rate in bytes per second over the link's active time. */
    public double rate() {
        return seconds > 0 ? bytes / seconds : 0;
    }

    /**
     * This link's counters over one more connection ({@code later}): sums, active times added,
     * the later connection's address and state.
     */
    public LinkStats plus(LinkStats later) {
        return new LinkStats(iface, later.address, bytes + later.bytes, pieces + later.pieces,
                duplicates + later.duplicates, duplicateBytes + later.duplicateBytes, failed + later.failed,
                failedBytes + later.failedBytes, seconds + later.seconds, later.state, capBytes, rateLimit,
                reconnects + 1, dropped || later.dropped, later.rttMs);
    }
}
