package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A --hash-cache the server cannot use is a usage error in one line, before anything listens. */
class HashCacheOptionTest {
    @TempDir
    Path dir;

    @Test
    void aNamedCacheThatCannotBeCreatedIsAUsageErrorInOneLine() throws Exception {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        String[] args = {"--root", dir.toString(), "--port", "0", "--hash-cache", notADir.resolve("cache").toString()};
        CommandLine cmd = ServeCommand.commandLine(args);
        StringWriter err = new StringWriter();
        cmd.setErr(new PrintWriter(err, true));
        assertThat(cmd.execute(args)).isEqualTo(2);
        assertThat(err.toString().lines().findFirst()).hasValueSatisfying(l -> assertThat(l)
                .isEqualTo("--hash-cache: cannot use " + notADir.resolve("cache") + ": Not a directory"));
        assertThat(err.toString()).doesNotContain("\tat ");
    }
}
