package dev.biternet.client;

import dev.biternet.client.link.LinkStats;
import java.util.List;

/**
 * A moment of a running download, as {@link Download#progress()} reports it to progress
 * displays: the phase, the file size and verified bytes (0 until the session is open), the
 * piece size, and each link's counters in {@code --iface} order.
 */
public record Progress(Phase phase, long fileSize, long verifiedBytes, int pieceSize, List<LinkStats> links,
                       List<dev.biternet.client.link.LinkEvent> events) {
    /** With no link event. */
    public Progress(Phase phase, long fileSize, long verifiedBytes, int pieceSize, List<LinkStats> links) {
        this(phase, fileSize, verifiedBytes, pieceSize, links, List.of());
    }

    /** Where the download is. */
    public enum Phase { CONNECTING, DOWNLOADING, VERIFYING, DONE }
}
