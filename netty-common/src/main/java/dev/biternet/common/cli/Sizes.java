package dev.biternet.common.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes and rates as people type and read them, in one of two unit systems: {@link #SI}
 * (kB, MB, GB, TB: powers of 1000, as disks and network links are sold) or {@link #IEC} (KiB,
 * MiB, GiB, TiB: powers of 1024). {@link #parse} reads either system's suffixes, so anything
 * printed here reads back to the value it was printed from, within its rounding. Printing
 * scales to the largest unit that leaves a number of at least 1 and shows three significant
 * digits ({@code 9.54 GB}, {@code 95.4 GB}, {@code 954 GB}); IEC numbers from 1000 to 1023
 * keep a fourth ({@code 1000 KiB}), and whole bytes are shown exactly ({@code 512 B}).
 */
public enum Sizes {
    SI(1000, "k", "M", "G", "T", "P", "E"),
    IEC(1024, "Ki", "Mi", "Gi", "Ti", "Pi", "Ei");

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)(?: ?(?:(k|K|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)B?|B))?");

    private final int base;
    /** The prefixes of base^1, base^2, ... */
    private final String[] prefixes;

    Sizes(int base, String... prefixes) {
        this.base = base;
        this.prefixes = prefixes;
    }

    /**
     * Bytes in {@code text}: a number with an optional prefix of either system and an optional
     * B ({@code 500M}, {@code 2Gi}, {@code 1.5GB}, {@code 3.81 MiB}, {@code 100k}, {@code 123});
     * rounded to whole bytes (a plain number's fraction is dropped), a value past
     * {@code Long.MAX_VALUE} is that.
     *
     * @throws IllegalArgumentException if {@code text} is not a size
     */
    public static long parse(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException(text + " is not a size (e.g. 500M, 2Gi, 1.5GB)");
        }
        double n = Double.parseDouble(m.group(1));
        String prefix = m.group(2);
        if (prefix == null) {
            return (long) n;
        }
        Sizes system = prefix.endsWith("i") ? IEC : SI;
        int power = 1 + "KMGTPE".indexOf(Character.toUpperCase(prefix.charAt(0)));
        return Math.round(n * Math.pow(system.base, power));
    }

    /** The system {@code typed} is written in: IEC if it has a binary prefix (2Gi, 500MiB), else SI. */
    public static Sizes of(String typed) {
        return Pattern.compile("\\d ?[KMGTPE]i").matcher(typed).find() ? IEC : SI;
    }

    /** {@code bytes} scaled: {@code 512 B}, {@code 1.50 kB}, {@code 95.4 GB} (SI) or {@code 88.8 GiB} (IEC). */
    public String bytes(long bytes) {
        return scaled(bytes, "B");
    }

    /** A rate in bytes per second, scaled as {@link #bytes}: {@code 11.4 MB/s}. */
    public String rate(double bytesPerSecond) {
        return scaled(Math.max(0, bytesPerSecond), "B/s");
    }

    private String scaled(double value, String unit) {
        if (Math.round(value) < base) {
            return Math.round(value) + " " + unit;
        }
        int power = 0;
        double v = value;
        while (v >= base && power < prefixes.length) {
            v /= base;
            power++;
        }
        String digits = digits(v);
        // 999.7 kB rounds to "1000": that is 1.00 MB.
        if (Double.parseDouble(digits) >= base && power < prefixes.length) {
            digits = digits(v / base);
            power++;
        }
        return digits + " " + prefixes[power - 1] + unit;
    }

    /** Three significant digits of {@code v} (1 <= v < 1024): 9.54, 95.4, 954, 1023. */
    private static String digits(double v) {
        String format = v < 9.995 ? "%.2f" : v < 99.95 ? "%.1f" : "%.0f";
        return String.format(Locale.ROOT, format, v);
    }
}
