package dev.biternet.common.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The man page says what --help says: every option, its default, the exit codes; roff cannot misread it. */
class ManPageTest {
    @Command(name = "biternet-demo", description = {"Does one thing. Then another, with a -dash."},
            exitCodeList = {"0:all went well", "2:usage error"})
    static final class Demo implements Callable<Integer> {
        @Option(names = {"-p", "--port"}, paramLabel = "PORT", defaultValue = "7420", description = "Port (default: ${DEFAULT-VALUE}).")
        int port;

        @Option(names = "--quiet", description = ".starts with a dot and has a \\ backslash")
        boolean quiet;

        @Option(names = "--secret", hidden = true)
        String secret;

        @Parameters(paramLabel = "URL", description = "What to fetch.")
        String url;

        @Override
        public Integer call() {
            return 0;
        }
    }

    @Test
    void thePageListsEveryVisibleOptionWithItsDefaultAndTheExitCodes() {
        String page = ManPage.render(new CommandLine(new Demo()).getCommandSpec());
        assertThat(page).startsWith(".\\\" Generated").contains(".TH \"BITERNET-DEMO\" \"1\" \"\" \"biternet ");
        assertThat(page).contains(".SH NAME\nbiternet\\-demo \\- Does one thing\n");
        assertThat(page).contains(".TP\n\\fB\\-p\\fR, \\fB\\-\\-port\\fR \\fIPORT\\fR\nPort (default: 7420).\n");
        assertThat(page).contains("\\fB\\-\\-quiet\\fR\n\\&.starts with a dot and has a \\e backslash\n");
        assertThat(page).contains(".SH ARGUMENTS\n.TP\n\\fIURL\\fR\nWhat to fetch.\n");
        assertThat(page).contains(".SH EXIT STATUS\n.TP\n.B 0\nall went well\n.TP\n.B 2\nusage error\n");
        assertThat(page).doesNotContain("secret");
        assertThat(page.lines()).as("no text line a roff request").allMatch(l -> !l.startsWith("'"));
    }

    @Test
    void mainWritesThePageOfACommandBuiltByItsFactory(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("demo.1");
        ManPage.main(new String[] {out.toString(), ManPageTest.class.getName(), "demo"});
        assertThat(Files.readString(out)).contains(".SH OPTIONS", "\\-\\-port");
    }

    public static CommandLine demo() {
        return new CommandLine(new Demo());
    }
}
