package dev.biternet.client;

import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.server.BiternetServer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a script reads from {@code biternet-get --json}: exactly one JSON object on stdout, with
 * its schema version, for a download that succeeds, for each way one fails (with what was kept),
 * and for --doctor and --list-ifaces. The fields are the ones docs/JSON.md lists.
 */
class JsonOutputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private BiternetServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private String url(String path) throws Exception {
        if (server == null) {
            server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
        }
        return "biternet://127.0.0.1:" + server.port() + "/" + path;
    }

    /** The one object stdout holds (one line), after checking it is the only line and docs/JSON.md lists its every field. */
    private static JsonNode object(Fixtures.Run run) throws Exception {
        assertThat(run.out().lines()).as(run.out() + run.err()).hasSize(1);
        JsonNode o = JSON.readTree(run.out());
        assertThat(o.get("schema_version").asInt()).isEqualTo(JsonOutput.SCHEMA_VERSION).isEqualTo(1);
        String docs = Files.readString(Path.of("..", "docs", "JSON.md"));
        assertThat(fields(o, "")).allSatisfy(f -> assertThat(docs).as("docs/JSON.md").contains("| `" + f + "` |"));
        return o;
    }

    /** The paths of the values in {@code node} that are not objects: {@code links[].iface}, {@code error.code.name}. */
    private static Set<String> fields(JsonNode node, String path) {
        Set<String> out = new TreeSet<>();
        if (node.isObject()) {
            node.fields().forEachRemaining(f -> out.addAll(fields(f.getValue(), path.isEmpty() ? f.getKey() : path + "." + f.getKey())));
        } else if (node.isArray() && node.size() > 0 && node.get(0).isObject()) {
            node.forEach(e -> out.addAll(fields(e, path + "[]")));
        } else {
            out.add(path);
        }
        return out;
    }

    /** The error object, checked against the exit code and the line stderr shows. */
    private static JsonNode error(Fixtures.Run run, int code, String name) throws Exception {
        assertThat(run.exitCode()).as(run.err()).isEqualTo(code);
        JsonNode error = object(run).get("error");
        assertThat(error.get("code").get("number").asInt()).isEqualTo(code);
        assertThat(error.get("code").get("name").asText()).isEqualTo(name);
        assertThat(error.get("message").asText()).isNotEmpty().doesNotContain("\n");
        return error;
    }

    @Test
    void aDownloadThatSucceedsGivesTheSummaryWithItsSchemaVersion() throws Exception {
        randomFile(root, "ok.bin", 300_000, 1);

        Fixtures.Run run = get("--json", "-q", "-o", downloads.resolve("ok.bin").toString(), url("ok.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode summary = object(run);
        assertThat(summary.get("bytes").asLong()).isEqualTo(300_000);
        assertThat(summary.has("error")).isFalse();
    }

    @Test
    void aPathTheServerDoesNotHaveGivesAnErrorObjectAndKeepsNothing() throws Exception {
        Fixtures.Run run = get("--json", "-q", "-o", downloads.resolve("nope.bin").toString(), url("nope.bin"));

        JsonNode error = error(run, ExitCodes.SERVER_REFUSED, "server_refused");
        assertThat(run.err().lines()).contains("biternet-get: " + error.get("message").asText());
        assertThat(error.get("kept").isNull()).isTrue();
    }

    @Test
    void aClosedPortGivesANetworkError() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }

        Fixtures.Run run = get("--json", "-q", "--retry-time", "0", "--connect-timeout", "2",
                "-o", downloads.resolve("x.bin").toString(), "biternet://127.0.0.1:" + closed + "/x.bin");

        JsonNode error = error(run, ExitCodes.NETWORK, "network");
        assertThat(run.err().lines()).contains("biternet-get: " + error.get("message").asText());
        assertThat(error.get("message").asText()).contains("127.0.0.1");
        assertThat(error.get("kept").isNull()).isTrue();
    }

    @Test
    void aDownloadStoppedByItsCapSaysWhatWasKeptForTheRerun() throws Exception {
        randomFile(root, "big.bin", 8_000_000, 2);
        Path out = downloads.resolve("big.bin");

        Fixtures.Run run = get("--json", "-q", "--retry-time", "0", "--iface", "127.0.0.1:cap=2M", "-o", out.toString(), url("big.bin"));

        JsonNode error = error(run, ExitCodes.NETWORK, "network");
        assertThat(error.get("message").asText()).contains("cap");
        JsonNode kept = error.get("kept");
        assertThat(kept.get("part").asText()).isEqualTo(out + ".part");
        // What the resume state names is what a rerun starts from: the same pieces and bytes.
        ResumeLog.Contents state = ResumeLog.read(out).orElseThrow();
        PieceLayout layout = new PieceLayout(state.identity().fileSize(), state.identity().pieceSize());
        Map<Integer, byte[]> pieces = state.pieces();
        assertThat(kept.get("verified_pieces").asInt()).isEqualTo(pieces.size()).isPositive();
        assertThat(kept.get("verified_bytes").asLong())
                .isEqualTo(pieces.keySet().stream().mapToLong(layout::length).sum())
                .isBetween(1L, 2_000_000L);
    }

    @Test
    void usageErrorsGiveAnErrorObjectToo() throws Exception {
        Fixtures.Run unknownOption = get("--json", "--bogus", "biternet://127.0.0.1/x");
        assertThat(error(unknownOption, ExitCodes.USAGE, "usage").get("message").asText()).contains("--bogus");

        Fixtures.Run badIface = get("--json", "-q", "--iface", "nosuch0", "-o", downloads.resolve("x.bin").toString(),
                url("x.bin"));
        JsonNode error = error(badIface, ExitCodes.USAGE, "usage");
        assertThat(error.get("message").asText()).startsWith("--iface nosuch0: no such network interface");
        assertThat(badIface.err().lines()).contains("biternet-get: " + error.get("message").asText());

        Fixtures.Run both = get("--json", "--si", "--iec", "biternet://127.0.0.1/x");
        assertThat(error(both, ExitCodes.USAGE, "usage").get("message").asText())
                .isEqualTo("--si and --iec cannot go together: choose one");
    }

    @Test
    void doctorReportsEachLinkAsJson() throws Exception {
        Fixtures.Run run = get("--json", "--doctor", "--iface", "127.0.0.2", "--iface", "127.0.0.3",
                "biternet://127.0.0.1:7420/x");

        assertThat(run.exitCode()).as(run.err()).isZero();
        JsonNode report = object(run);
        assertThat(report.get("server").asText()).isEqualTo("127.0.0.1");
        assertThat(report.get("ok").asBoolean()).isTrue();
        assertThat(report.get("links")).hasSize(2);
        JsonNode first = report.get("links").get(0);
        assertThat(first.get("link").asText()).isEqualTo("127.0.0.2");
        assertThat(first.get("address").asText()).isEqualTo("127.0.0.2");
        assertThat(first.get("device").asText()).isEqualTo("lo");
        assertThat(first.get("ok").asBoolean()).isTrue();
        assertThat(first.get("message").asText()).isEqualTo("leaves through lo (directly connected)");
        assertThat(first.get("fix")).isEmpty();
    }

    @Test
    void doctorWithAnUnusableIfaceGivesAnErrorObject() throws Exception {
        Fixtures.Run run = get("--json", "--doctor", "--iface", "nosuch0", "biternet://127.0.0.1:7420/x");

        JsonNode error = error(run, ExitCodes.USAGE, "usage");
        assertThat(error.get("message").asText()).startsWith("--iface nosuch0: no such network interface");
        assertThat(run.err().lines()).contains("biternet-get: " + error.get("message").asText());
    }

    @Test
    void listIfacesGivesEachInterfaceItsAddressesAndWithAServerItsVerdict() throws Exception {
        JsonNode all = object(get("--json", "--list-ifaces"));
        assertThat(all.get("server").isNull()).isTrue();
        JsonNode lo = loopback(all);
        assertThat(lo.get("addresses")).anySatisfy(a -> {
            assertThat(a.get("address").asText()).isEqualTo("127.0.0.1");
            assertThat(a.get("prefix_length").asInt()).isEqualTo(8);
        });
        assertThat(lo.get("reaches_server").isNull()).isTrue();

        JsonNode toServer = object(get("--json", "--list-ifaces", "biternet://127.0.0.1:7420/x"));
        assertThat(toServer.get("server").asText()).isEqualTo("127.0.0.1");
        JsonNode verdict = loopback(toServer).get("reaches_server");
        assertThat(verdict.get("ok").asBoolean()).isTrue();
        assertThat(verdict.get("message").asText()).startsWith("leaves through lo");
    }

    private static JsonNode loopback(JsonNode list) {
        for (JsonNode i : list.get("interfaces")) {
            if (i.get("name").asText().equals("lo")) {
                return i;
            }
        }
        throw new AssertionError("no lo in " + list);
    }
}
