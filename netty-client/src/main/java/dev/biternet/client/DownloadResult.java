package dev.biternet.client;

import dev.biternet.client.link.LinkStats;
import java.nio.file.Path;
import java.util.List;

/** The outcome of a verified download, as the summary and --json report it. */
public record DownloadResult(Path file, long bytes, double seconds, String sha256, String rootHash, int pieceSize,
                             int pieces, List<LinkStats> links) {
    /** Payload received over all links, endgame duplicates included. */
    public long receivedBytes() {
        return links.stream().mapToLong(LinkStats::bytes).sum();
    }

    public long duplicateBytes() {
        return Math.max(0, receivedBytes() - bytes);
    }
}
