package dev.biternet.common.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class VersionProviderTest {
    @Command(name = "some-command", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class)
    static final class SomeCommand implements Runnable {
        @Override
        public void run() {}
    }

    @Test
    void versionNamesTheCommandTheBuildTheProtocolAndTheJdk() {
        StringWriter out = new StringWriter();
        CommandLine cmd = new CommandLine(new SomeCommand());
        cmd.setOut(new PrintWriter(out, true));

        assertThat(cmd.execute("--version")).isZero();
        assertThat(out.toString()).isEqualTo("some-command " + BuildInfo.version() + " (commit " + BuildInfo.commit()
                + ", protocols 1-2, Java " + System.getProperty("java.version") + ")" + System.lineSeparator());
        assertThat(BuildInfo.version()).as("the project's version, filtered in by Maven").matches("\\d+\\.\\d+\\.\\d+.*");
        assertThat(BuildInfo.commit()).matches("[0-9a-f]{12}|unknown");
    }
}
