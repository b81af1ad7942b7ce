package dev.biternet.client.link;

/**
 * What one link carried, for the summary; {@code options} are the link's as given
 * ({@link LinkOptions}: its cap and rate limit), {@code rttMs} its latest smoothed round trip
 * (0: not measured), {@code flows} the TCP flows it uses now; {@code source} the HTTP mirror a
 * channel of an HTTP download fetched from ({@code host:port}; empty for a biternet link).
 */
public record LinkStats(String iface, String address, long bytes, int pieces, int duplicates, long duplicateBytes,
                        int failed, long failedBytes, double seconds, String state, LinkOptions options,
                        int reconnects, boolean dropped, double rttMs, int flows, String source) {
    /** A biternet link's counters (no HTTP source). */
    public LinkStats(String iface, String address, long bytes, int pieces, int duplicates, long duplicateBytes,
                     int failed, long failedBytes, double seconds, String state, LinkOptions options,
                     int reconnects, boolean dropped, double rttMs, int flows) {
        this(iface, address, bytes, pieces, duplicates, duplicateBytes, failed, failedBytes, seconds, state, options,
                reconnects, dropped, rttMs, flows, "");
    }

    /** These counters as a channel to {@code source} (one of several biternet servers, {@code host:port}). */
    public LinkStats from(String source) {
        return new LinkStats(iface, address, bytes, pieces, duplicates, duplicateBytes, failed, failedBytes, seconds, state,
                options, reconnects, dropped, rttMs, flows, source);
    }

    /** How displays name the link: its interface, and the mirror it fetches from if any. */
    public String label() {
        return source.isEmpty() ? iface : iface + ">" + source;
    }

    /** One connection's stats: its receiver's counters (none before it attached: {@code r} null), one flow. */
    static LinkStats of(LinkSpec spec, String address, PieceReceiver r, String state, boolean dropped, double rttMs) {
        if (r == null) {
            return new LinkStats(spec.name(), address, 0, 0, 0, 0, 0, 0, 0, state, spec.options(), 0, dropped, rttMs, 1);
        }
        return new LinkStats(spec.name(), address, r.bytes(), r.pieces(), r.duplicates(), r.wastedBytes(),
                r.failedPieces(), r.failedBytes(), r.activeSeconds(), state, spec.options(), 0, dropped, rttMs, 1);
    }

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
                failedBytes + later.failedBytes, seconds + later.seconds, later.state, options,
                reconnects + 1, dropped || later.dropped, later.rttMs, later.flows, source);
    }

    /**
     * This link's counters with those of another of its flows ({@code other}), which ran at the
     * same time: sums, the longer active time, this flow's address, state and round trip.
     */
    public LinkStats alongside(LinkStats other) {
        return new LinkStats(iface, address, bytes + other.bytes, pieces + other.pieces,
                duplicates + other.duplicates, duplicateBytes + other.duplicateBytes, failed + other.failed,
                failedBytes + other.failedBytes, Math.max(seconds, other.seconds), state, options,
                reconnects + other.reconnects, dropped || other.dropped, rttMs, flows, source);
    }

    public LinkStats withFlows(int n) {
        return new LinkStats(iface, address, bytes, pieces, duplicates, duplicateBytes, failed, failedBytes, seconds,
                state, options, reconnects, dropped, rttMs, n, source);
    }
}
