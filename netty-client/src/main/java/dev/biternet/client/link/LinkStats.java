package dev.biternet.client.link;

/** What one link carried, for the summary. */
public record LinkStats(String iface, String address, long bytes, int pieces, int duplicates, long duplicateBytes,
                        int failed, long failedBytes, double seconds, String state, long capBytes, long rateLimit) {
    /** Average payload rate in bytes per second over the link's active time. */
    public double rate() {
        return seconds > 0 ? bytes / seconds : 0;
    }
}
