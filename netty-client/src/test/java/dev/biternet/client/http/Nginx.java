package dev.biternet.client.http;

import dev.biternet.client.Prerequisites;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx for the tests, as bench/loopback-vs-nginx.sh runs it: one process, no master, in
 * the foreground, its config, pid, logs and temp files under its own prefix, listening on a free
 * loopback port, serving {@code root}. {@code locations} is added to its server block. Closed
 * (killed) by the test, also on failure.
 */
public final class Nginx implements AutoCloseable {
    public static final String BINARY = Files.isExecutable(Path.of("/usr/sbin/nginx")) ? "/usr/sbin/nginx" : "nginx";

    private final Process process;
    private final int port;
    private final Path prefix;

    private Nginx(Process process, int port, Path prefix) {
        this.process = process;
        this.port = port;
        this.prefix = prefix;
    }

    /** Skips the test without nginx (fails it in CI, where .ci/run installs it). */
    public static void require() {
        Prerequisites.require(Files.isExecutable(Path.of(BINARY)) || Prerequisites.onPath("nginx"), "needs nginx");
    }

    public static Nginx start(Path root, Path prefix, String locations) throws IOException, InterruptedException {
        return start(root, prefix, locations, null);
    }

    /** An nginx serving https with {@code certs} (its {@link #url} still says http: the test picks the scheme). */
    public static Nginx start(Path root, Path prefix, String locations, dev.biternet.client.TestCerts certs)
            throws IOException, InterruptedException {
        require();
        Files.createDirectories(prefix);
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        String conf = """
                daemon off;
                master_process off;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log;
                events { worker_connections 64; }
                http {
                  access_log off;
                  log_format conns '$connection $remote_addr "$http_range" $status';
                  sendfile on;
                  default_type application/octet-stream;
                  client_body_temp_path %1$s/body;
                  proxy_temp_path %1$s/proxy;
                  fastcgi_temp_path %1$s/fastcgi;
                  uwsgi_temp_path %1$s/uwsgi;
                  scgi_temp_path %1$s/scgi;
                  server {
                    listen 127.0.0.1:%2$d%5$s;
                    root %3$s;
                    %4$s
                  }
                }
                """.formatted(prefix, port, root.toAbsolutePath(), locations, certs == null ? ""
                : " ssl; ssl_certificate " + certs.cert() + "; ssl_certificate_key " + certs.key());
        Files.writeString(prefix.resolve("nginx.conf"), conf);
        return launch(prefix, port);
    }

    /** After {@link #close}: the same nginx again, on the same port with the same root (a mirror that comes back). */
    public Nginx restart() throws IOException, InterruptedException {
        return launch(prefix, port);
    }

    private static Nginx launch(Path prefix, int port) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(BINARY, "-p", prefix.toString(), "-e", prefix + "/error.log", "-c",
                prefix + "/nginx.conf").redirectErrorStream(true).redirectOutput(prefix.resolve("out.log").toFile()).start();
        Nginx n = new Nginx(p, port, prefix);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return n;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    n.close();
                    throw new IOException("nginx did not start: " + Files.readString(prefix.resolve("out.log"))
                            + (Files.exists(prefix.resolve("error.log")) ? Files.readString(prefix.resolve("error.log")) : ""));
                }
                Thread.sleep(20);
            }
        }
    }

    /**
     * The location lines that log each request as {@code CONNECTION ADDRESS "RANGE" STATUS} to
     * {@code prefix/access.log} (see {@link #requests}).
     */
    public static String logRequests(Path prefix) {
        return "access_log " + prefix.toAbsolutePath().resolve("access.log") + " conns;";
    }

    /** The requests logged so far with {@link #logRequests}, one line each. */
    public java.util.List<String> requests() throws IOException {
        Path log = prefix.resolve("access.log");
        return Files.exists(log) ? Files.readAllLines(log) : java.util.List.of();
    }

    public int port() {
        return port;
    }

    /** The URL of {@code path} (below the root) on this nginx. */
    public String url(String path) {
        return "http://127.0.0.1:" + port + "/" + path;
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
    }
}
