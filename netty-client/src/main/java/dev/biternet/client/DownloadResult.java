package dev.biternet.client;

import dev.biternet.client.link.LinkStats;
import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of a verified download, as the summary and --json report it. {@code resumedPieces}
 * were verified by an earlier run and not fetched again. {@code sha256ReadBack}: the SHA-256 was
 * computed from the file read back from disk ({@code --verify-disk}); otherwise it is the
 * server's, of the bytes every verified piece matched. {@code verifiedBy}: what the file was
 * checked against: {@link #PIECE_HASHES} (a biternet server's), {@link #CHECKSUM} (the user's
 * {@code --checksum}, HTTP mirrors only), or {@link #NOTHING} (HTTP mirrors, no checksum).
 */
public record DownloadResult(Path file, long bytes, double seconds, String sha256, String rootHash, int pieceSize,
                             int pieces, List<LinkStats> links, int resumedPieces, boolean sha256ReadBack,
                             List<dev.biternet.client.link.LinkEvent> events, String verifiedBy) {
    public static final String PIECE_HASHES = "piece_hashes";
    public static final String CHECKSUM = "checksum";
    public static final String NOTHING = "nothing";

    /** A biternet download's result: every piece checked against the server's hashes. */
    public DownloadResult(Path file, long bytes, double seconds, String sha256, String rootHash, int pieceSize,
                          int pieces, List<LinkStats> links, int resumedPieces, boolean sha256ReadBack,
                          List<dev.biternet.client.link.LinkEvent> events) {
        this(file, bytes, seconds, sha256, rootHash, pieceSize, pieces, links, resumedPieces, sha256ReadBack, events,
                PIECE_HASHES);
    }

    /** A result with no link event. */
    public DownloadResult(Path file, long bytes, double seconds, String sha256, String rootHash, int pieceSize,
                          int pieces, List<LinkStats> links, int resumedPieces, boolean sha256ReadBack) {
        this(file, bytes, seconds, sha256, rootHash, pieceSize, pieces, links, resumedPieces, sha256ReadBack, List.of());
    }

    /** Payload received over all links, endgame duplicates included. */
    public long receivedBytes() {
        return links.stream().mapToLong(LinkStats::bytes).sum();
    }

    /** Payload of pieces that arrived a second time (endgame copies that lost the race). */
    public long duplicateBytes() {
        return links.stream().mapToLong(LinkStats::duplicateBytes).sum();
    }

    /** Payload of pieces that failed their hash and were fetched again. */
    public long failedBytes() {
        return links.stream().mapToLong(LinkStats::failedBytes).sum();
    }
}
