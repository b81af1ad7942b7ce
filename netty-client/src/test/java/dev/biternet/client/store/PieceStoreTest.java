package dev.biternet.client.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PieceStoreTest {
    @TempDir
    Path dir;

    static byte[] data(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] digests(byte[] file, PieceLayout layout) {
        byte[] all = new byte[layout.pieceCount() * 32];
        for (int i = 0; i < layout.pieceCount(); i++) {
            var md = Digests.sha256();
            md.update(file, (int) layout.offset(i), layout.length(i));
            System.arraycopy(md.digest(), 0, all, i * 32, 32);
        }
        return all;
    }

    private static byte[] pieceDigest(byte[] file, PieceLayout layout, int i) {
        var md = Digests.sha256();
        md.update(file, (int) layout.offset(i), layout.length(i));
        return md.digest();
    }

    private void writePiece(PieceStore store, byte[] file, PieceLayout layout, int i) throws Exception {
        store.write(i, layout.offset(i), ByteBuffer.wrap(file, (int) layout.offset(i), layout.length(i)));
    }

    @Test
    void piecesInAnyOrderBecomeTheFileOnlyAtFinish() throws Exception {
        byte[] file = data(10 * 1000 + 7, 1);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        Path out = dir.resolve("f.bin");
        try (PieceStore store = new PieceStore(out, layout)) {
            store.addHashes(0, digests(file, layout));
            store.setRoot(Digests.root(digests(file, layout)), Digests.sha256().digest(file));
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < layout.pieceCount(); i++) {
                order.add(i);
            }
            Collections.shuffle(order, new Random(2));
            for (int i : order) {
                assertThat(out).doesNotExist();
                writePiece(store, file, layout, i);
                assertThat(store.complete(i, pieceDigest(file, layout, i), this)).isEqualTo(PieceStore.Outcome.VERIFIED);
            }
            assertThat(store.allVerified()).isDone();
            byte[] sha = store.finish();
            assertThat(sha).isEqualTo(Digests.sha256().digest(file));
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(file);
        assertThat(dir.resolve("f.bin.part")).doesNotExist();
    }

    /**
     * Whole pieces as the links hand them over (writePiece, from the store's aligned buffers):
     * straight to the disk where the file system takes O_DIRECT, through the page cache where
     * it does not or for an odd-sized last piece; the file is the same either way, and a copy
     * of a verified piece is dropped.
     */
    @Test
    void wholePiecesGoToTheDiskDirectlyWhereTheFileSystemTakesIt() throws Exception {
        List<Path> places = new ArrayList<>(List.of(dir));
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            places.add(Files.createTempDirectory(shm, "piecestore"));
        }
        for (Path place : places) {
            byte[] file = data(9 * 65536 + 1234, 11);
            PieceLayout layout = new PieceLayout(file.length, 65536);
            Path out = place.resolve("w.bin");
            try (PieceStore store = new PieceStore(out, layout)) {
                store.addHashes(0, digests(file, layout));
                store.setRoot(Digests.root(digests(file, layout)), Digests.sha256().digest(file));
                if (place == dir && directIoWorksIn(dir)) {
                    assertThat(store.writesDirect()).as("O_DIRECT on %s", place).isTrue();
                }
                for (int i = layout.pieceCount() - 1; i >= 0; i--) {
                    ByteBuffer piece = store.pieceBuffer();
                    assertThat(piece.capacity()).isGreaterThanOrEqualTo(layout.length(i));
                    piece.put(file, (int) layout.offset(i), layout.length(i)).flip();
                    assertThat(store.writePiece(i, piece, this)).isTrue();
                    store.recycle(piece);
                    assertThat(store.complete(i, pieceDigest(file, layout, i), this)).isEqualTo(PieceStore.Outcome.VERIFIED);
                }
                ByteBuffer late = store.pieceBuffer();
                late.put(new byte[layout.length(3)]).flip();
                assertThat(store.writePiece(3, late, "another link")).as("a late copy of a verified piece").isFalse();
                assertThat(store.finish()).isEqualTo(Digests.sha256().digest(file));
                assertThat(Files.readAllBytes(out)).as("the file written in %s", place).isEqualTo(file);
            } finally {
                if (place != dir) {
                    Files.deleteIfExists(out);
                    Files.deleteIfExists(place.resolve("w.bin.part"));
                    Files.delete(place);
                }
            }
        }
    }

    /** Whether this file system takes an O_DIRECT open and an aligned O_DIRECT write. */
    private static boolean directIoWorksIn(Path where) {
        Path probe = where.resolve("probe");
        try (var c = java.nio.channels.FileChannel.open(probe, java.nio.file.StandardOpenOption.CREATE,
                java.nio.file.StandardOpenOption.WRITE, com.sun.nio.file.ExtendedOpenOption.DIRECT)) {
            int block = (int) Files.getFileStore(probe).getBlockSize();
            c.write(ByteBuffer.allocateDirect(2 * block).alignedSlice(block).limit(block), 0);
            return true;
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return false;
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (java.io.IOException ignored) {
                // the temp dir goes anyway
            }
        }
    }

    @Test
    void wrongDigestFailsAndTheRightOneLaterVerifies() throws Exception {
        byte[] file = data(3000, 3);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        try (PieceStore store = new PieceStore(dir.resolve("g"), layout)) {
            store.addHashes(0, digests(file, layout));
            byte[] bad = pieceDigest(file, layout, 1);
            bad[0] ^= 1;
            assertThat(store.complete(1, bad, this)).isEqualTo(PieceStore.Outcome.FAILED);
            assertThat(store.isVerified(1)).isFalse();
            assertThat(store.complete(1, pieceDigest(file, layout, 1), this)).isEqualTo(PieceStore.Outcome.VERIFIED);
            assertThat(store.complete(1, pieceDigest(file, layout, 1), this)).isEqualTo(PieceStore.Outcome.DUPLICATE);
        }
    }

    @Test
    void digestWaitsForItsHash() throws Exception {
        byte[] file = data(2500, 4);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        byte[] all = digests(file, layout);
        try (PieceStore store = new PieceStore(dir.resolve("h"), layout)) {
            store.addHashes(0, java.util.Arrays.copyOfRange(all, 0, 32));
            Object owner = new Object();
            assertThat(store.complete(2, pieceDigest(file, layout, 2), owner)).isEqualTo(PieceStore.Outcome.PENDING);
            List<PieceStore.Resolved> resolved = store.addHashes(1, java.util.Arrays.copyOfRange(all, 32, 96));
            assertThat(resolved).containsExactly(new PieceStore.Resolved(2, owner, PieceStore.Outcome.VERIFIED));
            assertThat(store.isVerified(2)).isTrue();
        }
    }

    @Test
    void contradictingOrOutOfRangeHashesAreRejected() throws Exception {
        PieceLayout layout = new PieceLayout(2000, 1000);
        try (PieceStore store = new PieceStore(dir.resolve("i"), layout)) {
            store.addHashes(0, new byte[32]);
            byte[] other = new byte[32];
            other[5] = 1;
            assertThatThrownBy(() -> store.addHashes(0, other)).hasMessageContaining("two different hashes for piece 0");
            assertThatThrownBy(() -> store.addHashes(1, new byte[64])).hasMessageContaining("outside");
        }
    }

    @Test
    void wrongRootKeepsThePartFileAndNeverRenames() throws Exception {
        byte[] file = data(1500, 5);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        Path out = dir.resolve("j");
        try (PieceStore store = new PieceStore(out, layout)) {
            store.addHashes(0, digests(file, layout));
            store.setRoot(new byte[32], Digests.sha256().digest(file));
            for (int i = 0; i < 2; i++) {
                writePiece(store, file, layout, i);
                store.complete(i, pieceDigest(file, layout, i), this);
            }
            assertThatThrownBy(store::finish).isInstanceOf(PieceStore.IntegrityException.class)
                    .hasMessageContaining("root hash");
        }
        assertThat(out).doesNotExist();
        assertThat(dir.resolve("j.part")).exists();
    }

    @Test
    void bytesOnDiskThatDifferFromTheVerifiedPiecesAreCaught() throws Exception {
        byte[] file = data(2000, 6);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        Path out = dir.resolve("k");
        try (PieceStore store = new PieceStore(out, layout, true)) {
            store.addHashes(0, digests(file, layout));
            store.setRoot(Digests.root(digests(file, layout)), Digests.sha256().digest(file));
            byte[] corrupt = file.clone();
            corrupt[1500] ^= 0x40;
            // piece 1 is judged by its (correct) digest but different bytes land on disk:
            writePiece(store, file, layout, 0);
            store.complete(0, pieceDigest(file, layout, 0), this);
            writePiece(store, corrupt, layout, 1);
            store.complete(1, pieceDigest(file, layout, 1), this);
            assertThatThrownBy(store::finish).isInstanceOf(PieceStore.IntegrityException.class)
                    .hasMessageContaining("does not match the server's SHA-256");
        }
        assertThat(out).doesNotExist();
    }

    @Test
    void aPieceTwoLinksWroteIntoIsCheckedOnDiskBeforeItCounts() throws Exception {
        byte[] file = data(2000, 9);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        Object good = "good link";
        Object bad = "bit-flipping link";
        byte[] corrupt = file.clone();
        corrupt[1600] ^= 0x10;
        try (PieceStore store = new PieceStore(dir.resolve("race"), layout)) {
            store.addHashes(0, digests(file, layout));
            // Endgame: both copies of piece 1 in flight; the bad copy's second half lands last.
            store.write(1, 1000, ByteBuffer.wrap(file, 1000, 1000), good);
            store.write(1, 1500, ByteBuffer.wrap(corrupt, 1500, 500), bad);
            // The good link's digest (over its own bytes) matches, but the disk does not.
            assertThat(store.complete(1, pieceDigest(file, layout, 1), good)).isEqualTo(PieceStore.Outcome.OVERWRITTEN);
            assertThat(store.isVerified(1)).isFalse();
            assertThat(store.complete(1, pieceDigest(corrupt, layout, 1), bad)).isEqualTo(PieceStore.Outcome.FAILED);
            // Sent again: now the disk holds the piece.
            store.write(1, 1000, ByteBuffer.wrap(file, 1000, 1000), good);
            assertThat(store.complete(1, pieceDigest(file, layout, 1), good)).isEqualTo(PieceStore.Outcome.VERIFIED);
            byte[] onDisk = Files.readAllBytes(store.partPath());
            assertThat(java.util.Arrays.copyOfRange(onDisk, 1000, 2000))
                    .isEqualTo(java.util.Arrays.copyOfRange(file, 1000, 2000));
        }
    }

    @Test
    void aLateCopyNeverOverwritesAVerifiedPiece() throws Exception {
        byte[] file = data(2000, 8);
        PieceLayout layout = new PieceLayout(file.length, 1000);
        try (PieceStore store = new PieceStore(dir.resolve("late"), layout)) {
            store.addHashes(0, digests(file, layout));
            writePiece(store, file, layout, 1);
            assertThat(store.complete(1, pieceDigest(file, layout, 1), this)).isEqualTo(PieceStore.Outcome.VERIFIED);
            byte[] garbage = new byte[1000];
            assertThat(store.write(1, 1000, ByteBuffer.wrap(garbage))).isFalse();
            byte[] onDisk = Files.readAllBytes(store.partPath());
            assertThat(java.util.Arrays.copyOfRange(onDisk, 1000, 2000))
                    .isEqualTo(java.util.Arrays.copyOfRange(file, 1000, 2000));
        }
    }

    @Test
    void emptyFileNeedsNoPieces() throws Exception {
        PieceLayout layout = new PieceLayout(0, 1000);
        Path out = dir.resolve("empty");
        try (PieceStore store = new PieceStore(out, layout)) {
            store.setRoot(Digests.root(new byte[0]), Digests.sha256().digest());
            assertThat(store.allVerified()).isDone();
            store.finish();
        }
        assertThat(out).exists().isEmptyFile();
    }

    @Test
    void piecesWithoutHashesAreCheckedAsAWholeAgainstTheChecksum() throws Exception {
        byte[] file = data(100_000, 19);
        PieceLayout layout = new PieceLayout(file.length, 16384);
        byte[] sha = Digests.sha256().digest(file);
        for (boolean right : new boolean[] {false, true}) {
            Path out = dir.resolve("f" + right);
            try (PieceStore store = new PieceStore(out, layout, true)) {
                for (int i = 0; i < layout.pieceCount(); i++) {
                    writePiece(store, file, layout, i);
                    assertThat(store.completeUnhashed(i, pieceDigest(file, layout, i), this))
                            .isEqualTo(PieceStore.Outcome.VERIFIED);
                }
                byte[] wrong = sha.clone();
                wrong[0] ^= 1;
                if (right) {
                    assertThat(store.finishUnhashed(sha)).isEqualTo(sha);
                    assertThat(Files.readAllBytes(out)).isEqualTo(file);
                } else {
                    assertThatThrownBy(() -> store.finishUnhashed(wrong)).isInstanceOf(PieceStore.IntegrityException.class)
                            .hasMessage("the file's SHA-256 is " + Digests.hex(sha) + ", not the --checksum "
                                    + Digests.hex(wrong) + "; " + PieceStore.partFor(out) + " is kept, not renamed");
                    assertThat(out).doesNotExist();
                    assertThat(PieceStore.partFor(out)).exists();
                }
            }
        }
    }
}
