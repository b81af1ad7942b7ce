package dev.biternet.common.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;

/** Sizes as a user types and reads them: examples of both systems, and properties over every long. */
class SizesTest {
    /** Every long, with small values and both systems' unit boundaries (2^n, 10^n, give or take 3) likely too. */
    private static final Gen<Long> SIZES = longs().between(0, 5000)
            .mix(longs().between(0, Long.MAX_VALUE), 40)
            .mix(integers().between(1, 62).zip(integers().between(-3, 3), (n, d) -> Math.max(0, (1L << n) + d)), 20)
            .mix(integers().between(1, 18).zip(integers().between(-3, 3), (n, d) -> Math.max(0, (long) Math.pow(10, n) + d)), 20);

    @Test
    void aHundredGigabytesReadAsSuch() {
        assertThat(Sizes.SI.bytes(100_000_000_000L)).isEqualTo("100 GB");
        assertThat(Sizes.IEC.bytes(100_000_000_000L)).isEqualTo("93.1 GiB");
        assertThat(Sizes.SI.bytes(24_000_000)).isEqualTo("24.0 MB");
        assertThat(Sizes.IEC.bytes(24_000_000)).isEqualTo("22.9 MiB");
        assertThat(Sizes.SI.bytes(4_000_000_000_000L)).isEqualTo("4.00 TB");
    }

    @Test
    void smallValuesInWholeBytesAndRoundingUpMovesToTheNextUnit() {
        assertThat(Sizes.SI.bytes(0)).isEqualTo("0 B");
        assertThat(Sizes.SI.bytes(999)).isEqualTo("999 B");
        assertThat(Sizes.SI.bytes(1000)).isEqualTo("1.00 kB");
        assertThat(Sizes.IEC.bytes(1023)).isEqualTo("1023 B");
        assertThat(Sizes.IEC.bytes(1000 * 1024)).isEqualTo("1000 KiB");
        assertThat(Sizes.SI.bytes(999_600)).isEqualTo("1.00 MB");
        assertThat(Sizes.IEC.bytes(1024 * 1024 - 1)).isEqualTo("1.00 MiB");
        assertThat(Sizes.SI.bytes(9_996)).isEqualTo("10.0 kB");
        assertThat(Sizes.SI.bytes(Long.MAX_VALUE)).isEqualTo("9.22 EB");
        assertThat(Sizes.IEC.bytes(Long.MAX_VALUE)).isEqualTo("8.00 EiB");
    }

    @Test
    void ratesScaleTheSameWayPerSecond() {
        assertThat(Sizes.SI.rate(11_400_000)).isEqualTo("11.4 MB/s");
        assertThat(Sizes.IEC.rate(2 * 1024 * 1024)).isEqualTo("2.00 MiB/s");
        assertThat(Sizes.SI.rate(0)).isEqualTo("0 B/s");
        assertThat(Sizes.SI.rate(0.4)).isEqualTo("0 B/s");
        assertThat(Sizes.SI.rate(1.25e9)).isEqualTo("1.25 GB/s");
    }

    @Test
    void parsesWhatUsersTypeInEitherSystem() {
        assertThat(Sizes.parse("123")).isEqualTo(123);
        assertThat(Sizes.parse("100k")).isEqualTo(100_000);
        assertThat(Sizes.parse("500M")).isEqualTo(500_000_000);
        assertThat(Sizes.parse("1.5G")).isEqualTo(1_500_000_000);
        assertThat(Sizes.parse("2GB")).isEqualTo(2_000_000_000);
        assertThat(Sizes.parse("2Gi")).isEqualTo(2L << 30);
        assertThat(Sizes.parse("3.81 MiB")).isEqualTo(Math.round(3.81 * (1 << 20)));
        assertThat(Sizes.parse("1.23 GB")).isEqualTo(1_230_000_000);
        assertThat(Sizes.parse("512 B")).isEqualTo(512);
        assertThat(Sizes.parse("1T")).isEqualTo(1_000_000_000_000L);
    }

    @Test
    void refusesWhatIsNotASize() {
        for (String bad : new String[] {"", "x", "5 ", "-1", "1.5Bi", "2 GiBB", "1e9", ".5G", "2 g"}) {
            assertThatThrownBy(() -> Sizes.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(bad + " is not a size (e.g. 500M, 2Gi, 1.5GB)");
        }
    }

    @Test
    void theSystemIsTheOneTyped() {
        assertThat(Sizes.of("eth0:cap=2Gi,rate=10M")).isEqualTo(Sizes.IEC);
        assertThat(Sizes.of("eth0:cap=500 MiB")).isEqualTo(Sizes.IEC);
        assertThat(Sizes.of("eth0:cap=2G,rate=10M")).isEqualTo(Sizes.SI);
        assertThat(Sizes.of("wlan0")).isEqualTo(Sizes.SI);
    }

    @Test
    void whatIsPrintedReadsBackWithinItsRounding() {
        for (Sizes system : Sizes.values()) {
            qt().forAll(SIZES).checkAssert(x -> {
                long back = Sizes.parse(system.bytes(x));
                // Three significant digits: at most half a unit in the third digit, 0.5 % of the value.
                assertThat((double) Math.abs(back - x)).as(system.bytes(x)).isLessThanOrEqualTo(0.005 * x + 1);
                assertThat(Sizes.parse(system.rate(x).replace("/s", ""))).isEqualTo(back);
            });
        }
    }

    @Test
    void aLargerSizeNeverPrintsSmaller() {
        for (Sizes system : Sizes.values()) {
            qt().forAll(SIZES, SIZES).checkAssert((a, b) -> {
                long lo = Math.min(a, b);
                long hi = Math.max(a, b);
                assertThat(Sizes.parse(system.bytes(lo))).as(system.bytes(lo) + " vs " + system.bytes(hi))
                        .isLessThanOrEqualTo(Sizes.parse(system.bytes(hi)));
            });
        }
    }

    @Test
    void neverMoreThanFourSignificantDigitsAndThreeInSi() {
        for (Sizes system : Sizes.values()) {
            qt().forAll(SIZES).checkAssert(x -> {
                String shown = system.bytes(x);
                String digits = shown.substring(0, shown.indexOf(' ')).replace(".", "").replaceFirst("^0+(?=\\d)", "");
                assertThat(digits.length()).as(shown).isLessThanOrEqualTo(system == Sizes.SI ? 3 : 4);
                assertThat(shown).matches("\\d+(\\.\\d+)? (B|[kMGTPE]B|[KMGTPE]iB)");
            });
        }
    }
}
