package dev.biternet.client.ui;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.Progress;
import dev.biternet.client.link.LinkOptions;
import dev.biternet.client.link.LinkStats;
import dev.biternet.common.cli.Sizes;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What the progress display shows for given snapshots: lines, states, widths, rates, plain lines. */
class ProgressRendererTest {
    private static final long MIB = 1 << 20;
    private static final int PIECE = 256 * 1024;
    private static final ProgressRenderer IEC = new ProgressRenderer(Sizes.IEC);
    private static final ProgressRenderer SI = new ProgressRenderer(Sizes.SI);

    private static LinkStats link(String name, String address, long bytes, String state, long cap, long rate) {
        return new LinkStats(name, address, bytes, (int) (bytes / PIECE), 0, 0, 0, 0, 1.0, state,
                new LinkOptions(cap, rate, LinkOptions.AUTO_FLOWS), 0, false, 40, 1);
    }

    private static Progress downloading(long verified, LinkStats... links) {
        return new Progress(Progress.Phase.DOWNLOADING, 64 * MIB, verified, PIECE, List.of(links));
    }

    @Test
    void oneLinePerLinkAndATotalLine() {
        Progress p = downloading(32 * MIB,
                link("eth0", "192.168.1.20", 24 * MIB, "up", 0, 0),
                link("usb0", "10.55.0.7", 8 * MIB, "up", 20 * MIB, 2_000_000));

        List<String> lines = IEC.lines(p, new double[] {3 * MIB, MIB}, 200);

        assertThat(lines).containsExactly(
                "link  address       state              rate      rtt    received  share  limits",
                "eth0  192.168.1.20  up           3.00 MiB/s    40 ms    24.0 MiB  37.5%",
                "usb0  10.55.0.7     up           1.00 MiB/s    40 ms    8.00 MiB  12.5%  cap 40% of 20.0 MiB, rate limit 1.91 MiB/s",
                "total   50.0%  4.00 MiB/s  ETA 0:08  32.0 MiB of 64.0 MiB verified");
    }

    /** A backup link says so; the latest link events show under the total, oldest first, three at most. */
    @Test
    void backupLinksAndTheLatestLinkEventsAreShown() {
        LinkStats backup = new LinkStats("usb0", "10.55.0.7", 0, 0, 0, 0, 0, 0, 0, "standby",
                new LinkOptions(0, 0, 1, true), 0, false, 0, 1);
        List<dev.biternet.client.link.LinkEvent> events = List.of(
                new dev.biternet.client.link.LinkEvent(1.0, "wlan0", "left", "", "link wlan0 left"),
                new dev.biternet.client.link.LinkEvent(3.5, "wlan0", "joined", "10.1.1.9", "link wlan0 joined (10.1.1.9)"),
                new dev.biternet.client.link.LinkEvent(9.2, "usb0", "took_over", "10.55.0.7", "link usb0 took over"),
                new dev.biternet.client.link.LinkEvent(12.0, "usb0", "stood_by", "10.55.0.7", "link usb0 stands by again"));
        Progress p = new Progress(Progress.Phase.DOWNLOADING, 64 * MIB, 32 * MIB, PIECE,
                List.of(link("eth0", "192.168.1.20", 32 * MIB, "up", 0, 0), backup), events);

        List<String> lines = IEC.lines(p, new double[] {3 * MIB, 0}, 200);

        assertThat(lines).containsExactly(
                "link  address       state              rate      rtt    received  share  limits",
                "eth0  192.168.1.20  up           3.00 MiB/s    40 ms    32.0 MiB  50.0%",
                "usb0  10.55.0.7     standby           0 B/s                  0 B   0.0%  backup",
                "total   50.0%  3.00 MiB/s  ETA 0:11  32.0 MiB of 64.0 MiB verified",
                "    3.5 s  link wlan0 joined (10.1.1.9)",
                "    9.2 s  link usb0 took over",
                "   12.0 s  link usb0 stands by again");
    }

    @Test
    void aChannelToAnHttpMirrorNamesItsLinkAndTheMirror() {
        LinkStats http = new LinkStats("eth0", "192.168.1.20", 8 * MIB, 32, 0, 0, 0, 0, 1.0, "up", LinkOptions.NONE, 0,
                false, 0, 1, "mirror.example:443");
        List<String> lines = IEC.lines(downloading(8 * MIB, http), new double[] {MIB}, 200);
        assertThat(lines.get(1)).startsWith("eth0>mirror.example:443  192.168.1.20  up");
    }

    @Test
    void aHundredGigabytesInSiUnitsScaleFromMegabytesToGigabytes() {
        long file = 100_000_000_000L;
        Progress p = new Progress(Progress.Phase.DOWNLOADING, file, 95_367_431_640L, 1 << 20, List.of(
                link("eth0", "192.168.1.20", 95_000_000_000L, "up", 0, 12_500_000),
                link("usb0", "10.55.0.7", 999_999_999, "up", 2_000_000_000L, 0)));

        List<String> lines = SI.lines(p, new double[] {11_400_000, 870_000}, 200);

        assertThat(lines).containsExactly(
                "link  address       state              rate      rtt    received  share  limits",
                "eth0  192.168.1.20  up            11.4 MB/s    40 ms     95.0 GB  95.0%  rate limit 12.5 MB/s",
                "usb0  10.55.0.7     up             870 kB/s    40 ms     1.00 GB   1.0%  cap 50% of 2.00 GB",
                "total   95.4%  12.3 MB/s  ETA 6:18  95.4 GB of 100 GB verified");
    }

    @Test
    void aLinkAtItsCapShowsCappedAndALostLinkItsReason() {
        Progress p = downloading(10 * MIB,
                link("wlan0", "192.168.1.20", 20 * MIB - 1000, "up", 20 * MIB, 0),
                link("usb0", "10.55.0.7", MIB, "failed: connection reset by peer", 0, 0));

        List<String> lines = IEC.lines(p, new double[] {0, 0}, 200);

        assertThat(lines.get(1)).contains(" capped ").endsWith("cap 100% of 20.0 MiB");
        assertThat(lines.get(2)).contains(" lost ").endsWith("connection reset by peer");
        assertThat(lines.get(3)).contains("ETA --:--");
    }

    @Test
    void aLinkDroppedForBadPiecesSaysSoAndWhy() {
        LinkStats bad = new LinkStats("eth1", "10.0.0.2", MIB, 4, 0, 0, 3, 3 * PIECE, 1.0,
                "dropped: 3 pieces failed their hash", LinkOptions.NONE, 0, true, 0, 1);
        Progress p = downloading(10 * MIB, link("eth0", "10.0.0.1", 9 * MIB, "up", 0, 0), bad);

        List<String> lines = IEC.lines(p, new double[] {0, 0}, 200);

        assertThat(lines.get(2)).contains(" dropped ").endsWith("3 pieces failed their hash");
    }

    @Test
    void everyLineFitsTheTerminalWidth() {
        Progress p = downloading(MIB, link("enx00e04c680001", "2001:db8:1234:5678:9abc:def0:1234:5678", MIB, "up", 0, 0));

        List<String> lines = IEC.lines(p, new double[] {MIB}, 40);

        assertThat(lines).hasSize(3).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(39));
        assertThat(lines.get(1)).isEqualTo("enx00e04c680001  2001:db8:1234:5678:9ab");
        assertThat(lines.get(2)).isEqualTo("total    1.6%  1.00 MiB/s  ETA 1:03  1.");
    }

    @Test
    void phasesBeforeAndAfterTheTransfer() {
        LinkStats l = link("eth0", "192.168.1.20", 64 * MIB, "closed", 0, 0);
        Progress verifying = new Progress(Progress.Phase.VERIFYING, 64 * MIB, 64 * MIB, PIECE, List.of(l));
        Progress done = new Progress(Progress.Phase.DONE, 64 * MIB, 64 * MIB, PIECE, List.of(l));

        assertThat(IEC.lines(verifying, new double[] {0}, 120).get(2))
                .isEqualTo("total  100.0%  all pieces in, checking the whole file");
        assertThat(IEC.lines(done, new double[] {0}, 120))
                .element(1).asString().contains(" done ");
        assertThat(IEC.lines(done, new double[] {0}, 120).get(2)).isEqualTo("total  100.0%  64.0 MiB verified");
    }

    @Test
    void etaPastAnHourShowsHours() {
        assertThat(ProgressRenderer.duration(3 * 3600 + 62)).isEqualTo("3:01:02");
        assertThat(ProgressRenderer.duration(59.2)).isEqualTo("1:00");
    }

    @Test
    void ratesFollowTheByteCountersAndSettleOnASteadyRate() {
        RateMeter meter = new RateMeter();
        long second = TimeUnit.SECONDS.toNanos(1);
        double[] rates = meter.sample(downloading(0, link("a", "x", 0, "up", 0, 0), link("b", "y", 0, "up", 0, 0)), 0);
        assertThat(rates).containsExactly(0, 0);
        for (int t = 1; t <= 20; t++) {
            rates = meter.sample(downloading(0, link("a", "x", t * 4 * MIB, "up", 0, 0), link("b", "y", 0, "up", 0, 0)),
                    t * second / 4);
        }
        // 4 MiB every quarter second is 16 MiB/s; after 5 s of it the average is within 1 %.
        assertThat(rates[0]).isBetween(0.99 * 16 * MIB, 16.0 * MIB);
        assertThat(rates[1]).isZero();
    }

    @Test
    void plainOutputIsOneLineEveryPeriodAndNoneForAShortDownload() {
        StringWriter text = new StringWriter();
        ProgressReporter.PlainSink sink = new ProgressReporter.PlainSink(new PrintWriter(text), 5_000, IEC);
        Progress p = downloading(16 * MIB, link("eth0", "192.168.1.20", 16 * MIB, "up", 0, 0));
        double[] rates = {2 * MIB};

        for (long t = 0; t <= 4_999; t += 250) {
            sink.show(p, rates, t);
        }
        assertThat(text.toString()).isEmpty();
        for (long t = 5_000; t <= 15_000; t += 250) {
            sink.show(p, rates, t);
        }
        assertThat(text.toString().lines()).hasSize(3).allSatisfy(l -> assertThat(l).isEqualTo(
                "biternet-get: total   25.0%  2.00 MiB/s  ETA 0:24  16.0 MiB of 64.0 MiB verified; eth0 up 2.00 MiB/s"));
    }
}
