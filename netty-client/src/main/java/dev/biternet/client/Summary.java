package dev.biternet.client;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.biternet.client.link.LinkStats;
import java.io.IOException;
import java.io.StringWriter;
import java.util.Locale;

/** Renders a {@link DownloadResult} as the human summary or as the --json object (schema in the README). */
public final class Summary {
    private Summary() {}

    public static String text(DownloadResult r) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%s: %d bytes in %.2f s (%s), %d pieces verified, sha256 %s%s%n",
                r.file(), r.bytes(), r.seconds(), rate(r.bytes() / Math.max(r.seconds(), 1e-9)), r.pieces(), r.sha256(),
                r.sha256ReadBack() ? " (read back from disk)" : ""));
        b.append(String.format(Locale.ROOT, "  %-16s %-40s %14s %7s %5s %12s %6s  %s%n",
                "link", "address", "bytes", "pieces", "dup", "avg rate", "share", "limits"));
        for (LinkStats l : r.links()) {
            b.append(String.format(Locale.ROOT, "  %-16s %-40s %14d %7d %5d %12s %5.1f%%  %s%n",
                    l.iface(), l.address(), l.bytes(), l.pieces(), l.duplicates(), rate(l.rate()),
                    r.receivedBytes() == 0 ? 0.0 : 100.0 * l.bytes() / r.receivedBytes(), limits(l)));
        }
        b.append(String.format(Locale.ROOT, "  %-16s %-40s %14d %7d %5s %12s%n", "total", "", r.receivedBytes(),
                r.pieces(), "", rate(r.receivedBytes() / Math.max(r.seconds(), 1e-9))));
        if (r.resumedPieces() > 0) {
            b.append(String.format(Locale.ROOT, "  resumed: %d of %d pieces were verified by an earlier run%n",
                    r.resumedPieces(), r.pieces()));
        }
        for (LinkStats l : r.links()) {
            if (l.dropped()) {
                b.append(String.format(Locale.ROOT, "  link %s %s%n", l.iface(), l.state()));
            }
        }
        if (r.duplicateBytes() > 0) {
            b.append(String.format(Locale.ROOT, "  endgame duplicates: %d bytes (%.2f%% of the file)%n",
                    r.duplicateBytes(), r.bytes() == 0 ? 0.0 : 100.0 * r.duplicateBytes() / r.bytes()));
        }
        return b.toString();
    }

    private static String limits(LinkStats l) {
        StringBuilder s = new StringBuilder();
        if (l.options().capBytes() > 0) {
            s.append(String.format(Locale.ROOT, "cap %d (%.0f%% used)", l.options().capBytes(), 100.0 * l.bytes() / l.options().capBytes()));
        }
        if (l.options().rateLimit() > 0) {
            s.append(s.length() > 0 ? ", " : "").append("rate limit ").append(rate(l.options().rateLimit()));
        }
        return s.toString();
    }

    static String rate(double bytesPerSecond) {
        return String.format(Locale.ROOT, "%.1f MiB/s", bytesPerSecond / (1 << 20));
    }

    public static String json(DownloadResult r) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.writeStartObject();
            g.writeStringField("file", r.file().toString());
            g.writeNumberField("bytes", r.bytes());
            g.writeNumberField("seconds", round(r.seconds()));
            g.writeStringField("sha256", r.sha256());
            g.writeBooleanField("sha256_read_back", r.sha256ReadBack());
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
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return w.toString();
    }

    private static double round(double seconds) {
        return Math.round(seconds * 1000) / 1000.0;
    }
}
