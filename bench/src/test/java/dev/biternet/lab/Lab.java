package dev.biternet.lab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One instance of the network lab (bench/lab/lab.sh): a server namespace with one service
 * address and a client namespace with shaped uplinks and per-source policy routing, and, for
 * links with a delay or loss, the delay line in between. Runs the real {@code bin/} launchers
 * inside the namespaces. Always tear down with {@link #close()}; a shutdown hook does it too if
 * the JVM is stopped.
 */
final class Lab implements AutoCloseable {
    static final String SERVICE = "198.18.100.1";
    static final int PORT = 7420;
    /** Where {@link TcpFlow}'s sender listens, for the links-alone reference. */
    static final int TCP_PORT = 7421;
    /** nginx's port on the service address ({@link #startNginx}). */
    static final int HTTP_PORT = 7480;
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final ObjectMapper JSON = new ObjectMapper();

    final String name;
    final int[] mbit;
    private final Path repo;
    private final Thread hook;
    private Process server;
    private Process tcpSender;
    private Process nginx;

    private Lab(String name, int[] mbit, Path repo) {
        this.name = name;
        this.mbit = mbit;
        this.repo = repo;
        this.hook = new Thread(this::teardown, "lab-teardown-" + name);
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** The repository root (this module runs with bench/ as working directory). */
    static Path repo() {
        Path here = Path.of("").toAbsolutePath();
        return Files.exists(here.resolve("bin/biternet-get")) ? here : here.getParent();
    }

    /** Why namespaces cannot be made here, or null if they can. */
    static String unavailableReason() {
        try {
            Process id = new ProcessBuilder("id", "-u").start();
            String uid = new String(id.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!uid.equals("0")) {
                return "the network lab needs root (uid is " + uid + ")";
            }
            Process ip = new ProcessBuilder("ip", "netns", "list").redirectErrorStream(true).start();
            ip.getInputStream().readAllBytes();
            if (ip.waitFor() != 0) {
                return "'ip netns' does not work here (install iproute2)";
            }
            return null;
        } catch (IOException | InterruptedException e) {
            return "cannot run 'ip': " + e.getMessage();
        }
    }

    static Lab create(int... mbit) throws IOException, InterruptedException {
        String[] links = new String[mbit.length];
        for (int i = 0; i < mbit.length; i++) {
            links[i] = Integer.toString(mbit[i]);
        }
        return create(links);
    }

    /**
     * A lab with one link per lab.sh link spec: {@code RATE} (a direct veth pair) or
     * {@code RATE:DELAY_MS[:LOSS_PCT[:QUEUE_MS[:JITTER_MS]]]} (through the delay line).
     */
    static Lab create(String... links) throws IOException, InterruptedException {
        String name = "bt" + ProcessHandle.current().pid() % 100000 + "x" + COUNTER.incrementAndGet();
        int[] mbit = new int[links.length];
        for (int i = 0; i < links.length; i++) {
            mbit[i] = Integer.parseInt(links[i].split(":")[0]);
        }
        Lab lab = new Lab(name, mbit, repo());
        List<String> cmd = new ArrayList<>(List.of("up", name));
        cmd.addAll(List.of(links));
        try {
            lab.script(cmd.toArray(String[]::new));
        } catch (IOException | RuntimeException e) {
            lab.close();
            throw e;
        }
        return lab;
    }

    String iface(int link) {
        return name + "c" + link;
    }

    void rate(int link, int newMbit) throws IOException, InterruptedException {
        script("rate", name, Integer.toString(link), Integer.toString(newMbit));
    }

    /** The TCP congestion control of both namespaces: bbr, cubic, reno. */
    void congestionControl(String name) throws IOException, InterruptedException {
        script("cc", this.name, name);
    }

    void cut(int link) throws IOException, InterruptedException {
        script("cut", name, Integer.toString(link));
    }

    /** A new direct link number {@code link} of {@code mbit} Mbit/s, on the running lab. */
    void addLink(int link, int mbit) throws IOException, InterruptedException {
        script("addlink", name, Integer.toString(link), Integer.toString(mbit));
    }

    /** Runs a command in the client's namespace (e.g. to add interfaces that are not uplinks). */
    void inClient(String... cmd) throws IOException, InterruptedException {
        List<String> all = new java.util.ArrayList<>(List.of("ip", "netns", "exec", name + "-cli"));
        all.addAll(List.of(cmd));
        run(all, 30);
    }

    /** Moves link {@code link}'s client address to 198.18.LINK.HOST, its policy rule and route with it. */
    void readdress(int link, int host) throws IOException, InterruptedException {
        script("readdr", name, Integer.toString(link), Integer.toString(host));
    }

    /** Brings a cut link back up, with its routes. */
    void restore(int link) throws IOException, InterruptedException {
        script("restore", name, Integer.toString(link));
    }

    /**
     * For a test class's {@code @BeforeAll}: skips the tests with the reason when namespaces
     * cannot be made here, but fails them in CI ({@code CI=true}), which must run the lab.
     */
    static void requireOrSkip() {
        String why = unavailableReason();
        if (why != null) {
            if ("true".equals(System.getenv("CI"))) {
                org.junit.jupiter.api.Assertions.fail("CI must run the network lab: " + why);
            }
            org.junit.jupiter.api.Assumptions.assumeTrue(false, why);
        }
    }

    /** A file of {@code size} seeded random bytes in {@code dir} (made once, reused by later calls). */
    static Path randomFile(Path dir, String name, long size) throws IOException {
        Path p = dir.resolve(name);
        if (Files.exists(p)) {
            return p;
        }
        java.util.Random rnd = new java.util.Random(size);
        byte[] buf = new byte[1 << 20];
        try (java.io.OutputStream out = Files.newOutputStream(p)) {
            for (long left = size; left > 0; left -= buf.length) {
                rnd.nextBytes(buf);
                out.write(buf, 0, (int) Math.min(buf.length, left));
            }
        }
        return p;
    }

    /** Bytes the client's interface for {@code link} received, by the kernel's own counter. */
    long rxBytes(int link) throws IOException, InterruptedException {
        return Long.parseLong(run(List.of("ip", "netns", "exec", name + "-cli", "cat",
                "/sys/class/net/" + iface(link) + "/statistics/rx_bytes"), 10).trim());
    }

    /**
     * Mbit/s of goodput of one plain TCP flow over {@code link} alone ({@link TcpFlow}: the
     * server namespace sends, the client reads {@code maxBytes} or for {@code maxSeconds},
     * from connect to last byte, slow start included), with the namespaces' congestion control.
     */
    double tcpAloneMbit(int link, long maxBytes, double maxSeconds) throws IOException, InterruptedException {
        if (tcpSender == null) {
            tcpSender = startOwnJava(name + "-srv", List.of("send", SERVICE, Integer.toString(TCP_PORT)));
            BufferedReader r = new BufferedReader(new InputStreamReader(tcpSender.getInputStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            if (line == null || !line.startsWith("listening")) {
                throw new IOException("the TCP reference sender did not start: " + line);
            }
        }
        Process fetch = startOwnJava(name + "-cli", List.of("fetch", SERVICE, Integer.toString(TCP_PORT),
                "198.18." + link + ".2", Long.toString(maxBytes), Double.toString(maxSeconds)));
        String out = new String(fetch.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!fetch.waitFor((long) maxSeconds + 30, TimeUnit.SECONDS) || fetch.exitValue() != 0) {
            fetch.destroyForcibly();
            throw new IOException("TCP reference flow over link " + link + " failed: " + out);
        }
        String[] bytesSeconds = out.split(" ");
        return Long.parseLong(bytesSeconds[0]) * 8 / Double.parseDouble(bytesSeconds[1]) / 1e6;
    }

    /** Runs {@link TcpFlow} with this JVM's java and this class's class path, in a namespace. */
    private static Process startOwnJava(String namespace, List<String> args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classes;
        try {
            classes = Path.of(TcpFlow.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", namespace, java, "-cp", classes,
                TcpFlow.class.getName()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** Starts biternet-serve in the server namespace and waits until it listens. */
    void startServer(Path root, String... extra) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name + "-srv",
                repo.resolve("bin/biternet-serve").toString(), "--root", root.toString(), "--host", SERVICE,
                "--port", Integer.toString(PORT), "--hash-cache", "none"));
        cmd.addAll(List.of(extra));
        server = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        // Log lines (the hash cache's, say) may come before the one that names the port.
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                String l;
                while ((l = r.readLine()) != null && !l.contains(" port ")) {
                    // not yet listening
                }
                return l;
            } catch (IOException e) {
                return null;
            }
        });
        String line;
        try {
            line = first.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IOException("biternet-serve did not start: " + e);
        }
        if (line == null || !line.contains(" port ")) {
            throw new IOException("biternet-serve did not start: " + line);
        }
        Thread drain = new Thread(() -> {
            try {
                while (r.readLine() != null) {
                    // keep the pipe from filling up
                }
            } catch (IOException ignored) {
                // server gone
            }
        }, "lab-server-output");
        drain.setDaemon(true);
        drain.start();
    }

    /**
     * Starts nginx in the server namespace serving {@code root} on {@link #HTTP_PORT}, one
     * process (no master), its config and logs under {@code dir} ({@code access.log}: a line a
     * request, {@code ADDRESS "RANGE" STATUS}, in the order they ended); waits until it listens.
     */
    void startNginx(Path root, Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("nginx.conf"), """
                daemon off;
                master_process off;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log warn;
                events { worker_connections 1024; }
                http {
                  log_format ranges '$remote_addr "$http_range" $status';
                  access_log %1$s/access.log ranges;
                  client_body_temp_path %1$s/body;
                  sendfile on;
                  tcp_nopush on;
                  keepalive_requests 100000;
                  default_type application/octet-stream;
                  server {
                    listen %2$s:%3$d;
                    root %4$s;
                  }
                }
                """.formatted(dir.toAbsolutePath(), SERVICE, HTTP_PORT, root.toAbsolutePath()));
        nginx = new ProcessBuilder("ip", "netns", "exec", name + "-srv", "nginx", "-p", dir.toString(), "-e",
                dir.resolve("error.log").toString(), "-c", dir.resolve("nginx.conf").toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!run(List.of("ip", "netns", "exec", name + "-srv", "ss", "-Hltn", "sport = :" + HTTP_PORT), 10)
                .contains(":" + HTTP_PORT)) {
            if (!nginx.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("nginx did not start: " + Files.readString(dir.resolve("out.log")));
            }
            Thread.sleep(50);
        }
    }

    /** The SHA-256 of a file, in hex. */
    static String sha256(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            in.transferTo(new java.security.DigestOutputStream(java.io.OutputStream.nullOutputStream(), md));
            return java.util.HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The URL of {@code path} on the nginx of {@link #startNginx}. */
    static String httpUrl(String path) {
        return "http://" + SERVICE + ":" + HTTP_PORT + "/" + path;
    }

    /** A finished biternet-get run: exit code, the --json summary (if any), stderr, wall seconds. */
    record Get(int exitCode, JsonNode summary, String stderr, double wallSeconds) {
        /**
         * The client's own transfer time (connect to verified rename, from the summary): the
         * network's part of the wall time, without the JVM's start-up, which a loaded CI machine
         * stretches by whole seconds.
         */
        double transferSeconds() {
            return summary.get("seconds").asDouble();
        }
    }

    /** Runs bin/biternet-get over every lab link, as a subprocess in the client namespace. */
    Get get(String path, Path out, int timeoutSeconds) throws IOException, InterruptedException {
        int[] all = new int[mbit.length];
        for (int i = 0; i < all.length; i++) {
            all[i] = i + 1;
        }
        return get(path, out, timeoutSeconds, all);
    }

    /** Runs bin/biternet-get over the given links (1-based). */
    Get get(String path, Path out, int timeoutSeconds, int... links) throws IOException, InterruptedException {
        List<String> ifaces = new ArrayList<>();
        for (int i : links) {
            ifaces.add(iface(i));
        }
        return get(path, out, timeoutSeconds, ifaces);
    }

    /** Runs bin/biternet-get with these {@code --iface} values (names with options, say). */
    Get get(String path, Path out, int timeoutSeconds, List<String> ifaces) throws IOException, InterruptedException {
        return fetch("biternet://" + SERVICE + ":" + PORT + "/" + path, out, timeoutSeconds, ifaces);
    }

    /** Runs bin/biternet-get for any URL (an {@link #httpUrl}, say) over these {@code --iface} values, then {@code extra}. */
    Get fetch(String url, Path out, int timeoutSeconds, List<String> ifaces, String... extra)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", name + "-cli",
                repo.resolve("bin/biternet-get").toString(), "--json"));
        for (String iface : ifaces) {
            cmd.add("--iface");
            cmd.add(iface);
        }
        cmd.addAll(List.of(extra));
        cmd.addAll(List.of("-o", out.toString(), url));
        Path errFile = Files.createTempFile("biternet-get", ".err");
        long start = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        byte[] stdout = p.getInputStream().readAllBytes();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("biternet-get did not finish within " + timeoutSeconds + " s");
        }
        double wall = (System.nanoTime() - start) / 1e9;
        String err = Files.readString(errFile);
        Files.deleteIfExists(errFile);
        JsonNode summary = p.exitValue() == 0 ? JSON.readTree(stdout) : null;
        return new Get(p.exitValue(), summary, err, wall);
    }

    double sumMbit() {
        double s = 0;
        for (int m : mbit) {
            s += m;
        }
        return s;
    }

    private void script(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(repo.resolve("bench/lab/lab.sh").toString());
        cmd.addAll(List.of(args));
        run(cmd, 60);
    }

    private static String run(List<String> cmd, int timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
        }
        return out;
    }

    private void teardown() {
        if (tcpSender != null) {
            tcpSender.destroyForcibly();
        }
        if (nginx != null) {
            nginx.descendants().forEach(ProcessHandle::destroyForcibly);
            nginx.destroyForcibly();
        }
        if (server != null) {
            server.descendants().forEach(ProcessHandle::destroy);
            server.destroy();
            try {
                server.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            server.descendants().forEach(ProcessHandle::destroyForcibly);
            server.destroyForcibly();
        }
        try {
            new ProcessBuilder(repo.resolve("bench/lab/lab.sh").toString(), "down", name)
                    .redirectErrorStream(true).start().waitFor(30, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException ignored) {
            // best effort; 'ip netns list' shows leftovers
        }
    }

    @Override
    public void close() {
        teardown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException ignored) {
            // already shutting down
        }
    }
}
