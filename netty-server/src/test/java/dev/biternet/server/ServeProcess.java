package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** biternet-serve in its own JVM, as an operator runs it (signals, config files, exit codes). */
final class ServeProcess implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile(" port (\\d+) ");
    final Process process;
    final Path stderr;
    /** The first line it printed. */
    final String firstLine;

    private ServeProcess(Process process, Path stderr, String firstLine) {
        this.process = process;
        this.stderr = stderr;
        this.firstLine = firstLine;
    }

    /** Starts {@code biternet-serve args} and waits for its first line on stdout (null if it exited first). */
    static ServeProcess start(Path stderr, String... args) throws IOException {
        return start(stderr, List.of(), args);
    }

    /** As {@link #start(Path, String...)}, with {@code jvmOptions} for its JVM. */
    static ServeProcess start(Path stderr, List<String> jvmOptions, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), ServeCommand.class.getName()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(stderr.toFile());
        // Its default hash cache beside its log, not in the home directory of whoever runs the tests.
        pb.environment().remove("CACHE_DIRECTORY");
        pb.environment().put("XDG_CACHE_HOME", stderr.toAbsolutePath().resolveSibling("cache").toString());
        Process p = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        return new ServeProcess(p, stderr, out.readLine());
    }

    /** Where it listens, from its first line. */
    InetSocketAddress address() throws IOException {
        assertThat(firstLine).as("first line of biternet-serve (stderr: %s)", stderr()).isNotNull().contains("serving");
        Matcher m = PORT.matcher(firstLine);
        assertThat(m.find()).as(firstLine).isTrue();
        return new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group(1)));
    }

    String stderr() throws IOException {
        return Files.exists(stderr) ? Files.readString(stderr) : "";
    }

    /** Waits until its log contains {@code text}. */
    void awaitLog(String text) throws Exception {
        TestFiles.await("biternet-serve logs '" + text + "'", 30_000, () -> {
            try {
                return stderr().contains(text);
            } catch (IOException e) {
                return false;
            }
        });
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
