package dev.biternet.client.route;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Asks the kernel how it routes, through iproute2's JSON output ({@code ip -j route get ...}):
 * the same lookup a socket's first packet gets, policy rules and all. Queries run as separate
 * {@code ip} processes started together, so checking several links costs about one process start.
 */
public final class IpRoute {
    /** Starts {@code ip -j ARGS...} and returns its answer when asked; tests put canned answers behind it. */
    public interface Runner {
        Supplier<Answer> start(List<String> args);
    }

    /** What ip printed: its JSON on success, its error line otherwise. */
    public record Answer(boolean ok, String output) {}

    /** The first route of an answer: where packets to {@code dst} go. Absent fields are "". */
    public record Route(String dst, String dev, String gateway, String prefsrc, String type) {}

    private final Runner runner;

    public IpRoute(Runner runner) {
        this.runner = runner;
    }

    /** The real {@code ip} on this machine. */
    public static IpRoute system() {
        return new IpRoute(IpRoute::start);
    }

    /** Runs the queries at once; each result is the route or the reason there is none. */
    public List<Result> routes(List<List<String>> queries) {
        List<Supplier<Answer>> running = new ArrayList<>();
        for (List<String> q : queries) {
            running.add(runner.start(q));
        }
        List<Result> results = new ArrayList<>();
        for (Supplier<Answer> f : running) {
            Answer a = f.get();
            if (!a.ok()) {
                results.add(new Result(null, a.output().strip()));
                continue;
            }
            try {
                List<Route> routes = parse(a.output());
                results.add(routes.isEmpty() ? new Result(null, "no route") : new Result(routes.get(0), null));
            } catch (IOException e) {
                results.add(new Result(null, "unreadable answer from ip: " + e.getMessage()));
            }
        }
        return results;
    }

    /** A route, or the reason there is none. */
    public record Result(Route route, String error) {}

    /** The main table, where a route without a "table" field is. */
    private static final int MAIN_TABLE = 254;

    /**
     * The routing tables in use: every table that holds a route or that a policy rule looks up,
     * IPv4 and IPv6 ({@code ip -N -j route show table all}, {@code ip -N -j rule show}; -N prints
     * tables as numbers, not as their names in rt_tables). Null if ip could not say.
     */
    public java.util.Set<Integer> tablesInUse() {
        List<List<String>> queries = List.of(List.of("-N", "route", "show", "table", "all"),
                List.of("-6", "-N", "route", "show", "table", "all"), List.of("-N", "rule", "show"),
                List.of("-6", "-N", "rule", "show"));
        List<Supplier<Answer>> running = new ArrayList<>();
        for (List<String> q : queries) {
            running.add(runner.start(q));
        }
        java.util.Set<Integer> tables = new java.util.TreeSet<>();
        for (Supplier<Answer> f : running) {
            Answer a = f.get();
            try {
                if (!a.ok()) {
                    return null;
                }
                for (java.util.Map<String, String> o : objects(a.output())) {
                    tables.add(Integer.parseInt(o.getOrDefault("table", "" + MAIN_TABLE)));
                }
            } catch (IOException | NumberFormatException e) {
                return null;
            }
        }
        return tables;
    }

    /** Parses {@code ip -j route} output: an array of objects with string fields. */
    static List<Route> parse(String json) throws IOException {
        List<Route> routes = new ArrayList<>();
        for (java.util.Map<String, String> o : objects(json)) {
            routes.add(new Route(o.getOrDefault("dst", ""), o.getOrDefault("dev", ""), o.getOrDefault("gateway", ""),
                    o.getOrDefault("prefsrc", ""), o.getOrDefault("type", "")));
        }
        return routes;
    }

    /** The objects of an {@code ip -j} answer, each as its scalar fields (nested ones are skipped). */
    private static List<java.util.Map<String, String>> objects(String json) throws IOException {
        List<java.util.Map<String, String>> objects = new ArrayList<>();
        try (JsonParser p = new JsonFactory().createParser(json)) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw new IOException("not a JSON array");
            }
            while (p.nextToken() == JsonToken.START_OBJECT) {
                java.util.Map<String, String> fields = new java.util.HashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    JsonToken value = p.nextToken();
                    if (value == JsonToken.START_ARRAY || value == JsonToken.START_OBJECT) {
                        p.skipChildren();
                        continue;
                    }
                    fields.put(name, p.getValueAsString(""));
                }
                objects.add(fields);
            }
        }
        return objects;
    }

    private static Supplier<Answer> start(List<String> args) {
        List<String> cmd = new ArrayList<>(List.of("ip", "-j"));
        cmd.addAll(args);
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
        } catch (IOException e) {
            return () -> new Answer(false, "cannot run 'ip' (install iproute2): " + e.getMessage());
        }
        return () -> answer(p, cmd);
    }

    private static Answer answer(Process p, List<String> cmd) {
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Answer(false, "'" + String.join(" ", cmd) + "' did not answer");
            }
            return new Answer(p.exitValue() == 0, out);
        } catch (IOException e) {
            return new Answer(false, "reading '" + String.join(" ", cmd) + "': " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Answer(false, "interrupted");
        }
    }
}
