package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster's nodes behind one name with several addresses (three in-process nodes on
 * 127.0.0.11-13, one port, one real redis-server; the name resolved by the test as DNS would):
 * the download's links spread over every address, a dead address is skipped, and a link whose
 * node dies mid-download moves on to the next address and re-attaches to the same session.
 */
class ClusterAddressesTest {
    private static final int PIECE = 256 << 10;
    private static final String NAME = "nodes.cluster.test";

    @TempDir
    Path root;
    @TempDir
    Path downloads;
    private InProcessCluster cluster;

    @AfterEach
    void stop() throws Exception {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** One run of the client as biternet-get runs it, but with the test's name resolution. */
    private record Result(DownloadResult result, DownloadException failure, String err) {}

    private Result download(Path out, String... ifaces) throws InterruptedException {
        StringWriter err = new StringWriter();
        Target target = Target.parse("biternet://" + NAME + ":" + cluster.nodes.get(0).address().getPort() + "/big.bin");
        Download.Request request = new Download.Request(target, out, List.of(ifaces), 10_000, true,
                Download.DEFAULT_RETRY_SECONDS, false, host -> {
                    if (!host.equals(NAME)) {
                        throw new UnknownHostException(host);
                    }
                    return cluster.addresses();
                });
        try {
            return new Result(new Download(request, new PrintWriter(err, true)).run(), null, err.toString());
        } catch (DownloadException e) {
            return new Result(null, e, err.toString());
        }
    }

    @Test
    void theLinksSpreadOverEveryAddressOfTheName() throws Exception {
        Path source = Fixtures.randomFile(root, "big.bin", 24L << 20, 50);
        cluster = new InProcessCluster(Collections.nCopies(3, root), PIECE, true);
        Path out = downloads.resolve("big.bin");

        Result run = download(out, "127.0.0.1", "127.0.0.2", "127.0.0.3");

        assertThat(run.failure()).as(run.err()).isNull();
        Fixtures.assertSameBytes(source, out);
        assertThat(run.err()).contains(NAME + " has 3 addresses");
        for (int i = 0; i < 3; i++) {
            assertThat(cluster.sent(i)).as("payload node %d (127.0.0.%d) sent", i, 11 + i).isGreaterThan(PIECE);
        }
    }

    @Test
    void aDeadAddressIsSkippedAndALinkWhoseNodeDiesMovesToTheNextOfTheSameSession() throws Exception {
        long size = 24L << 20;
        Path source = Fixtures.randomFile(root, "big.bin", size, 51);
        cluster = new InProcessCluster(Collections.nCopies(3, root), PIECE, true);
        cluster.stopNode(1); // dead from the start: link 2's first connect is refused there
        Path out = downloads.resolve("big.bin");

        CompletableFuture<Result> download = CompletableFuture.supplyAsync(() -> {
            try {
                return download(out, "127.0.0.1:rate=3M", "127.0.0.2:rate=3M", "127.0.0.3:rate=3M");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (cluster.sent(2) < size / 8 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(cluster.sent(2)).as("node 2 sent an eighth of the file").isGreaterThanOrEqualTo(size / 8);
        long firstBefore = cluster.sent(0);
        cluster.stopNode(2); // its connections closed, its address refuses from now on

        Result run = download.get(120, TimeUnit.SECONDS);

        assertThat(run.failure()).as(run.err()).isNull();
        Fixtures.assertSameBytes(source, out);
        assertThat(run.err()).as("the links that were on node 2").contains("link 127.0.0.2 reconnected")
                .contains("link 127.0.0.3 reconnected");
        assertThat(cluster.sent(0) - firstBefore).as("node 0 sent the rest: the links moved to it, one session")
                .isGreaterThan(0);
        assertThat(cluster.sent(0) + cluster.sent(2)).as("each piece sent about once")
                .isLessThan(size * 11 / 10);
    }
}
