package dev.biternet.client.ui;

import dev.biternet.client.Progress;
import dev.biternet.client.link.LinkStats;
import dev.biternet.common.cli.Sizes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Turns a {@link Progress} snapshot and the links' current rates into the lines a user sees:
 * a header, one line per link (name, address, state, current rate, round trip, bytes received,
 * share of the file, cap and rate limit), and a total line (percent verified, rate, ETA), sizes and
 * rates in the unit system it was made with ({@link Sizes}). Pure: the same input gives the same
 * lines, each cut to fit the given width.
 *
 * <pre>
 * link       address    state              rate      rtt    received  share  limits
 * 127.0.0.1  127.0.0.1  up            4.00 MB/s     2 ms     9.52 MB  35.6%  rate limit 4.00 MB/s
 * total  63.2%  11.9 MB/s  ETA 0:02  17.0 MB of 26.8 MB verified
 * </pre>
 */
public final class ProgressRenderer {
    private final Sizes units;

    /** Link events shown under the total line, the latest ones. */
    static final int SHOWN_EVENTS = 3;

    public ProgressRenderer(Sizes units) {
        this.units = units;
    }

    /** The terminal lines, each at most {@code width - 1} columns (the last column would wrap on some terminals). */
    public List<String> lines(Progress p, double[] rates, int width) {
        List<LinkStats> links = p.links();
        int nameWidth = 4;
        int addressWidth = 7;
        for (LinkStats l : links) {
            nameWidth = Math.max(nameWidth, l.label().length());
            addressWidth = Math.max(addressWidth, l.address().length());
        }
        String row = "%-" + nameWidth + "s  %-" + addressWidth + "s  %-10s %12s %8s %11s %6s  %s";
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT, row, "link", "address", "state", "rate", "rtt", "received", "share", "limits"));
        for (int i = 0; i < links.size(); i++) {
            LinkStats l = links.get(i);
            double rate = i < rates.length ? rates[i] : 0;
            String share = p.fileSize() > 0 ? String.format(Locale.ROOT, "%.1f%%", 100.0 * l.bytes() / p.fileSize()) : "";
            String state = state(p, l);
            String last = state.equals("lost") || state.equals("dropped") ? lostReason(l) : limits(l);
            out.add(String.format(Locale.ROOT, row, l.label(), l.address(), state, units.rate(rate), rtt(l.rttMs()),
                    units.bytes(l.bytes()), share, last).stripTrailing());
        }
        out.add(total(p, sum(rates)));
        // The latest links that joined, left, were rebound, took over or stood by.
        List<dev.biternet.client.link.LinkEvent> events = p.events();
        for (dev.biternet.client.link.LinkEvent e : events.subList(Math.max(0, events.size() - SHOWN_EVENTS), events.size())) {
            out.add(String.format(Locale.ROOT, "%7.1f s  %s", e.seconds(), e.text()));
        }
        List<String> cut = new ArrayList<>(out.size());
        for (String line : out) {
            cut.add(fit(line, width - 1));
        }
        return cut;
    }

    /** One line for logs and pipes: the total and each link's rate. */
    public String plainLine(Progress p, double[] rates) {
        StringBuilder b = new StringBuilder("biternet-get: ").append(total(p, sum(rates)));
        List<LinkStats> links = p.links();
        for (int i = 0; i < links.size(); i++) {
            LinkStats l = links.get(i);
            b.append(i == 0 ? "; " : ", ").append(l.label()).append(' ').append(state(p, l)).append(' ')
                    .append(units.rate(i < rates.length ? rates[i] : 0));
        }
        return b.toString();
    }

    /** A round trip for the link table: whole milliseconds, or blank before the first sample. */
    static String rtt(double ms) {
        return ms <= 0 ? "" : String.format(Locale.ROOT, "%.0f ms", Math.max(1, ms));
    }

    String total(Progress p, double rate) {
        return switch (p.phase()) {
            case CONNECTING -> "connecting " + p.links().size() + " link(s)";
            case DOWNLOADING -> {
                long left = p.fileSize() - p.verifiedBytes();
                String eta = left <= 0 ? "0:00" : rate <= 0 ? "--:--" : duration(left / rate);
                yield String.format(Locale.ROOT, "total  %5.1f%%  %s  ETA %s  %s of %s verified", percent(p), units.rate(rate),
                        eta, units.bytes(p.verifiedBytes()), units.bytes(p.fileSize()));
            }
            case VERIFYING -> String.format(Locale.ROOT, "total  %5.1f%%  all pieces in, checking the whole file", percent(p));
            case DONE -> String.format(Locale.ROOT, "total  %5.1f%%  %s verified", percent(p), units.bytes(p.fileSize()));
        };
    }

    private static String state(Progress p, LinkStats l) {
        if (l.state().startsWith("failed")) {
            return "lost";
        }
        if (l.dropped()) {
            return "dropped";
        }
        return switch (p.phase()) {
            case CONNECTING -> "connecting";
            case DONE -> "done";
            default -> {
                if (!l.state().equals("up")) {
                    yield l.state();
                }
                yield l.options().capReached(l.bytes(), p.pieceSize()) ? "capped" : "up";
            }
        };
    }

    private static String lostReason(LinkStats l) {
        return l.state().replaceFirst("^(failed|dropped):?\\s*", "");
    }

    private String limits(LinkStats l) {
        StringBuilder s = new StringBuilder(l.options().backup() ? "backup" : "");
        if (l.options().capBytes() > 0) {
            s.append(s.length() > 0 ? ", " : "").append(String.format(Locale.ROOT, "cap %.0f%% of %s", 100.0 * l.bytes() / l.options().capBytes(),
                    units.bytes(l.options().capBytes())));
        }
        if (l.options().rateLimit() > 0) {
            s.append(s.length() > 0 ? ", " : "").append("rate limit ").append(units.rate(l.options().rateLimit()));
        }
        return s.toString();
    }

    private static double percent(Progress p) {
        return p.fileSize() == 0 ? 100.0 : 100.0 * p.verifiedBytes() / p.fileSize();
    }

    private static double sum(double[] rates) {
        double s = 0;
        for (double r : rates) {
            s += r;
        }
        return s;
    }

    static String duration(double seconds) {
        long s = (long) Math.ceil(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** Cuts a line to {@code columns} (ASCII only: names, addresses and numbers). */
    static String fit(String line, int columns) {
        return line.length() <= columns ? line : line.substring(0, Math.max(0, columns));
    }
}
