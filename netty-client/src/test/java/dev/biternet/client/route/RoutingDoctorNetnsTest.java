package dev.biternet.client.route;

import static dev.biternet.client.Prerequisites.exec;
import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.Prerequisites;
import dev.biternet.client.Prerequisites.Exec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The routing doctor on a real multi-homed machine made of network namespaces: a client with two
 * uplinks, both with a default route (the second with a higher metric, as DHCP on two networks
 * leaves it) and no policy routing, and a server with one service address behind both. The
 * doctor must find that traffic from the second uplink's address leaves through the first, and
 * the commands it prints, run as printed, must make the traffic really leave through the second
 * (counted on the interfaces during a real download) and the doctor pass. Needs root and
 * iproute2; addresses from 198.18.0.0/15 only.
 */
class RoutingDoctorNetnsTest {
    private static final String SERVICE = "198.18.110.1";
    private final String id = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt()).substring(0, 6);
    private final String cli = "bdoc" + id + "c";
    private final String srv = "bdoc" + id + "s";
    private final String up1 = "dc" + id + "a";
    private final String up2 = "dc" + id + "b";

    @TempDir
    Path dir;

    @Test
    void findsTheMisroutedUplinkAndItsPrintedFixWorks() throws Exception {
        Prerequisites.require(Prerequisites.root(), "needs root to create network namespaces");
        Prerequisites.require(Prerequisites.onPath("ip"), "needs iproute2 ('ip')");
        Process server = null;
        try {
            buildLab();
            Path root = Files.createDirectories(dir.resolve("served"));
            byte[] data = new byte[4_000_000];
            new SplittableRandom(3).nextBytes(data);
            Files.write(root.resolve("f.bin"), data);
            server = new ProcessBuilder(inNs(srv, serverCommand(root))).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("serve.log").toFile()).start();
            String url = "biternet://" + SERVICE + ":7420/f.bin";
            // Table 101 already holds another link's route (no rule uses it yet): the fix must not
            // name it. An unused table answers "FIB table does not exist", which is no reason to skip it.
            sh(inNs(cli, List.of("ip", "route", "add", "default", "via", "198.18.11.1", "dev", up1, "table", "101")));

            Exec before = client("--doctor", "--iface", "198.18.11.2", "--iface", "198.18.12.2", "--iface", up2, url);

            assertThat(before.code()).as(before.out()).isEqualTo(7);
            assertThat(before.out()).contains("198.18.11.2 (" + up1 + "): ok, leaves through " + up1 + " via 198.18.11.1");
            assertThat(before.out()).contains("198.18.12.2 (" + up2 + "): PROBLEM: traffic from 198.18.12.2 to " + SERVICE
                    + " leaves through " + up1 + ", not " + up2);
            // A link pinned to the device uses the device's own default route (metric 200): fine as it is.
            assertThat(before.out()).contains(up2 + " (198.18.12.2): ok, pinned to " + up2 + ", leaves through it via 198.18.12.1");
            List<String> fix = before.out().lines().map(String::strip).filter(l -> l.startsWith("ip ")).toList();
            assertThat(fix).containsExactly("ip rule add from 198.18.12.2 table 102",
                    "ip route add default via 198.18.12.1 dev " + up2 + " table 102");
            awaitServer();
            // For real: a download bound to 198.18.12.2 sends its packets out of the first uplink,
            // and biternet-get warns before it starts, with the same fix.
            long[] sent = download("198.18.12.2", url, true);
            assertThat(sent[0]).as("packets out of %s", up1).isGreaterThan(30);
            assertThat(sent[1]).as("packets out of %s", up2).isLessThan(sent[0] / 5);

            for (String command : fix) {
                sh(inNs(cli, Arrays.asList(command.split(" "))));
            }
            Exec after = client("--doctor", "--iface", "198.18.11.2", "--iface", "198.18.12.2", url);

            assertThat(after.code()).as(after.out()).isZero();
            assertThat(after.out()).contains("198.18.12.2 (" + up2 + "): ok, leaves through " + up2 + " via 198.18.12.1");
            sent = download("198.18.12.2", url, false);
            assertThat(sent[1]).as("packets out of %s", up2).isGreaterThan(30);
            assertThat(sent[0]).as("packets out of %s", up1).isLessThan(sent[1] / 5);
        } finally {
            if (server != null) {
                server.destroy();
                server.waitFor(10, TimeUnit.SECONDS);
            }
            exec(List.of("ip", "netns", "del", cli));
            exec(List.of("ip", "netns", "del", srv));
        }
    }

    private void buildLab() throws Exception {
        sh(List.of("ip", "netns", "add", cli));
        sh(List.of("ip", "netns", "add", srv));
        for (String ns : List.of(cli, srv)) {
            sh(inNs(ns, List.of("ip", "link", "set", "lo", "up")));
            // Replies for the second uplink's address arrive on it while its requests left by the
            // first: strict reverse-path filtering would drop them and hide the misroute as a hang.
            sh(inNs(ns, List.of("sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0")));
            sh(inNs(ns, List.of("sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")));
        }
        sh(inNs(srv, List.of("ip", "addr", "add", SERVICE + "/32", "dev", "lo")));
        String[] client = {up1, up2};
        for (int i = 0; i < 2; i++) {
            String c = client[i];
            String s = "ds" + id + (char) ('a' + i);
            String net = "198.18." + (11 + i) + ".";
            sh(List.of("ip", "link", "add", c, "netns", cli, "type", "veth", "peer", "name", s, "netns", srv));
            sh(inNs(cli, List.of("ip", "addr", "add", net + "2/24", "dev", c)));
            sh(inNs(srv, List.of("ip", "addr", "add", net + "1/24", "dev", s)));
            sh(inNs(cli, List.of("ip", "link", "set", c, "up")));
            sh(inNs(srv, List.of("ip", "link", "set", s, "up")));
            sh(inNs(cli, List.of("ip", "route", "add", "default", "via", net + "1", "dev", c, "metric", (i + 1) * 100 + "")));
        }
    }

    /** Downloads over one --iface; returns the packets each uplink sent meanwhile. */
    private long[] download(String iface, String url, boolean warned) throws Exception {
        long a = txPackets(up1);
        long b = txPackets(up2);
        Files.deleteIfExists(dir.resolve("out.bin"));
        Exec r = client("--quiet", "--iface", iface, "-o", dir.resolve("out.bin").toString(), url);
        assertThat(r.code()).as(r.out()).isZero();
        assertThat(Files.size(dir.resolve("out.bin"))).isEqualTo(4_000_000);
        if (warned) {
            assertThat(r.out()).contains("biternet-get: warning: not every link's traffic leaves through its own interface",
                    "      ip rule add from " + iface + " table 102\n");
        } else {
            assertThat(r.out()).doesNotContain("warning");
        }
        return new long[] {txPackets(up1) - a, txPackets(up2) - b};
    }

    private long txPackets(String dev) throws Exception {
        return Long.parseLong(sh(inNs(cli, List.of("cat", "/sys/class/net/" + dev + "/statistics/tx_packets"))).strip());
    }

    private void awaitServer() throws Exception {
        for (int i = 0; i < 300; i++) {
            if (Files.readString(dir.resolve("serve.log")).contains("serving")) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("biternet-serve did not start: " + Files.readString(dir.resolve("serve.log")));
    }

    private List<String> serverCommand(Path root) {
        List<String> cmd = new ArrayList<>(Prerequisites.clientCommand());
        cmd.set(cmd.size() - 1, "dev.biternet.server.ServeCommand");
        cmd.addAll(List.of("--root", root.toString(), "--host", SERVICE, "--port", "7420"));
        return cmd;
    }

    private Exec client(String... args) throws Exception {
        return exec(inNs(cli, Prerequisites.clientCommand(args)));
    }

    private static List<String> inNs(String ns, List<String> cmd) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(cmd);
        return full;
    }

    private static String sh(List<String> cmd) throws Exception {
        Exec r = exec(cmd);
        if (r.code() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (" + r.code() + "): " + r.out());
        }
        return r.out();
    }

}
