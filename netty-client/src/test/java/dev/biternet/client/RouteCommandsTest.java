package dev.biternet.client;

import static dev.biternet.client.Fixtures.get;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** --list-ifaces, --doctor and --help as a user runs them, on this machine's loopback. */
class RouteCommandsTest {
    @Test
    void listIfacesShowsLoopbackAndItsAddress() {
        Fixtures.Run run = get("--list-ifaces");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out().lines().findFirst()).hasValue("interface  addresses");
        assertThat(run.out().lines()).anySatisfy(l -> assertThat(l).matches("lo +.*127\\.0\\.0\\.1/8.*"));
    }

    @Test
    void listIfacesWithAServerSaysWhichInterfacesReachIt() {
        Fixtures.Run run = get("--list-ifaces", "biternet://127.0.0.1:7420/x");

        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out().lines().findFirst().orElseThrow()).endsWith("reaches 127.0.0.1 through it?");
        assertThat(run.out().lines()).anySatisfy(l -> assertThat(l).matches("lo +.*  yes: leaves through lo.*"));
    }

    @Test
    void doctorPassesForLoopbackLinksAndSaysSo() {
        Fixtures.Run run = get("--doctor", "--iface", "127.0.0.2", "--iface", "127.0.0.3", "biternet://127.0.0.1:7420/x");

        assertThat(run.exitCode()).as(run.out() + run.err()).isZero();
        assertThat(run.out()).isEqualTo("""
                routing to 127.0.0.1:
                  127.0.0.2 (lo): ok, leaves through lo (directly connected)
                  127.0.0.3 (lo): ok, leaves through lo (directly connected)
                """);
    }

    @Test
    void doctorNamesAnUnusableIfaceAsUsageError() {
        Fixtures.Run run = get("--doctor", "--iface", "nosuch0", "biternet://127.0.0.1:7420/x");

        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.out()).contains("--iface nosuch0: no such network interface");
    }

    @Test
    void aDownloadWithAnUnusableIfaceFailsAtOnceNotAfterTheRoutingChecksTimeout() {
        long start = System.nanoTime();
        Fixtures.Run run = get("-q", "--iface", "nosuch0", "-o", "/nonexistent/x.bin", "biternet://127.0.0.1:1/x");
        double seconds = (System.nanoTime() - start) / 1e9;

        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).startsWith("biternet-get: --iface nosuch0: no such network interface");
        // The routing check never starts for such a download; waiting for it took its whole 5 s timeout.
        assertThat(seconds).isLessThan(4);
    }

    @Test
    void aUrlIsStillRequiredForADownload() {
        Fixtures.Run run = get("--iface", "127.0.0.1");

        assertThat(run.exitCode()).isEqualTo(ExitCodes.USAGE);
        assertThat(run.err()).contains("Missing required parameter: 'URL'");
    }

    @Test
    void helpListsEveryExitCode() {
        Fixtures.Run run = get("--help");

        assertThat(run.exitCode()).isZero();
        assertThat(run.out()).contains("Exit codes:");
        for (String code : ExitCodes.MEANINGS.keySet()) {
            assertThat(run.out()).containsPattern("(?m)^\\s+" + code + "\\s+\\S");
        }
    }

    @Test
    void theReadmeListsTheSameExitCodes() throws Exception {
        String readme = java.nio.file.Files.readString(java.nio.file.Path.of("..", "README.md"));
        String table = readme.substring(readme.indexOf("### Exit codes"), readme.indexOf("biternet-serve:", readme.indexOf("### Exit codes")));
        java.util.List<String> codes = table.lines().filter(l -> l.matches("\\| \\d+ \\|.*"))
                .map(l -> l.split("\\|")[1].strip()).toList();

        assertThat(codes).containsExactlyElementsOf(ExitCodes.MEANINGS.keySet());
    }

    @Test
    void serverAddressesInEveryForm() {
        assertThat(GetCommand.serverHost("198.18.100.1")).isEqualTo("198.18.100.1");
        assertThat(GetCommand.serverHost("server.example:7420")).isEqualTo("server.example");
        assertThat(GetCommand.serverHost("[2001:db8::1]:7420")).isEqualTo("2001:db8::1");
        assertThat(GetCommand.serverHost("2001:db8::1")).isEqualTo("2001:db8::1");
        assertThat(GetCommand.serverHost("biternet://[::1]:7420/f")).isEqualTo("::1");
    }
}
