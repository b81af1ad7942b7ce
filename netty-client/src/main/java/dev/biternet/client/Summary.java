package dev.biternet.client;

import dev.biternet.client.link.LinkStats;
import dev.biternet.common.cli.Sizes;
import java.util.Locale;

/** Renders a {@link DownloadResult} as the human summary or as the --json object (docs/JSON.md). */
public final class Summary {
    private Summary() {}

    /** The summary a user reads, sizes and rates in {@code units}. */
    public static String text(DownloadResult r, Sizes units) {
        StringBuilder b = new StringBuilder();
        double seconds = Math.max(r.seconds(), 1e-9);
        b.append(String.format(Locale.ROOT, "%s: %d bytes (%s) in %.2f s (%s), %d pieces %s, sha256 %s%s%n",
                r.file(), r.bytes(), units.bytes(r.bytes()), r.seconds(), units.rate(r.bytes() / seconds), r.pieces(),
                r.verifiedBy().equals(DownloadResult.PIECE_HASHES) ? "verified" : "written", r.sha256(), r.sha256ReadBack() ? " (read back from disk)" : ""));
        int name = Math.max(16, r.links().stream().mapToInt(l -> l.label().length()).max().orElse(0));
        String row = "  %-" + name + "s %-40s %10s %7s %5s %12s %6s  %s";
        row(b, String.format(Locale.ROOT, row, "link", "address", "received", "pieces", "dup", "avg rate", "share", "limits"));
        for (LinkStats l : r.links()) {
            row(b, String.format(Locale.ROOT, row, l.label(), l.address(), units.bytes(l.bytes()), l.pieces(),
                    l.duplicates(), units.rate(l.rate()), String.format(Locale.ROOT, "%.1f%%",
                            r.receivedBytes() == 0 ? 0.0 : 100.0 * l.bytes() / r.receivedBytes()), limits(l, units)));
        }
        row(b, String.format(Locale.ROOT, row, "total", "", units.bytes(r.receivedBytes()), r.pieces(), "",
                units.rate(r.receivedBytes() / seconds), "", ""));
        if (r.verifiedBy().equals(DownloadResult.NOTHING)) {
            b.append(String.format(Locale.ROOT, "  NOT VERIFIED: HTTP mirrors give no piece hashes and no --checksum"
                    + " was given; the sha256 above is of the bytes received%n"));
        } else if (r.verifiedBy().equals(DownloadResult.CHECKSUM)) {
            b.append(String.format(Locale.ROOT, "  verified: the whole file matches --checksum%n"));
        }
        if (r.resumedPieces() > 0) {
            b.append(String.format(Locale.ROOT, "  resumed: %d of %d pieces were verified by an earlier run%n",
                    r.resumedPieces(), r.pieces()));
        }
        for (LinkStats l : r.links()) {
            if (l.dropped()) {
                b.append(String.format(Locale.ROOT, "  link %s %s%n", l.label(), l.state()));
            }
        }
        if (r.duplicateBytes() > 0) {
            b.append(String.format(Locale.ROOT, "  endgame duplicates: %s (%.2f%% of the file)%n",
                    units.bytes(r.duplicateBytes()), r.bytes() == 0 ? 0.0 : 100.0 * r.duplicateBytes() / r.bytes()));
        }
        return b.toString();
    }

    private static void row(StringBuilder b, String line) {
        b.append(line.stripTrailing()).append(System.lineSeparator());
    }

    private static String limits(LinkStats l, Sizes units) {
        StringBuilder s = new StringBuilder();
        if (l.options().capBytes() > 0) {
            s.append(String.format(Locale.ROOT, "cap %s (%.0f%% used)", units.bytes(l.options().capBytes()),
                    100.0 * l.bytes() / l.options().capBytes()));
        }
        if (l.options().rateLimit() > 0) {
            s.append(s.length() > 0 ? ", " : "").append("rate limit ").append(units.rate(l.options().rateLimit()));
        }
        return s.toString();
    }

    /** The --json object of a download that succeeded (docs/JSON.md). */
    public static String json(DownloadResult r) {
        return JsonOutput.object(g -> {
            g.writeStringField("file", r.file().toString());
            g.writeNumberField("bytes", r.bytes());
            g.writeNumberField("seconds", round(r.seconds()));
            g.writeStringField("sha256", r.sha256());
            g.writeBooleanField("sha256_read_back", r.sha256ReadBack());
            g.writeStringField("verified_by", r.verifiedBy());
            g.writeStringField("root_hash", r.rootHash());
            g.writeNumberField("piece_size", r.pieceSize());
            g.writeNumberField("pieces", r.pieces());
            g.writeNumberField("received_bytes", r.receivedBytes());
            g.writeNumberField("duplicate_bytes", r.duplicateBytes());
            g.writeNumberField("failed_bytes", r.failedBytes());
            g.writeNumberField("resumed_pieces", r.resumedPieces());
            g.writeArrayFieldStart("links");
            for (LinkStats l : r.links()) {
                g.writeStartObject();
                g.writeStringField("iface", l.iface());
                g.writeStringField("address", l.address());
                g.writeStringField("source", l.source());
                g.writeNumberField("bytes", l.bytes());
                g.writeNumberField("pieces", l.pieces());
                g.writeNumberField("duplicates", l.duplicates());
                g.writeNumberField("duplicate_bytes", l.duplicateBytes());
                g.writeNumberField("failed", l.failed());
                g.writeNumberField("failed_bytes", l.failedBytes());
                g.writeNumberField("seconds", round(l.seconds()));
                g.writeNumberField("bytes_per_second", Math.round(l.rate()));
                g.writeNumberField("cap_bytes", l.options().capBytes());
                g.writeNumberField("rate_limit", l.options().rateLimit());
                g.writeNumberField("reconnects", l.reconnects());
                g.writeBooleanField("dropped", l.dropped());
                g.writeNumberField("rtt_ms", round(l.rttMs()));
                g.writeNumberField("flows", l.flows());
                g.writeStringField("tier", l.options().tier());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("events");
            for (dev.biternet.client.link.LinkEvent e : r.events()) {
                g.writeStartObject();
                g.writeNumberField("seconds", round(e.seconds()));
                g.writeStringField("link", e.link());
                g.writeStringField("kind", e.kind());
                g.writeStringField("address", e.address());
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    private static double round(double seconds) {
        return Math.round(seconds * 1000) / 1000.0;
    }
}
