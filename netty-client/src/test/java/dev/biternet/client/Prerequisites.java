package dev.biternet.client;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * For tests that need something of the machine (tmux, root, iproute2): skipped with the reason
 * on a developer's machine, failed in CI ({@code CI=true}), where .ci/run installs them.
 */
public final class Prerequisites {
    private Prerequisites() {}

    public static void require(boolean ok, String why) {
        if (ok) {
            return;
        }
        if ("true".equals(System.getenv("CI"))) {
            fail("CI must run this test: " + why);
        }
        Assumptions.abort(why);
    }

    public static boolean onPath(String tool) {
        try {
            return exec(List.of("sh", "-c", "command -v " + tool)).code() == 0;
        } catch (IOException e) {
            return false;
        }
    }

    /** A finished process: exit code, stdout and stderr together. */
    public record Exec(int code, String out) {}

    /** Runs a process with no input to its end (at most two minutes, then it fails). */
    public static Exec exec(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        return new Exec(p.exitValue(), out);
    }

    public static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** The command line that runs biternet-get in a JVM of its own, on this test's class path. */
    public static List<String> clientCommand(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(GetCommand.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }
}
