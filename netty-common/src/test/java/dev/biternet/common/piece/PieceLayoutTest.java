package dev.biternet.common.piece;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.quicktheories.core.Gen;
import org.quicktheories.generators.Generate;

class PieceLayoutTest {
    /** The largest file that still fits the piece target at the largest piece size. */
    private static final long MAX_FILE = (long) PieceLayout.TARGET_MAX_PIECES * PieceLayout.MAX_PIECE_SIZE;
    private static final int MAX_PIECE = 64 << 20;
    private static final int MIB = 1 << 20;

    // ---------------------------------------------------------------- tiling

    @Test
    void piecesTileAnyFileExactly() {
        qt().withExamples(2000)
                .forAll(pieceSizes().flatMap(pieceSize -> fileSizeFor(pieceSize).map(f -> new Case(f, pieceSize))))
                .assuming(c -> ceilDiv(c.fileSize(), c.pieceSize()) <= Integer.MAX_VALUE)
                .checkAssert(c -> assertTiles(new PieceLayout(c.fileSize(), c.pieceSize())));
    }

    record Case(long fileSize, int pieceSize) {}

    @Test
    void smallLayoutsTileExactlyPieceByPiece() {
        qt().withExamples(500)
                .forAll(longs().between(0, 1 << 16), integers().between(1, 5000))
                .checkAssert((fileSize, pieceSize) -> {
                    PieceLayout layout = new PieceLayout(fileSize, pieceSize);
                    long next = 0;
                    for (int i = 0; i < layout.pieceCount(); i++) {
                        assertThat(layout.offset(i)).isEqualTo(next);
                        assertThat(layout.length(i)).isPositive().isLessThanOrEqualTo(pieceSize);
                        if (i < layout.pieceCount() - 1) {
                            assertThat(layout.length(i)).isEqualTo(pieceSize);
                        }
                        next += layout.length(i);
                    }
                    assertThat(next).isEqualTo(fileSize);
                });
    }

    /**
     * Checks the tiling through the layout's own answers: all pieces when there are few, else
     * the first, the last and a sample in between (a 1 TiB file at 1 byte per piece would take
     * minutes to walk).
     */
    private static void assertTiles(PieceLayout layout) {
        long fileSize = layout.fileSize();
        int pieceSize = layout.pieceSize();
        int count = layout.pieceCount();
        assertThat((long) count).isEqualTo(ceilDiv(fileSize, pieceSize));
        if (fileSize == 0) {
            assertThat(count).isZero();
            return;
        }
        int last = count - 1;
        assertThat(layout.offset(0)).isZero();
        assertThat(layout.length(last)).isPositive().isLessThanOrEqualTo(pieceSize);
        assertThat(layout.offset(last) + layout.length(last)).as("end of the last piece").isEqualTo(fileSize);

        // Sum of lengths: every piece but the last is full.
        assertThat((long) last * pieceSize + layout.length(last)).isEqualTo(fileSize);

        IntStream indices = count <= 4096
                ? IntStream.range(0, last)
                : IntStream.concat(IntStream.of(0, 1, last - 1),
                        new SplittableRandom(fileSize ^ pieceSize).ints(500, 0, last));
        indices.forEach(i -> {
            assertThat(layout.length(i)).as("piece %d of %d", i, count).isEqualTo(pieceSize);
            assertThat(layout.offset(i) + layout.length(i)).as("piece %d ends where %d starts", i, i + 1)
                    .isEqualTo(layout.offset(i + 1));
        });

        assertThatThrownBy(() -> layout.offset(count)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("piece " + count + " of " + count);
        assertThatThrownBy(() -> layout.length(-1)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void emptyFileHasNoPieces() {
        for (int pieceSize : new int[] {1, PieceLayout.MIN_PIECE_SIZE, MIB, MAX_PIECE}) {
            PieceLayout layout = new PieceLayout(0, pieceSize);
            assertThat(layout.pieceCount()).isZero();
            assertThatThrownBy(() -> layout.offset(0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> layout.length(0)).isInstanceOf(IndexOutOfBoundsException.class);
        }
        assertThat(PieceLayout.forFile(0).pieceCount()).isZero();
    }

    @Test
    void oneByteFileHasOneOneBytePiece() {
        PieceLayout layout = PieceLayout.forFile(1);
        assertThat(layout.pieceCount()).isEqualTo(1);
        assertThat(layout.offset(0)).isZero();
        assertThat(layout.length(0)).isEqualTo(1);
    }

    @Test
    void invalidLayoutsAreRejected() {
        assertThatThrownBy(() -> new PieceLayout(-1, MIB)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("negative file size -1");
        assertThatThrownBy(() -> new PieceLayout(10, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("piece size must be positive, not 0");
        assertThatThrownBy(() -> new PieceLayout(10, -5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PieceLayout(1L << 40, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("too many pieces");
        assertThat(new PieceLayout(Integer.MAX_VALUE, 1).pieceCount()).isEqualTo(Integer.MAX_VALUE);
        assertThatThrownBy(() -> new PieceLayout(Integer.MAX_VALUE + 1L, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void fileSizesNearLongMaxAreRejectedNotWrapped() {
        assertThatThrownBy(() -> new PieceLayout(Long.MAX_VALUE, 2)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PieceLayout(Long.MAX_VALUE, MIB)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PieceLayout.forFile(Long.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---------------------------------------------------------------- default piece size

    @Test
    void forFileKeepsThePieceCountBoundedWithPowerOfTwoPieces() {
        Gen<Long> sizes = longs().between(0, MAX_FILE)
                .mix(longs().between(0, 1L << 50))
                .mix(integers().between(16, 44).zip(integers().between(-1, 1), (shift, d) -> (1L << shift) + d));
        qt().withExamples(3000).forAll(sizes).checkAssert(fileSize -> {
            PieceLayout layout = PieceLayout.forFile(fileSize);
            int pieceSize = layout.pieceSize();
            assertThat(layout.fileSize()).isEqualTo(fileSize);
            assertThat(Integer.bitCount(pieceSize)).as("power of two: %d", pieceSize).isEqualTo(1);
            assertThat(pieceSize).isBetween(PieceLayout.SMALLEST_DEFAULT_PIECE_SIZE, PieceLayout.MAX_PIECE_SIZE);
            if (pieceSize > PieceLayout.SMALLEST_DEFAULT_PIECE_SIZE) {
                assertThat(layout.pieceCount()).as("at least %d pieces above the smallest size", PieceLayout.TARGET_MIN_PIECES)
                        .isGreaterThanOrEqualTo(PieceLayout.TARGET_MIN_PIECES);
            }
            if (pieceSize < PieceLayout.DEFAULT_PIECE_SIZE) {
                assertThat(ceilDiv(fileSize, pieceSize * 2)).as("twice the piece size would have left too few pieces")
                        .isLessThan(PieceLayout.TARGET_MIN_PIECES);
            }
            if (pieceSize < PieceLayout.MAX_PIECE_SIZE) {
                assertThat(layout.pieceCount()).isLessThanOrEqualTo(PieceLayout.TARGET_MAX_PIECES);
            }
            if (pieceSize > PieceLayout.DEFAULT_PIECE_SIZE) {
                assertThat(ceilDiv(fileSize, pieceSize / 2)).as("half the piece size would have been enough")
                        .isGreaterThan(PieceLayout.TARGET_MAX_PIECES);
            }
            assertTiles(layout);
        });
    }

    @Test
    void forFileGrowsPiecesWithTheFileUpTo1MiBFrom1GiB() {
        assertThat(PieceLayout.forFile(512 * MIB).pieceSize()).isEqualTo(512 << 10);
        assertThat(PieceLayout.forFile(1023 * MIB).pieceSize()).isEqualTo(512 << 10);
        assertThat(PieceLayout.forFile(1023 * MIB + 1).pieceSize()).as("1,024 pieces, the last of 1 byte").isEqualTo(1 << 20);
        assertThat(PieceLayout.forFile(1024 * MIB).pieceSize()).isEqualTo(1 << 20);
        assertThat(PieceLayout.forFile(1024 * MIB).pieceCount()).isEqualTo(1024);
        assertThat(PieceLayout.forFile(100L << 30).pieceSize()).as("100 GiB").isEqualTo(1 << 20);
        assertThat(PieceLayout.forFile(256L << 30).pieceSize()).as("256 GiB: 262,144 pieces").isEqualTo(1 << 20);
        assertThat(PieceLayout.forFile((256L << 30) + 1).pieceSize()).isEqualTo(2 << 20);
    }

    @Test
    void forFileHalvesBelow1024PiecesDownTo64KiB() {
        assertThat(PieceLayout.forFile(256 * MIB).pieceSize()).isEqualTo(256 << 10);
        assertThat(PieceLayout.forFile(256 * MIB).pieceCount()).isEqualTo(1024);
        assertThat(PieceLayout.forFile(256 * MIB - (256 << 10) + 1).pieceSize()).isEqualTo(256 << 10);
        assertThat(PieceLayout.forFile(256 * MIB - (256 << 10)).pieceSize()).isEqualTo(128 << 10);
        assertThat(PieceLayout.forFile(128 * MIB).pieceSize()).isEqualTo(128 << 10);
        assertThat(PieceLayout.forFile(128 * MIB).pieceCount()).isEqualTo(1024);
        assertThat(PieceLayout.forFile(128 * MIB - (128 << 10)).pieceSize()).isEqualTo(64 << 10);
        assertThat(PieceLayout.forFile(32 * MIB).pieceSize()).isEqualTo(64 << 10);
        assertThat(PieceLayout.forFile(32 * MIB).pieceCount()).isEqualTo(512);
        assertThat(PieceLayout.forFile(1).pieceSize()).isEqualTo(64 << 10);
        assertThat(PieceLayout.forFile(256 * MIB + 1).pieceSize()).isEqualTo(256 << 10);
    }

    @Test
    void forFileDoublesAtTheThresholdAndStopsAtTheCap() {
        int base = PieceLayout.DEFAULT_PIECE_SIZE;
        long threshold = (long) PieceLayout.TARGET_MAX_PIECES * base; // 256 GiB
        assertThat(PieceLayout.forFile(threshold).pieceSize()).isEqualTo(base);
        assertThat(PieceLayout.forFile(threshold).pieceCount()).isEqualTo(PieceLayout.TARGET_MAX_PIECES);
        assertThat(PieceLayout.forFile(threshold + 1).pieceSize()).isEqualTo(2 * base);
        assertThat(PieceLayout.forFile(MAX_FILE).pieceSize()).isEqualTo(16 * MIB);
        assertThat(PieceLayout.forFile(MAX_FILE).pieceCount()).isEqualTo(PieceLayout.TARGET_MAX_PIECES);
        assertThat(PieceLayout.forFile(MAX_FILE + 1).pieceSize()).isEqualTo(16 * MIB);
        assertThat(PieceLayout.forFile(MAX_FILE + 1).pieceCount()).isEqualTo(PieceLayout.TARGET_MAX_PIECES + 1);
    }

    // ---------------------------------------------------------------- generators and helpers

    private static Gen<Integer> pieceSizes() {
        return integers().between(1, MAX_PIECE)
                .mix(integers().between(1, 4096))
                .mix(integers().between(0, 26).map(shift -> 1 << shift));
    }

    /** Any size up to 1 TiB, with extra weight on exact multiples of the piece size and their neighbours. */
    private static Gen<Long> fileSizeFor(int pieceSize) {
        long maxMultiple = Math.min(MAX_FILE / pieceSize, Integer.MAX_VALUE);
        Gen<Long> nearMultiple = longs().between(0, maxMultiple).zip(integers().between(-1, 1),
                (k, d) -> Math.max(0, Math.min(MAX_FILE, k * pieceSize + d)));
        return Generate.oneOf(longs().between(0, MAX_FILE), nearMultiple, longs().between(0, 3L * pieceSize));
    }

    private static long ceilDiv(long a, long b) {
        return a / b + (a % b == 0 ? 0 : 1);
    }
}
