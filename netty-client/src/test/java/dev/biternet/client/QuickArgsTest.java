package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.lists;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * The quick reader of download command lines against picocli, the reference: a line it accepts
 * must leave the same values in biternet-get's fields, every download option of the picocli
 * model must be read by both, and the lines the quick path leaves to the command (a bad URL, a
 * missing token file) must end as they end through picocli.
 */
class QuickArgsTest {
    private static final String URL = "biternet://198.18.100.1:7420/data.bin";

    /** What a download is normally given: most of the generated lines' pieces. */
    private static final List<String> COMMON = List.of(
            "--iface", "--iface=eth0", "--iface=wlan0:cap=5G,rate=2M", "eth0", "198.18.1.2", "-o", "--output",
            "--output=out.bin", "out.bin", "--json", "-v", "--verbose", "-q", "--quiet", "--verify-disk",
            "--connect-timeout", "--connect-timeout=5", "5", "--retry-time", "--retry-time=0", "--tls", "--tls-insecure",
            "--tls-trust", "--tls-trust=ca.pem", "--token-file", "--token-file=token", "--si", "--iec",
            "--iface=eth0:cap=2Gi");
    /** Everything else: mistakes, the options that start no download, the forms only picocli reads. */
    private static final List<String> ODD = List.of(
            "--iface=", "-oout.bin", "-o=out.bin", "--output=", "--json=true", "-vq", "-qv", "007", "010", "+5", "-1",
            "99999999999", "1e3", "--retry-time=-3", URL, "biternet://[::1]:7420/f", "biternet://h/", "http://h/f", "",
            "-", "--", "@args.txt", "--help", "-h", "-V", "--version", "--doctor", "--list-ifaces", "--list-ifaces=h",
            "--ifac", "--IFACE", "a=b", "-x", "--json ", "--tls=false");

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
                        assertThat(quickly(quick)).as("%s read quickly and by picocli", Arrays.toString(args))
                                .isEqualTo(picocli(args));
                    }
                });
        assertThat(accepted.get()).as("generated lines it accepted (the others went to picocli)").isGreaterThan(300);
    }

    /**
     * Lines made from the picocli model itself: every option that starts a download, in each of
     * its names and forms, with random valid values, in random order around the URL.
     */
    @Test
    void randomValidLinesReadTheSameBothWays() {
        // Every option a download can be given: one the quick path does not read fails here.
        List<OptionSpec> options = GetCommand.commandLine().getCommandSpec().options().stream()
                .filter(o -> !o.usageHelp() && !o.versionHelp() && !QuickArgs.noDownload(o.longestName()))
                .toList();
        assertThat(options).extracting(OptionSpec::longestName)
                .contains("--iface", "--output", "--retry-time", "--token-file", "--tls", "--tls-trust");
        qt().withExamples(2000).forAll(integers().all()).checkAssert(seed -> {
            Random random = new Random(seed);
            List<List<String>> given = new ArrayList<>(); // each option with its value
            for (OptionSpec o : options) {
                int times = o.type() == List.class ? random.nextInt(4) : random.nextInt(2);
                for (int i = 0; i < times; i++) {
                    String name = o.names()[random.nextInt(o.names().length)];
                    if (o.type() == boolean.class) {
                        given.add(List.of(name));
                        continue;
                    }
                    String value = value(o, random);
                    given.add(name.startsWith("--") && random.nextBoolean() ? List.of(name + "=" + value) : List.of(name, value));
                }
            }
            java.util.Collections.shuffle(given, random);
            given.add(random.nextInt(given.size() + 1), List.of(random.nextBoolean() ? URL : "biternet://[::1]:7/d/f " + seed));
            String[] args = given.stream().flatMap(List::stream).toArray(String[]::new);
            QuickArgs.Line quick = QuickArgs.parse(args);
            assertThat(quick).as("quick reading of %s", Arrays.toString(args)).isNotNull();
            assertThat(quickly(quick)).as("%s read quickly and by picocli", Arrays.toString(args)).isEqualTo(picocli(args));
        });
    }

    /** A valid value: digits (leading zeros too) for a number, else a name that is no option and no @file. */
    private static String value(OptionSpec o, Random random) {
        if (o.type() == int.class) {
            return "0".repeat(random.nextInt(3)) + random.nextInt(100_000);
        }
        String alphabet = "abcXYZ019./_:=, -@~";
        StringBuilder s = new StringBuilder().append("abcxyz019./~".charAt(random.nextInt(12)));
        for (int i = random.nextInt(12); i > 0; i--) {
            s.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return s.toString();
    }

    @Test
    void leavesEverythingElseToPicocli() {
        String[][] declined = {
            {"-vq", URL}, {"--json", "--json", URL}, {"--output=a", "-o", "b", URL},
            {"@args.txt"}, {"--help"}, {"-V"}, {"--", URL}, {"--retry-time", "-1", URL},
            {"--connect-timeout", "+5", URL}, {URL, URL}, {"--iface", "--json", URL}, {"-oout.bin", URL},
            {"--doctor", "--iface", "eth0", URL}, {"--list-ifaces"}, {"--json=true", URL}, {"--iface=", URL},
            {"--connect-timeout", "99999999999", URL}, {"--tls=true", URL}, {"--token-file", "@t", URL},
        };
        for (String[] args : declined) {
            assertThat(QuickArgs.parse(args)).as(Arrays.toString(args)).isNull();
        }
        GetCommand read = new GetCommand();
        QuickArgs.parse(new String[] {"-o", "x.bin", "--iface", "wlan0", "--iface=eth0", URL, "-q"}).applyTo(read);
        Map<String, Object> values = values(new CommandLine(read).getCommandSpec());
        assertThat(values).containsEntry("URL", URL).containsEntry("--iface", List.of("wlan0", "eth0"))
                .containsEntry("--output", Path.of("x.bin")).containsEntry("--quiet", true).containsEntry("--json", false)
                .containsEntry("--connect-timeout", 10).containsEntry("--retry-time", Download.DEFAULT_RETRY_SECONDS);
    }

    /**
     * Lines the quick path reads but the command refuses end as picocli ends them: the same
     * message and usage on stderr, the same exit code (the quick path hands them to picocli).
     */
    @Test
    void usageErrorsOnTheQuickPathEndAsThroughPicocli() throws IOException {
        Path missing = Path.of("no-such-token-file");
        String[][] refused = {{}, {"ftp://h/f"}, {"--tls-insecure", URL}, {"--token-file", missing.toString(), URL}};
        for (String[] args : refused) {
            assertThat(QuickArgs.parse(args)).as(Arrays.toString(args)).isNotNull();
            Prerequisites.Exec quick = Prerequisites.exec(Prerequisites.clientCommand(args));
            Fixtures.Run picocli = Fixtures.get(args);
            assertThat(quick.code()).as(Arrays.toString(args)).isEqualTo(ExitCodes.USAGE).isEqualTo(picocli.exitCode());
            assertThat(quick.out()).as(Arrays.toString(args)).isEqualTo(picocli.err()).doesNotContain("Exception");
        }
    }

    /** The table in the classes is the one the model makes now (not one left from an older build). */
    @Test
    void theTableIsTheModels() throws IOException {
        try (InputStream in = QuickArgs.class.getResourceAsStream(QuickTable.RESOURCE)) {
            assertThat(in).as(QuickTable.RESOURCE + " in the classes").isNotNull();
            assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8))
                    .isEqualTo(QuickTable.generate(GetCommand.commandLine().getCommandSpec()));
        }
    }

    /**
     * bin/biternet-get records a class list for its class-data archive only on a download: its
     * list of the options after which none follows is the model's.
     */
    @Test
    void theLauncherKnowsTheOptionsThatStartNoDownload() throws IOException {
        String launcher = Files.readString(Path.of("..", "bin", "biternet-get"));
        Matcher m = Pattern.compile("=~ \\\\ \\(([^)]*)\\)\\[\\\\ =\\]").matcher(launcher);
        assertThat(m.find()).as("the launcher's test for options that start no download").isTrue();
        Set<String> stops = new TreeSet<>();
        for (String line : QuickTable.generate(GetCommand.commandLine().getCommandSpec()).split("\n")) {
            if (line.startsWith("stop ")) {
                stops.addAll(List.of(line.split(" ")).subList(2, line.split(" ").length));
            }
        }
        assertThat(new TreeSet<>(List.of(m.group(1).split("\\|")))).isEqualTo(stops);
        assertThat(stops).allMatch(QuickArgs::noDownload);
    }

    /** Every parameter's value in a command's model, by its longest name. */
    private static Map<String, Object> values(CommandSpec spec) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (ArgSpec a : spec.args()) {
            values.put(a instanceof OptionSpec o ? o.longestName() : a.paramLabel(), a.getValue());
        }
        return values;
    }

    private static Map<String, Object> quickly(QuickArgs.Line line) {
        GetCommand command = new GetCommand();
        line.applyTo(command);
        return values(new CommandLine(command).getCommandSpec());
    }

    /** The line as picocli reads it into biternet-get's model (it must read it without an error). */
    private static Map<String, Object> picocli(String[] args) {
        CommandLine cmd = GetCommand.commandLine();
        ParseResult parsed = cmd.parseArgs(args);
        assertThat(parsed.isUsageHelpRequested() || parsed.isVersionHelpRequested()).isFalse();
        return values(cmd.getCommandSpec());
    }
}
