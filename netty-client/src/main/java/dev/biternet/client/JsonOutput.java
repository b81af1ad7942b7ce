package dev.biternet.client;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.biternet.client.route.InterfaceList;
import dev.biternet.client.route.RoutingDoctor;
import dev.biternet.client.store.PieceStore;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.PieceLayout;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InterfaceAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What biternet-get prints on stdout under {@code --json}, besides the download's summary
 * ({@link Summary#json}): the error object of a command that failed, and the reports of
 * {@code --doctor} and {@code --list-ifaces}. Every object starts with the one
 * {@link #SCHEMA_VERSION}; docs/JSON.md describes each field.
 */
final class JsonOutput {
    /** Raised when a field changes meaning or goes away; new fields leave it as it is. */
    static final int SCHEMA_VERSION = 1;

    private JsonOutput() {}

    /** Writes one object: its {@code schema_version}, then what {@code body} writes, as one line. */
    static String object(Body body) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = new JsonFactory().createGenerator(w)) {
            g.writeStartObject();
            g.writeNumberField("schema_version", SCHEMA_VERSION);
            body.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    /** The fields of one object. */
    @FunctionalInterface
    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    /**
     * A command that failed with exit code {@code code}: the code's name and number, the
     * message stderr shows, and what a rerun resumes from ({@link #kept}).
     *
     * @param output the download's output file, or null if the command got no further than its options
     */
    static String error(int code, String message, Path output) {
        return object(g -> {
            g.writeObjectFieldStart("error");
            g.writeObjectFieldStart("code");
            g.writeStringField("name", ExitCodes.name(code));
            g.writeNumberField("number", code);
            g.writeEndObject();
            g.writeStringField("message", message);
            g.writeFieldName("kept");
            kept(g, code == ExitCodes.BUSY ? null : output);
            g.writeEndObject();
        });
    }

    /**
     * {@code OUT.part} and the pieces its resume state names (verified when they were written,
     * re-hashed by the rerun that resumes them); null when there is no part file, the pieces
     * and bytes null when the state cannot be read. A busy output is another run's: nothing of
     * it is this run's to report.
     */
    private static void kept(JsonGenerator g, Path output) throws IOException {
        Path part = output == null ? null : PieceStore.partFor(output);
        if (part == null || !Files.isRegularFile(part, LinkOption.NOFOLLOW_LINKS)) {
            g.writeNull();
            return;
        }
        Integer pieces = null;
        Long bytes = null;
        try {
            Optional<ResumeLog.Contents> state = ResumeLog.read(output);
            if (state.isPresent()) {
                PieceLayout layout = new PieceLayout(state.get().identity().fileSize(), state.get().identity().pieceSize());
                long sum = 0;
                for (int i : state.get().pieces().keySet()) {
                    sum += layout.length(i);
                }
                pieces = state.get().pieces().size();
                bytes = sum;
            }
        } catch (IOException | RuntimeException e) {
            // a state that cannot be read: the part file is still there, what it holds is not known
        }
        g.writeStartObject();
        g.writeStringField("part", part.toString());
        writeNumberOrNull(g, "verified_pieces", pieces);
        writeNumberOrNull(g, "verified_bytes", bytes);
        g.writeEndObject();
    }

    private static void writeNumberOrNull(JsonGenerator g, String field, Number n) throws IOException {
        if (n == null) {
            g.writeNullField(field);
        } else {
            g.writeNumberField(field, n.longValue());
        }
    }

    /** {@code --doctor}: whether every link passed, and each link's verdict and fix. */
    static String doctor(String server, List<RoutingDoctor.Finding> findings) {
        return object(g -> {
            g.writeStringField("server", server);
            g.writeBooleanField("ok", findings.stream().allMatch(RoutingDoctor.Finding::ok));
            g.writeArrayFieldStart("links");
            for (RoutingDoctor.Finding f : findings) {
                g.writeStartObject();
                g.writeStringField("link", f.link().name());
                g.writeStringField("address", f.link().addressText());
                g.writeStringField("device", f.device());
                g.writeBooleanField("ok", f.ok());
                g.writeStringField("message", f.message());
                g.writeArrayFieldStart("fix");
                for (String command : f.fix()) {
                    g.writeString(command);
                }
                g.writeEndArray();
                g.writeEndObject();
            }
            g.writeEndArray();
        });
    }

    /** {@code --list-ifaces [SERVER]}: each interface that is up, its addresses and, given a server, its verdict. */
    static String interfaces(List<InterfaceList.Iface> ifaces, InetAddress server, List<InterfaceList.Verdict> verdicts,
                             List<dev.biternet.client.route.AutoLinks.Pick> auto) {
        return object(g -> {
            if (server == null) {
                g.writeNullField("server");
            } else {
                g.writeStringField("server", io.netty.util.NetUtil.toAddressString(server));
            }
            g.writeArrayFieldStart("interfaces");
            for (int i = 0; i < ifaces.size(); i++) {
                g.writeStartObject();
                g.writeStringField("name", ifaces.get(i).name());
                g.writeArrayFieldStart("addresses");
                for (InterfaceAddress a : ifaces.get(i).addresses()) {
                    g.writeStartObject();
                    g.writeStringField("address", io.netty.util.NetUtil.toAddressString(a.getAddress()));
                    g.writeNumberField("prefix_length", a.getNetworkPrefixLength());
                    g.writeEndObject();
                }
                g.writeEndArray();
                g.writeFieldName("reaches_server");
                if (server == null) {
                    g.writeNull();
                } else {
                    g.writeStartObject();
                    g.writeBooleanField("ok", verdicts.get(i).ok());
                    g.writeStringField("message", verdicts.get(i).message());
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            if (server != null) {
                g.writeObjectFieldStart("auto");
                g.writeArrayFieldStart("takes");
                for (var p : auto) {
                    if (p.chosen()) {
                        g.writeString(p.iface());
                    }
                }
                g.writeEndArray();
                g.writeArrayFieldStart("skips");
                for (var p : auto) {
                    if (!p.chosen()) {
                        g.writeStartObject();
                        g.writeStringField("name", p.iface());
                        g.writeStringField("why", p.why());
                        g.writeEndObject();
                    }
                }
                g.writeEndArray();
                g.writeEndObject();
            }
        });
    }
}
