package dev.biternet.client;

import static dev.biternet.client.Fixtures.get;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class VersionTest {
    /** --version names the command, the project's version, the commit being built, the protocol and the JDK. */
    @Test
    void versionNamesTheCommandTheBuildTheProtocolAndTheJdk() throws Exception {
        Fixtures.Run run = get("--version");

        assertThat(run.exitCode()).isZero();
        Matcher m = Pattern.compile("biternet-get (\\S+) \\(commit ([0-9a-f]{12}|unknown), protocols 1-2, Java (\\S+)\\)\\R")
                .matcher(run.out());
        assertThat(m.matches()).as(run.out()).isTrue();
        Matcher pom = Pattern.compile("<version>([^<]+)</version>").matcher(Files.readString(Path.of("..", "pom.xml")));
        assertThat(pom.find()).isTrue();
        assertThat(m.group(1)).isEqualTo(pom.group(1));
        assertThat(m.group(3)).isEqualTo(System.getProperty("java.version"));
        Prerequisites.Exec head = Prerequisites.onPath("git")
                ? Prerequisites.exec(List.of("git", "-C", "..", "rev-parse", "--short=12", "HEAD")) : null;
        if (head != null && head.code() == 0) {
            assertThat(m.group(2)).as("the commit built").isEqualTo(head.out().strip());
        }
    }
}
