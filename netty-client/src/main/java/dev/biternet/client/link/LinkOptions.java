package dev.biternet.client.link;

/**
 * What the user set for one link after its name ({@code --iface IFACE:cap=SIZE,rate=SIZE,flows=N}):
 * built once by {@link LinkResolver}, carried by {@link LinkSpec} and {@link LinkStats}, and read
 * where each option acts (the Attach that tells the server the cap and rate, {@link FlowCount},
 * the summary). A new per-link option is a component here, an entry in {@link LinkResolver}'s
 * table and the code where it acts.
 *
 * @param capBytes payload the link may carry, bytes (0: no cap)
 * @param rateLimit bytes per second the server may send on the link (0: no limit)
 * @param flows the TCP flows the link uses, or {@link #AUTO_FLOWS}: as many as pay
 * @param backup a backup link ({@code :backup}): it carries pieces only while no other link
 *               does (see {@link Link#standBy})
 */
public record LinkOptions(long capBytes, long rateLimit, int flows, boolean backup) {
    public static final int AUTO_FLOWS = 0;
    /** A link given by its name alone. */
    public static final LinkOptions NONE = new LinkOptions(0, 0, AUTO_FLOWS, false);

    /** A normal link (not a backup). */
    public LinkOptions(long capBytes, long rateLimit, int flows) {
        this(capBytes, rateLimit, flows, false);
    }

    public LinkOptions withCap(long bytes) {
        return new LinkOptions(bytes, rateLimit, flows, backup);
    }

    public LinkOptions withRate(long bytesPerSecond) {
        return new LinkOptions(capBytes, bytesPerSecond, flows, backup);
    }

    public LinkOptions withFlows(int n) {
        return new LinkOptions(capBytes, rateLimit, n, backup);
    }

    public LinkOptions asBackup() {
        return new LinkOptions(capBytes, rateLimit, flows, true);
    }

    /**
     * True once a link that carried {@code carried} bytes cannot take another piece of
     * {@code pieceSize} without passing its cap (the server stops giving it pieces then).
     */
    public boolean capReached(long carried, long pieceSize) {
        return capBytes > 0 && carried + pieceSize > capBytes;
    }

    /** "backup" or "normal", as the summary and --json name a link's tier. */
    public String tier() {
        return backup ? "backup" : "normal";
    }

    /**
     * How many flows the link uses, judged as the download runs: the number given, or with
     * {@code auto} as many as pay, unless the server sends with a congestion control that random
     * loss does not hold down (BBR: one flow nearly fills a lossy link, a second one on a link
     * it reports losing packets, never more: {@link FlowCount#lossTolerant}); from a sender
     * that does not say (a web server), {@value FlowCount#FIRST_WITH_RTT} from the start on a
     * link with a round trip, {@value FlowCount#FIRST_WITH_LONG_RTT} on a satellite's
     * ({@link FlowCount#unknownSender}).
     *
     * @param serverCongestion Welcome.congestion_control ("" if the server did not say)
     */
    public FlowCount flowCount(String serverCongestion) {
        return flowCount(serverCongestion, true);
    }

    /**
     * As {@link #flowCount(String)}; with {@code wideWithRtt} false a sender that does not say is
     * measured from one flow. So for HTTP mirrors beside a biternet server: their second
     * connection on each link only took pieces from the server's share of the tail, which it
     * then copied (1.1 % of the file twice, against 0.07 %; bench/lab/RESULTS.md run 121).
     */
    public FlowCount flowCount(String serverCongestion, boolean wideWithRtt) {
        if (flows != AUTO_FLOWS || backup) {
            // A backup link stands in for the others for a while: one flow unless told otherwise.
            return FlowCount.fixed(Math.max(1, flows));
        }
        if (serverCongestion.startsWith("bbr")) {
            return FlowCount.lossTolerant();
        }
        return serverCongestion.isEmpty() && wideWithRtt ? FlowCount.unknownSender() : new FlowCount(FlowCount.MAX_FLOWS);
    }
}
