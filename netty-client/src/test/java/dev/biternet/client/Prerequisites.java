package dev.biternet.client;

import static org.junit.jupiter.api.Assertions.fail;

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
            Process p = new ProcessBuilder("sh", "-c", "command -v " + tool).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
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
