package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParseResult;

/**
 * The quick reader of download command lines against picocli, the reference: a line it accepts
 * must mean the same to picocli, and the lines a download is normally given must be accepted
 * (or the quick path would never run).
 */
class QuickArgsTest {
    private static final String URL = "biternet://198.18.100.1:7420/data.bin";

    /** What a download is normally given: most of the generated lines' pieces. */
    private static final List<String> COMMON = List.of(
            "--iface", "--iface=eth0", "--iface=wlan0:cap=5G,rate=2M", "eth0", "198.18.1.2", "-o", "--output",
            "--output=out.bin", "out.bin", "--json", "-v", "--verbose", "-q", "--quiet", "--verify-disk",
            "--connect-timeout", "--connect-timeout=5", "5", "--retry-time", "--retry-time=0");
    /** Everything else: mistakes, other options, the forms only picocli reads. */
    private static final List<String> ODD = List.of(
            "--iface=", "-oout.bin", "-o=out.bin", "--output=", "--json=true", "-vq", "-qv", "007", "+5", "-1",
            "99999999999", "1e3", "--retry-time=-3", URL, "biternet://[::1]:7420/f", "biternet://h/", "http://h/f", "",
            "-", "--", "@args.txt", "--help", "-h", "-V", "--version", "--tls", "--token-file", "--doctor",
            "--list-ifaces", "--ifac", "--IFACE", "a=b", "-x", "--json ");

    private static String token(int pick) {
        // Three in four pieces from the common ones, so that many lines are ones it accepts.
        return pick % 4 != 0 ? COMMON.get(pick / 4 % COMMON.size()) : ODD.get(pick / 4 % ODD.size());
    }

    @Test
    void aLineItAcceptsMeansTheSameToPicocli() {
        java.util.concurrent.atomic.AtomicInteger accepted = new java.util.concurrent.atomic.AtomicInteger();
        qt().withExamples(3000).forAll(lists().of(integers().between(0, 1 << 16)).ofSizeBetween(0, 7), integers().between(0, 7))
                .checkAssert((picks, at) -> {
                    // One URL somewhere (ODD may add a second one) and the pieces around it.
                    List<String> line = new ArrayList<>(picks.stream().map(QuickArgsTest::token).toList());
                    line.add(Math.min(at, line.size()), URL);
                    String[] args = line.toArray(String[]::new);
                    QuickArgs.Line quick = QuickArgs.parse(args);
                    if (quick != null) {
                        accepted.incrementAndGet();
                        assertThat(picocli(args)).as("picocli's reading of %s", Arrays.toString(args)).isEqualTo(quick);
                    }
                });
        assertThat(accepted.get()).as("generated lines it accepted (the others went to picocli)").isGreaterThan(300);
    }

    @Test
    void theLinesADownloadIsGivenAreReadWithoutPicocli() {
        qt().withExamples(1000).forAll(integers().between(0, 4), integers().between(0, 1 << 20))
                .checkAssert((links, choices) -> {
                    List<List<String>> options = new ArrayList<>(); // each option with its value
                    for (int i = 0; i < links; i++) {
                        String name = i % 2 == 0 ? "eth" + i : "198.18." + i + ".2:cap=2G";
                        options.add(bit(choices, i) ? List.of("--iface=" + name) : List.of("--iface", name));
                    }
                    if (bit(choices, 5)) {
                        options.add(bit(choices, 6) ? List.of("-o", "out dir/f.bin") : List.of("--output=f.bin"));
                    }
                    String[] flags = {"--json", bit(choices, 7) ? "-v" : "--verbose", bit(choices, 8) ? "-q" : "--quiet",
                        "--verify-disk"};
                    for (int i = 0; i < flags.length; i++) {
                        if (bit(choices, 9 + i)) {
                            options.add(List.of(flags[i]));
                        }
                    }
                    if (bit(choices, 13)) {
                        options.add(List.of("--connect-timeout", "" + (choices & 0xff)));
                    }
                    if (bit(choices, 14)) {
                        options.add(List.of("--retry-time=" + (choices >> 8 & 0x3ff)));
                    }
                    options.add(Math.min(options.size(), choices >> 15 & 0x1f), List.of(URL));
                    List<String> args = options.stream().flatMap(List::stream).toList();
                    String[] line = args.toArray(String[]::new);
                    QuickArgs.Line quick = QuickArgs.parse(line);
                    assertThat(quick).as("quick reading of %s", args).isNotNull();
                    assertThat(quick).isEqualTo(picocli(line));
                });
    }

    @Test
    void leavesEverythingElseToPicocli() {
        String[][] declined = {
            {"-vq", URL}, {"--iface", URL}, {"--json", "--json", URL}, {"--output=a", "-o", "b", URL},
            {"@args.txt"}, {"--help"}, {"-V"}, {"--", URL}, {"--retry-time", "-1", URL},
            {"--connect-timeout", "+5", URL}, {URL, URL}, {"--iface", "--json", URL}, {"-oout.bin", URL},
            {"--tls", URL}, {"--token-file", "t", URL}, {"--doctor", "--iface", "eth0", URL}, {"http://h/f"}, {},
            {"--json=true", URL}, {"--iface=", URL}, {"--connect-timeout", "99999999999", URL},
        };
        for (String[] args : declined) {
            assertThat(QuickArgs.parse(args)).as(Arrays.toString(args)).isNull();
        }
        assertThat(QuickArgs.parse(new String[] {"-o", "x.bin", "--iface", "wlan0", "--iface=eth0", URL, "-q"}))
                .isEqualTo(new QuickArgs.Line(URL, List.of("wlan0", "eth0"), Path.of("x.bin"), false, false, true, false,
                        10, Download.DEFAULT_RETRY_SECONDS));
    }

    private static boolean bit(int bits, int i) {
        return (bits >> i & 1) != 0;
    }

    /** The line as picocli reads it into biternet-get's model (it must read it without an error). */
    private static QuickArgs.Line picocli(String[] args) {
        CommandLine cmd = GetCommand.commandLine();
        ParseResult parsed = cmd.parseArgs(args);
        assertThat(parsed.isUsageHelpRequested() || parsed.isVersionHelpRequested()).isFalse();
        CommandSpec spec = cmd.getCommandSpec();
        List<String> ifaces = spec.findOption("--iface").getValue();
        return new QuickArgs.Line(spec.positionalParameters().get(0).getValue(), ifaces == null ? List.of() : ifaces,
                spec.findOption("--output").getValue(), isSet(spec, "--json"), isSet(spec, "--verbose"),
                isSet(spec, "--quiet"), isSet(spec, "--verify-disk"), spec.findOption("--connect-timeout").<Integer>getValue(),
                spec.findOption("--retry-time").<Integer>getValue());
    }

    private static boolean isSet(CommandSpec spec, String option) {
        return Boolean.TRUE.equals(spec.findOption(option).getValue());
    }
}
