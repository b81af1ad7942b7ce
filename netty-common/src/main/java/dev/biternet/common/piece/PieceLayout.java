package dev.biternet.common.piece;

/**
 * How a file of a given size is cut into pieces: every piece is {@code pieceSize} bytes except
 * the last, which holds the remainder. An empty file has no pieces.
 */
public record PieceLayout(long fileSize, int pieceSize) {
    public static final int MIN_PIECE_SIZE = 16 << 10;
    public static final int DEFAULT_PIECE_SIZE = 256 << 10;
    public static final int MAX_PIECE_SIZE = 16 << 20;
    /** Beyond this many pieces the default piece size doubles, to keep the hash list small. */
    public static final int TARGET_MAX_PIECES = 1 << 18;

    public PieceLayout {
        if (fileSize < 0) {
            throw new IllegalArgumentException("negative file size " + fileSize);
        }
        if (pieceSize < 1) {
            throw new IllegalArgumentException("piece size must be positive, not " + pieceSize);
        }
        if (pieceCount(fileSize, pieceSize) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("too many pieces for " + fileSize + " bytes at " + pieceSize);
        }
    }

    /**
     * The default piece size for a file: 256 KiB, doubled while the file would have more than
     * 262,144 pieces (64 GiB), capped at 16 MiB. Small, because a piece is the unit a link
     * finishes: at the end of a download the links finish within about one piece time of each
     * other, and a 10 Mbit/s link needs 0.2 s for 256 KiB but 0.8 s for 1 MiB. Large enough that
     * per-piece costs (a header, an ack, 32 bytes of hash) vanish next to the data; the hash
     * list stays at most 8 MiB.
     */
    public static PieceLayout forFile(long fileSize) {
        int size = DEFAULT_PIECE_SIZE;
        while (size < MAX_PIECE_SIZE && pieceCount(fileSize, size) > TARGET_MAX_PIECES) {
            size <<= 1;
        }
        return new PieceLayout(fileSize, size);
    }

    private static long pieceCount(long fileSize, int pieceSize) {
        return fileSize / pieceSize + (fileSize % pieceSize == 0 ? 0 : 1);
    }

    public int pieceCount() {
        return (int) pieceCount(fileSize, pieceSize);
    }

    public long offset(int index) {
        checkIndex(index);
        return (long) index * pieceSize;
    }

    public int length(int index) {
        checkIndex(index);
        return (int) Math.min(pieceSize, fileSize - (long) index * pieceSize);
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= pieceCount()) {
            throw new IndexOutOfBoundsException("piece " + index + " of " + pieceCount());
        }
    }
}
