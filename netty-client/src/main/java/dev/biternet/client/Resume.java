package dev.biternet.client;

import dev.biternet.client.link.SessionKeeper;
import dev.biternet.client.store.PieceStore;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * What a previous run left of one download, and the store it leads to. {@link #load} reads
 * {@code OUT.part.state} (under the output's lock) and re-hashes the pieces it names from
 * {@code OUT.part} (a torn or corrupted piece is fetched again); the survivors go to the server
 * in OpenSession.have, with the file version they belong to. {@link #openStore} then checks the
 * session's layout and opens the store: with those pieces if the file is still that version,
 * else from nothing. A state it does not use is named in one warning line.
 */
final class Resume {
    private final Path out;
    /** The file's path on the server. */
    private final String path;
    private final boolean verifyDisk;
    private final PrintWriter err;
    /** What to send in OpenSession. */
    private final OpenSession open;
    /** The previous run's state, or null: nothing to resume. */
    private final ResumeLog.Contents log;
    /** The pieces re-hashed intact, by index. */
    private final Map<Integer, byte[]> pieces;

    private Resume(Resume from, OpenSession open, ResumeLog.Contents log, Map<Integer, byte[]> pieces) {
        this(from.out, from.path, from.verifyDisk, from.err, open, log, pieces);
    }

    private Resume(Path out, String path, boolean verifyDisk, PrintWriter err, OpenSession open, ResumeLog.Contents log,
                   Map<Integer, byte[]> pieces) {
        this.out = out;
        this.path = path;
        this.verifyDisk = verifyDisk;
        this.err = err;
        this.open = open;
        this.log = log;
        this.pieces = pieces;
    }

    /**
     * {@code s} as a server among several answered it, keyed for the state like the previous
     * run's if the layout is the same: each server's copy of the file has a version of its own
     * (mtime and inode), so for several servers the state is the same file by its layout, and by
     * its pieces' digests adding up to the root hash every server must share (checked before the
     * rename: a state from other bytes fails there and is deleted).
     */
    SessionOpened asLogged(SessionOpened s) {
        if (log == null || log.identity().fileSize() != s.getFileSize() || log.identity().pieceSize() != s.getPieceSize()) {
            return s;
        }
        return s.toBuilder().setFileVersion(log.identity().fileVersion()).build();
    }

    /** The OpenSession this download sends: a resuming one carries its pieces and their file version. */
    OpenSession request() {
        return open;
    }

    /**
     * Reads the previous run's state, if it belongs to this path, and re-hashes its pieces.
     *
     * @param out the output file ({@code -o})
     * @param path the file's path on the server
     * @param verifyDisk {@code --verify-disk}: the store reads the finished file back
     */
    static Resume load(Path out, String path, boolean verifyDisk, PrintWriter err, Consumer<String> trace)
            throws DownloadException {
        Path state = ResumeLog.pathFor(out);
        Optional<ResumeLog.Contents> log;
        boolean stateThere;
        try {
            log = ResumeLog.read(out);
            stateThere = log.isPresent() || Files.exists(state, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw DownloadException.localIo("cannot read the resume state", state, e);
        }
        Resume fresh = new Resume(out, path, verifyDisk, err, OpenSession.newBuilder().setPath(path).build(), null, Map.of());
        if (log.isEmpty()) {
            return stateThere ? fresh.discard(state + " is damaged (not a state this client wrote, or cut short)") : fresh;
        }
        ResumeLog.Identity id = log.get().identity();
        if (!id.path().equals(path)) {
            return fresh.discard(state + " belongs to a download of " + id.path() + ", not " + path);
        }
        PieceLayout layout;
        try {
            layout = new PieceLayout(id.fileSize(), id.pieceSize());
        } catch (IllegalArgumentException e) {
            layout = null;
        }
        if (layout == null || layout.pieceCount() > PieceStore.MAX_PIECES) {
            return fresh.discard(state + " names an impossible file layout (" + id.fileSize() + " bytes in pieces of "
                    + id.pieceSize() + ")");
        }
        Map<Integer, byte[]> pieces;
        try {
            pieces = PieceStore.recheck(out, layout, log.get().pieces());
        } catch (IOException e) {
            throw DownloadException.localIo("cannot read " + out + ".part to resume", PieceStore.partFor(out), e);
        }
        trace.accept("resume state: " + log.get().pieces().size() + " piece(s) logged, " + pieces.size()
                + " re-hashed intact");
        if (pieces.isEmpty() && !log.get().pieces().isEmpty()) {
            return fresh.discard("none of the " + log.get().pieces().size() + " pieces " + state + " names is intact in "
                    + out + ".part" + (Files.exists(PieceStore.partFor(out), LinkOption.NOFOLLOW_LINKS)
                    ? " (changed or truncated since)" : " (it is missing)"));
        }
        BitSet have = new BitSet(layout.pieceCount());
        pieces.keySet().forEach(have::set);
        byte[] bitmap = Arrays.copyOf(have.toByteArray(), (layout.pieceCount() + 7) / 8);
        return new Resume(fresh, SessionKeeper.request(path, bitmap, id.fileVersion(), id.fileSize(), id.pieceSize()),
                log.get(), pieces);
    }

    /** Says in one line why a previous run's state is not used; the download starts from nothing. */
    private Resume discard(String why) {
        err.println("biternet-get: warning: " + why + "; the download starts over");
        err.flush();
        return this;
    }

    /**
     * The store for this session, once its layout is one this client takes: the previous run's
     * pieces if the file is the same version, else a fresh start.
     */
    PieceStore openStore(SessionOpened session) throws DownloadException {
        PieceLayout layout = layoutOf(session);
        ResumeLog.Identity now = new ResumeLog.Identity(path, session.getFileSize(), session.getPieceSize(),
                session.getFileVersion());
        try {
            boolean sameFile = log != null && log.identity().equals(now);
            boolean resuming = sameFile && !pieces.isEmpty();
            if (resuming) {
                err.println("biternet-get: resuming " + out + ".part: " + pieces.size() + " of "
                        + layout.pieceCount() + " pieces already verified");
                err.flush();
            } else if (log != null && !sameFile) {
                discard(out + ".part is from another version of " + path
                        + " (the file changed on the server)");
            }
            ResumeLog state = resuming ? ResumeLog.reopen(out, log) : ResumeLog.create(out, now);
            try {
                return new PieceStore(out, layout, state, resuming ? pieces : Map.of(), verifyDisk);
            } catch (IOException | RuntimeException e) {
                // A new state without its part file would only be discarded by the next run.
                if (resuming) {
                    state.close();
                } else {
                    state.delete();
                }
                throw e;
            }
        } catch (IOException e) {
            throw DownloadException.localIo("cannot create " + out + ".part and its state", null, e);
        }
    }

    /**
     * The session's layout, if this client takes it: pieces of 16 KiB to 16 MiB (the sizes a
     * server uses), at most {@link PieceStore#MAX_PIECES} of them. Checked before anything is
     * allocated or written: a server announcing 819 GB in 16 KiB pieces would otherwise have the
     * client hold 50 million digests.
     */
    private static PieceLayout layoutOf(SessionOpened s) throws DownloadException {
        String what = "the server announced " + Long.toUnsignedString(s.getFileSize()) + " bytes in "
                + Integer.toUnsignedString(s.getPieceCount()) + " pieces of " + Integer.toUnsignedString(s.getPieceSize())
                + " bytes";
        String wrong;
        PieceLayout layout = null;
        if (s.getPieceSize() < PieceLayout.MIN_PIECE_SIZE || s.getPieceSize() > Frames.MAX_PIECE_SIZE) {
            wrong = "pieces must be " + PieceLayout.MIN_PIECE_SIZE + " to " + Frames.MAX_PIECE_SIZE + " bytes";
        } else if (s.getFileSize() < 0 || s.getFileSize() / s.getPieceSize()
                + (s.getFileSize() % s.getPieceSize() == 0 ? 0 : 1) > PieceStore.MAX_PIECES) {
            wrong = "this client takes at most " + PieceStore.MAX_PIECES + " pieces";
        } else {
            layout = new PieceLayout(s.getFileSize(), s.getPieceSize());
            wrong = layout.pieceCount() == s.getPieceCount() ? null : "the piece count does not fit the size";
        }
        if (wrong != null) {
            throw new DownloadException(ExitCodes.NETWORK, what + ": " + wrong + "; nothing was written");
        }
        return layout;
    }
}
