package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three biternet-serve nodes sharing sessions through one real redis-server: a download whose
 * links land on different nodes ({@link NodeProxy}) is one session, and its bytes are the file's.
 */
class ClusterDownloadTest {
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

    private void startNodes(List<Path> roots) throws Exception {
        cluster = new InProcessCluster(roots, 256 << 10);
    }

    @Test
    void threeLinksOnThreeNodesDownloadOneFile() throws Exception {
        Path source = Fixtures.randomFile(root, "shared.bin", 24L << 20, 20);
        startNodes(java.util.Collections.nCopies(3, root));
        Path out = downloads.resolve("shared.bin");

        Fixtures.Run run = Fixtures.get("--iface", "127.0.0.1", "--iface", "127.0.0.2", "--iface", "127.0.0.3",
                "-o", out.toString(), cluster.url("shared.bin"));

        assertThat(run.exitCode()).as(run.err()).isZero();
        Fixtures.assertSameBytes(source, out);
        long total = 0;
        for (int i = 0; i < 3; i++) {
            assertThat(cluster.proxy.sent(i)).as("bytes node %d sent", i).isGreaterThan(256 << 10);
            total += cluster.proxy.sent(i);
        }
        assertThat(total).as("bytes the nodes sent together: one session, each piece sent about once")
                .isLessThan((24L << 20) * 11 / 10);
    }

    @Test
    void aNodeWhoseCopyDiffersRefusesTheSessionAndTheDownloadFailsSayingSo(@TempDir Path otherRoot) throws Exception {
        Path source = Fixtures.randomFile(root, "shared.bin", 8L << 20, 21);
        // Same name, size and modification time, other bytes: only the sampled pieces tell.
        Path other = Fixtures.randomFile(otherRoot, "shared.bin", 8L << 20, 22);
        java.nio.file.Files.setLastModifiedTime(other, java.nio.file.Files.getLastModifiedTime(source));
        startNodes(List.of(root, otherRoot));
        Path first = downloads.resolve("first.bin");
        Fixtures.Run alone = Fixtures.get("--iface", "127.0.0.1", "-o", first.toString(),
                cluster.url("shared.bin"));
        assertThat(alone.exitCode()).as("node 0 alone: " + alone.err()).isZero();
        Fixtures.assertSameBytes(source, first);
        Path out = downloads.resolve("shared.bin");

        // Node 0 hashed the file for the cluster: node 1 finds its own copy differs. The link on
        // node 0 is paced so that the download is still running when node 1 refuses.
        Fixtures.Run run = Fixtures.get("--iface", "127.0.0.1:rate=2M", "--iface", "127.0.0.2",
                "-o", out.toString(), cluster.url("shared.bin"));

        assertThat(run.exitCode()).as(run.out()).isNotZero();
        assertThat(run.err()).contains("copy differs from the one the cluster hashed");
        assertThat(out).doesNotExist();
    }
}
