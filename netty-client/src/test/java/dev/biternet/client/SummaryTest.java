package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkOptions;
import dev.biternet.client.link.LinkStats;
import dev.biternet.common.cli.Sizes;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The summary a user reads after a download: sizes, rates and caps scaled in the unit system chosen. */
class SummaryTest {
    private static final long FILE = 100_000_000_000L;

    private static DownloadResult hundredGigabytes() {
        LinkStats wired = new LinkStats("eth0", "192.168.1.20", 60_000_000_000L, 57_221, 2, 2 << 20, 0, 0, 800, "closed",
                LinkOptions.NONE.withRate(12_500_000), 0, false, 12, 1);
        LinkStats mobile = new LinkStats("usb0", "10.55.0.7", 40_002_097_152L, 38_147, 0, 0, 0, 0, 1000, "closed",
                LinkOptions.NONE.withCap(50L << 30), 0, false, 48, 1);
        return new DownloadResult(Path.of("big.iso"), FILE, 1000, "ab".repeat(32), "cd".repeat(32), 1 << 20, 95_368,
                List.of(wired, mobile), 0, false);
    }

    @Test
    void aHundredGigabytesReadsInGigabytesWithItsCapAndRateLimit() {
        assertThat(Summary.text(hundredGigabytes(), Sizes.SI)).isEqualTo(String.join(System.lineSeparator(),
                "big.iso: 100000000000 bytes (100 GB) in 1000.00 s (100 MB/s), 95368 pieces verified, sha256 " + "ab".repeat(32),
                "  link             address                                    received  pieces   dup     avg rate  share  limits",
                "  eth0             192.168.1.20                                60.0 GB   57221     2    75.0 MB/s  60.0%  rate limit 12.5 MB/s",
                "  usb0             10.55.0.7                                   40.0 GB   38147     0    40.0 MB/s  40.0%  cap 53.7 GB (75% used)",
                "  total                                                         100 GB   95368           100 MB/s",
                "  endgame duplicates: 2.10 MB (0.00% of the file)", ""));
    }

    @Test
    void inIecUnitsTheSameSummaryReadsInGibibytes() {
        String text = Summary.text(hundredGigabytes(), Sizes.IEC);

        assertThat(text).startsWith("big.iso: 100000000000 bytes (93.1 GiB) in 1000.00 s (95.4 MiB/s)");
        assertThat(text).contains("cap 50.0 GiB (75% used)").contains("rate limit 11.9 MiB/s")
                .contains("endgame duplicates: 2.00 MiB");
        assertThat(text).doesNotContain(" MB").doesNotContain(" GB");
    }

    @Test
    void aLinkWithoutLimitsLeavesNoTrailingBlanks() {
        DownloadResult r = new DownloadResult(Path.of("f.bin"), 1000, 1, "ab".repeat(32), "", 1 << 16, 1, List.of(new LinkStats("lo",
                "127.0.0.1", 1000, 1, 0, 0, 0, 0, 1, "closed", LinkOptions.NONE, 0, false, 1, 1)), 0, false);

        assertThat(Summary.text(r, Sizes.SI).lines()).noneMatch(l -> l.endsWith(" "))
                .anySatisfy(l -> assertThat(l).matches("  lo +127\\.0\\.0\\.1 +1\\.00 kB +1 +0 +1\\.00 kB/s +100\\.0%"));
    }
}
