package dev.biternet.server.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * {@code GET /metrics} in the Prometheus text format on a small JDK HTTP server, one thread;
 * scrapes are rare and cheap, so it stays off the event loops. While it serves, the registry also
 * holds the process's meters (JVM, process, Netty allocator).
 */
public final class MetricsEndpoint implements AutoCloseable {
    private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private final HttpServer http;
    private final AutoCloseable processMeters;

    private MetricsEndpoint(HttpServer http, AutoCloseable processMeters) {
        this.http = http;
        this.processMeters = processMeters;
    }

    public static MetricsEndpoint start(String host, int port, ServerMetrics metrics) throws IOException {
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(host, port), 16);
        } catch (IOException e) {
            throw new IOException("cannot serve metrics on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        http.createContext("/metrics", exchange -> answer(exchange, metrics));
        http.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "biternet-metrics");
            t.setDaemon(true);
            return t;
        }));
        http.start();
        return new MetricsEndpoint(http, metrics.bindProcess());
    }

    private static void answer(HttpExchange exchange, ServerMetrics metrics) throws IOException {
        try (exchange) {
            if (!"GET".equals(exchange.getRequestMethod())) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    public int port() {
        return http.getAddress().getPort();
    }

    @Override
    public void close() {
        http.stop(0);
        ((java.util.concurrent.ExecutorService) http.getExecutor()).shutdownNow();
        try {
            processMeters.close();
        } catch (Exception e) {
            // the GC listener of a JVM going away: nothing left to stop
        }
    }
}
