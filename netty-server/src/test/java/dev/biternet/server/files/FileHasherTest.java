package dev.biternet.server.files;

import static dev.biternet.server.TestFiles.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.server.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Piece hashes are what a client checks every byte against: they must be SHA-256 of exactly each piece. */
class FileHasherTest {
    private static final int PIECE = 4096;
    private static final long TIMEOUT_MS = 10_000;

    @TempDir
    Path dir;
    private FileHasher hasher;

    @BeforeEach
    void setUp() {
        hasher = new FileHasher(2, 8);
    }

    @AfterEach
    void tearDown() {
        hasher.close();
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {0, 1, PIECE - 1, PIECE, 3 * PIECE, 3 * PIECE + 1, 20 * PIECE + 17})
    void digestsAreSha256OfEachPieceRootAndWholeFile(int size) throws Exception {
        Path file = dir.resolve("f-" + size);
        byte[] data = TestFiles.write(file, size, size);
        PieceLayout layout = new PieceLayout(size, PIECE);
        List<Integer> publishedCounts = new CopyOnWriteArrayList<>();

        PieceHashes h = hashes(hasher, file, layout);
        h.listen(publishedCounts::add);
        awaitComplete(h);

        assertCorrect(h, data, layout);
        assertThat(publishedCounts).as("counts a session hears").isSortedAccordingTo(Integer::compare);
        if (!publishedCounts.isEmpty()) {
            assertThat(publishedCounts.get(publishedCounts.size() - 1)).isEqualTo(layout.pieceCount());
        }
    }

    @Test
    void aBigFileIsPublishedInBatchesBeforeItIsComplete() throws Exception {
        int size = 40 * PIECE + 5;
        Path file = dir.resolve("big");
        byte[] data = TestFiles.write(file, 7, size);
        PieceLayout layout = new PieceLayout(size, PIECE);
        record Heard(int count, boolean complete, byte[] digests) {}
        List<Heard> seen = new CopyOnWriteArrayList<>();
        try (FileHasher single = new FileHasher(1, 8)) {
            PieceHashes h;
            // The hashing thread takes a file's turn under the hasher's lock: holding it puts
            // the listener in place before the big file's first batch.
            synchronized (single) {
                h = hashes(single, file, layout);
                h.listen(count -> seen.add(new Heard(count, h.complete(), h.digests(0, count))));
            }
            awaitComplete(h);
            assertCorrect(h, data, layout);
        }
        assertThat(seen.size()).as("batches heard").isGreaterThan(1);
        byte[] all = TestFiles.allPieceDigests(data, PIECE);
        int previous = 0;
        for (int i = 0; i < seen.size(); i++) {
            Heard heard = seen.get(i);
            assertThat(heard.count()).as("published counts grow").isGreaterThan(previous);
            previous = heard.count();
            assertThat(heard.complete()).as("only the last batch completes the table").isEqualTo(i == seen.size() - 1);
            assertThat(heard.digests()).as("published prefix of %d pieces is final", heard.count())
                    .isEqualTo(java.util.Arrays.copyOf(all, heard.count() * Digests.SHA256_BYTES));
        }
        assertThat(previous).isEqualTo(layout.pieceCount());
    }

    @Test
    void theSameVersionIsHashedOnceAndCached() throws Exception {
        Path file = dir.resolve("cached");
        TestFiles.write(file, 3, 5 * PIECE + 3);
        PieceLayout layout = new PieceLayout(5 * PIECE + 3, PIECE);
        PieceHashes first = hashes(hasher, file, layout);
        assertThat(hashes(hasher, file, layout)).as("asked again while hashing").isSameAs(first);
        awaitComplete(first);
        assertThat(hashes(hasher, file, layout)).as("asked again once done").isSameAs(first);
        assertThat(hashes(hasher, file, new PieceLayout(layout.fileSize(), 2 * PIECE)))
                .as("another piece size is another table").isNotSameAs(first);
    }

    @Test
    void aModifiedFileGetsANewCorrectTable() throws Exception {
        Path file = dir.resolve("changing");
        byte[] before = TestFiles.write(file, 11, 3 * PIECE + 100);
        PieceLayout l1 = new PieceLayout(before.length, PIECE);
        PieceHashes h1 = hashes(hasher, file, l1);
        awaitComplete(h1);

        byte[] after = TestFiles.write(file, 12, 4 * PIECE + 1);
        Files.setLastModifiedTime(file, FileTime.fromMillis(Files.getLastModifiedTime(file).toMillis() + 5_000));
        PieceLayout l2 = new PieceLayout(after.length, PIECE);
        PieceHashes h2 = hashes(hasher, file, l2);
        assertThat(h2.version()).isNotEqualTo(h1.version());
        assertThat(h2.version().tag()).as("the version number a client sees").isNotEqualTo(h1.version().tag());
        assertThat(h2).isNotSameAs(h1);
        awaitComplete(h2);

        assertCorrect(h2, after, l2);
        assertCorrect(h1, before, l1); // sessions pinned to the old version keep their table
    }

    @Test
    void aFileThatShrankSinceItWasOpenedFailsAndIsRetriedNextTime() throws Exception {
        Path file = dir.resolve("shrinks");
        TestFiles.write(file, 5, 6 * PIECE);
        try (ServedFile opened = new ServedRoot(dir).open("shrinks")) {
            PieceLayout layout = new PieceLayout(opened.version().size(), PIECE);
            TestFiles.write(file, 6, 2 * PIECE);

            PieceHashes failed = hasher.hashes(opened, layout);
            await("hashing to fail", TIMEOUT_MS, () -> failed.failure() != null);
            assertThat(failed.complete()).isFalse();
            assertThat(failed.failure()).contains("shrinks").doesNotContain(dir.toString());
            assertThat(hasher.hashes(opened, layout)).as("a failed table is not served from the cache").isNotSameAs(failed);
        }
    }

    /**
     * A file nobody listens to any more is paused after its grace, keeping what was hashed; asked
     * for again, it goes on from there to the right table.
     */
    @Test
    void aFileNobodyWantsIsPausedAndResumedWhereItStopped() throws Exception {
        Path file = dir.resolve("abandoned");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(512L << 20); // sparse: zeros
        }
        int piece = 1 << 20;
        PieceLayout layout = new PieceLayout(512L << 20, piece);
        try (FileHasher lazy = new FileHasher(1, 8, java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(50));
             ServedFile opened = new ServedRoot(dir).open("abandoned")) {
            PieceHashes h = lazy.hashes(opened, layout);
            await("some pieces hashed", TIMEOUT_MS, () -> h.published() > 0);
            int paused = awaitSteady(h);
            assertThat(paused).as("pieces hashed before the pause").isLessThan(layout.pieceCount());
            assertThat(h.complete()).isFalse();

            h.listen(count -> { }); // a session wants it now: it is hashed to the end
            assertThat(lazy.hashes(opened, layout)).as("asked again: the same table goes on").isSameAs(h);
            awaitComplete(h);
            byte[] zeros = TestFiles.sha256(new byte[piece]);
            for (int i = 0; i < layout.pieceCount(); i++) {
                assertThat(h.digests(i, i + 1)).as("digest of piece %d", i).isEqualTo(zeros);
            }
        }
    }

    /** Waits until {@code h}'s published count stops growing for 200 ms; returns it. */
    private static int awaitSteady(PieceHashes h) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        int last = -1;
        while (System.currentTimeMillis() < deadline) {
            int now = h.published();
            if (now == last) {
                return now;
            }
            last = now;
            Thread.sleep(200);
        }
        throw new AssertionError("hashing never paused: " + last + " pieces published");
    }

    @Test
    void aFileAnotherNodeIsHashingDoesNotHoldUpOneThisNodeHashes() throws Exception {
        // Two cluster nodes, each hashing the file the other waits for. A hashing thread that
        // waited on its turn for the other node's digests held up its own file, the one the
        // other node was waiting for: both stood still until a lock expired (15 s).
        int size = 8 * PIECE + 1;
        Path theirs = dir.resolve("theirs");
        Path ours = dir.resolve("ours");
        byte[] theirData = TestFiles.write(theirs, 11, size);
        byte[] ourData = TestFiles.write(ours, 12, size);
        PieceLayout layout = new PieceLayout(size, PIECE);
        java.util.concurrent.CompletableFuture<Void> oursShared = new java.util.concurrent.CompletableFuture<>();
        SharedDigests otherNode = new SharedDigests() {
            @Override
            public Known load(FileVersion version, PieceLayout l) {
                if (version.path().getFileName().toString().equals("ours")) {
                    return null; // nobody has: this node hashes it
                }
                // The other node finishes "theirs" only once it has read "ours" from this one.
                return oursShared.isDone()
                        ? new Known(TestFiles.allPieceDigests(theirData, PIECE), TestFiles.sha256(theirData))
                        : HASHED_ELSEWHERE;
            }

            @Override
            public void hashing(FileVersion version, PieceLayout l) {
            }

            @Override
            public void save(FileVersion version, PieceLayout l, Known known) {
                if (version.path().getFileName().toString().equals("ours")) {
                    oursShared.complete(null);
                }
            }
        };
        try (FileHasher single = new FileHasher(1, 8, null, otherNode)) {
            PieceHashes waited = hashes(single, theirs, layout); // asked first: its turn comes first
            PieceHashes hashedHere = hashes(single, ours, layout);
            awaitComplete(hashedHere);
            awaitComplete(waited);
            assertCorrect(hashedHere, ourData, layout);
            assertCorrect(waited, theirData, layout);
            assertThat(single.sharedHits()).as("files whose digests came from the other node").isEqualTo(1);
            assertThat(single.hashedBytes()).as("bytes read here: ours, and theirs' sampled pieces only")
                    .isLessThan(2L * size);
        }
    }

    @Test
    void unpublishedDigestsCannotBeRead() throws Exception {
        Path file = dir.resolve("small");
        TestFiles.write(file, 9, 2 * PIECE);
        PieceHashes h = hashes(hasher, file, new PieceLayout(2 * PIECE, PIECE));
        awaitComplete(h);
        assertThatThrownBy(() -> h.digests(0, 3)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> h.digests(2, 1)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    /** Hashes {@code file} as a session would: opened below its directory, by descriptor. */
    static PieceHashes hashes(FileHasher hasher, Path file, PieceLayout layout) throws Exception {
        try (ServedFile opened = new ServedRoot(file.getParent()).open(file.getFileName().toString())) {
            return hasher.hashes(opened, layout);
        }
    }

    private static void awaitComplete(PieceHashes h) throws InterruptedException {
        await("hashes of " + h.version().path().getFileName(), TIMEOUT_MS, () -> h.complete() || h.failure() != null);
        assertThat(h.failure()).as("hashing failure").isNull();
    }

    private static void assertCorrect(PieceHashes h, byte[] data, PieceLayout layout) {
        int count = layout.pieceCount();
        assertThat(h.complete()).isTrue();
        assertThat(h.published()).isEqualTo(count);
        for (int i = 0; i < count; i++) {
            assertThat(h.digests(i, i + 1)).as("digest of piece %d", i)
                    .isEqualTo(TestFiles.sha256(TestFiles.slice(data, layout.offset(i), layout.length(i))));
        }
        byte[] concatenated = TestFiles.allPieceDigests(data, layout.pieceSize());
        assertThat(h.digests(0, count)).isEqualTo(concatenated);
        assertThat(h.root()).as("root").isEqualTo(TestFiles.sha256(concatenated));
        assertThat(h.fileSha256()).as("whole file").isEqualTo(TestFiles.sha256(data));
    }
}
