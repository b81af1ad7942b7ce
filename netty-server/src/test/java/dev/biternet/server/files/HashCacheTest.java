package dev.biternet.server.files;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.BiternetServerTest.Piece;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Piece hashes kept on disk across restarts: a restarted server reads none of a known file, and
 * whatever happened to the file or to the cache, the hashes served are those of the file's bytes.
 */
@Timeout(60)
class HashCacheTest {
    private static final int PIECE = 16 << 10;
    private static final int SIZE = 64 * PIECE + 1234;

    @TempDir
    Path dir;
    private Path root;
    private Path cacheDir;
    private BiternetServer server;
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeEach
    void setUp() throws Exception {
        root = Files.createDirectory(dir.resolve("served"));
        cacheDir = dir.resolve("cache");
        log.start();
        ((Logger) LoggerFactory.getLogger("biternet.server")).addAppender(log);
    }

    @AfterEach
    void tearDown() {
        if (server != null) {
            server.close();
        }
        ((Logger) LoggerFactory.getLogger("biternet.server")).detachAppender(log);
    }

    /** Starts a server on {@code cache} (a new instance each time, as a restarted process has). */
    private void start(HashCache cache) throws Exception {
        if (server != null) {
            server.close();
        }
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60).withHashCache(cache));
    }

    private HashCache cache() throws Exception {
        return new HashCache(cacheDir, Duration.ZERO);
    }

    private double metric(String name) {
        for (String line : server.metrics().scrape().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no " + name);
    }

    @Test
    void aRestartedServerReadsNoneOfAKnownFileAndServesTheSameHashes() throws Exception {
        byte[] data = TestFiles.write(root.resolve("f.bin"), 1, SIZE);
        start(cache());
        assertThat(downloadVerified("f.bin")).isEqualTo(data);
        assertThat(metric("biternet_hashed_bytes_total")).isEqualTo(SIZE);
        assertThat(Files.list(cacheDir).filter(p -> p.toString().endsWith(".hashes")).count()).isEqualTo(1);

        start(cache());
        assertThat(downloadVerified("f.bin")).isEqualTo(data);
        assertThat(metric("biternet_hashed_bytes_total")).as("bytes read to hash after the restart").isZero();
        assertThat(metric("biternet_hash_cache_hits_total")).isEqualTo(1);
        assertThat(log.list).noneMatch(e -> e.getFormattedMessage().startsWith("hash cache"));
    }

    @Test
    void aFileRewrittenInPlaceWithItsSizeAndModificationTimeRestoredIsHashedAgain() throws Exception {
        Path file = root.resolve("f.bin");
        TestFiles.write(file, 1, SIZE);
        FileTime mtime = Files.getLastModifiedTime(file);
        start(cache());
        downloadVerified("f.bin");

        byte[] changed = TestFiles.randomBytes(2, SIZE);
        Thread.sleep(20); // past the file system's timestamp tick, so that the change time moves
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(changed), 0);
        }
        Files.setLastModifiedTime(file, mtime);
        start(cache());
        assertThat(downloadVerified("f.bin")).isEqualTo(changed);
        assertThat(metric("biternet_hashed_bytes_total")).isEqualTo(SIZE);
        assertThat(metric("biternet_hash_cache_hits_total")).isZero();

        start(cache());
        assertThat(downloadVerified("f.bin")).as("the entry was rewritten for the new bytes").isEqualTo(changed);
        assertThat(metric("biternet_hashed_bytes_total")).isZero();
    }

    @Test
    void aDamagedEntryIsIgnoredWithOneLineAndTheFileHashedAgain() throws Exception {
        byte[] data = TestFiles.write(root.resolve("f.bin"), 1, SIZE);
        start(cache());
        downloadVerified("f.bin");
        Path entry = Files.list(cacheDir).filter(p -> p.toString().endsWith(".hashes")).findFirst().orElseThrow();
        byte[] bytes = Files.readAllBytes(entry);
        bytes[88 + 32 * 5 + 7] ^= 1; // one bit of piece 5's digest
        Files.write(entry, bytes);

        start(cache());
        assertThat(downloadVerified("f.bin")).isEqualTo(data);
        assertThat(metric("biternet_hashed_bytes_total")).isEqualTo(SIZE);
        assertThat(log.list).filteredOn(e -> e.getFormattedMessage().startsWith("hash cache"))
                .singleElement().satisfies(e -> assertThat(e.getFormattedMessage())
                        .isEqualTo("hash cache: ignoring " + entry + ": its checksum does not match; hashing the file again"));
    }

    @Test
    void aFileChangedJustBeforeItWasHashedIsNotSaved() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 1, SIZE);
        start(HashCache.open(cacheDir));
        downloadVerified("f.bin");
        start(HashCache.open(cacheDir));
        downloadVerified("f.bin");
        assertThat(metric("biternet_hashed_bytes_total")).as("a write in the same timestamp tick could not be told apart")
                .isEqualTo(SIZE);
    }

    @Test
    void theDefaultDirectoryIsSystemdsThenXdgsThenTheHomeCache() {
        assertThat(HashCache.defaultDir(Map.of("CACHE_DIRECTORY", "/var/cache/biternet-serve", "HOME", "/h")))
                .isEqualTo(Path.of("/var/cache/biternet-serve"));
        assertThat(HashCache.defaultDir(Map.of("XDG_CACHE_HOME", "/x", "HOME", "/h"))).isEqualTo(Path.of("/x/biternet"));
        assertThat(HashCache.defaultDir(Map.of("HOME", "/h"))).isEqualTo(Path.of("/h/.cache/biternet"));
        assertThat(HashCache.defaultDir(Map.of())).isNull();
    }

    /**
     * Downloads {@code name} as a client does: every piece checked against the digest the server
     * sent with it, the digests against the root hash, the whole file against its SHA-256.
     */
    private byte[] downloadVerified(String name) throws Exception {
        try (WireClient c = new WireClient(server.address()); WireClient link = new WireClient(server.address())) {
            c.hello();
            c.open(name);
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            link.hello();
            link.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(opened.getSessionId())
                    .setSecret(opened.getAttachSecret()).setWindow(16)).build());
            assertThat(link.expect(Envelope.BodyCase.ATTACHED).hasAttached()).isTrue();
            int count = opened.getPieceCount();
            byte[] file = new byte[(int) opened.getFileSize()];
            byte[][] digests = new byte[count][];
            byte[] rootHash = opened.getHashes().getRootHash().toByteArray();
            byte[] fileSha = opened.getHashes().getFileSha256().toByteArray();
            int verified = 0;
            while (verified < count || rootHash.length == 0) {
                Object frame = link.read();
                if (frame instanceof Envelope e) {
                    assertThat(e.getBodyCase()).isEqualTo(Envelope.BodyCase.PIECE_HASHES);
                    if (!e.getPieceHashes().getRootHash().isEmpty()) {
                        rootHash = e.getPieceHashes().getRootHash().toByteArray();
                        fileSha = e.getPieceHashes().getFileSha256().toByteArray();
                    }
                    continue;
                }
                Piece p = (Piece) frame;
                int i = p.header().getIndex();
                if (!p.header().getDigest().isEmpty()) {
                    digests[i] = p.header().getDigest().toByteArray();
                }
                System.arraycopy(p.bytes(), 0, file, (int) p.header().getOffset(), p.bytes().length);
                long end = Math.min(file.length, (i + 1L) * PIECE);
                if (p.header().getOffset() + p.bytes().length == end) {
                    assertThat(TestFiles.sha256(file, i * PIECE, (int) end)).as("piece %d against its digest", i)
                            .isEqualTo(digests[i]);
                    verified++;
                    link.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(i).setOk(true)).build());
                }
            }
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            for (byte[] d : digests) {
                all.write(d);
            }
            assertThat(TestFiles.sha256(all.toByteArray())).as("root hash").isEqualTo(rootHash);
            assertThat(TestFiles.sha256(file)).as("whole file").isEqualTo(fileSha);
            return file;
        }
    }
}
