package dev.biternet.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Link faults on real shaped links (network namespaces, see {@link Lab}): a link whose
 * interface goes down and comes back. Asserts behaviour, not times: the bytes, that the link
 * reconnected, and that it carried data again after it came back (by its interface's own rx
 * counter).
 */
class FaultLabIT {
    @TempDir
    static Path served;
    @TempDir
    Path downloads;

    @BeforeAll
    static void needsNamespaces() {
        Lab.requireOrSkip();
    }

    private static Path randomFile(String name, long size) throws IOException {
        return Lab.randomFile(served, name, size);
    }

    @Test
    void aLinkCutThenRestoredReconnectsAndCarriesDataAgain() throws Exception {
        // 64 MiB over 20 + 20 Mbit/s: about 14 s with both links, 27 s on one.
        long size = 64L << 20;
        Path source = randomFile("back.bin", size);
        try (Lab lab = Lab.create(20, 20)) {
            lab.startServer(served);
            Path out = downloads.resolve("back.bin");
            CompletableFuture<Lab.Get> run = CompletableFuture.supplyAsync(() -> {
                try {
                    return lab.get("back.bin", out, 240);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            Thread.sleep(2000);
            lab.cut(1);
            // Down for longer than the client's 10 s silence limit: the old connection is given
            // up and the link has to reconnect once the interface is back.
            Thread.sleep(12_000);
            assertThat(run).as("the download goes on over link 2").isNotDone();
            lab.restore(1);
            long rxAtRestore = lab.rxBytes(1);
            Lab.Get get = run.get(300, TimeUnit.SECONDS);

            assertThat(get.exitCode()).as(get.stderr()).isZero();
            assertThat(Files.mismatch(source, out)).isEqualTo(-1);
            JsonNode link1 = get.summary().get("links").get(0);
            assertThat(link1.get("reconnects").asInt()).as("link 1 reconnected").isPositive();
            assertThat(lab.rxBytes(1) - rxAtRestore).as("bytes link 1 received after it came back")
                    .isGreaterThan(1L << 20);
        }
    }
}
