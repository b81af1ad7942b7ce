package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.SessionOpened;
import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The session every flow attaches to. When the server forgets it (restarted: UNKNOWN_SESSION),
 * one flow re-opens the file, telling the server every piece already verified, and the others
 * attach to the new session; a session re-opened on a file that changed ends the download.
 */
public final class SessionKeeper {
    /** How long a connection may take to answer OpenSession. */
    public static final long HANDSHAKE_SECONDS = 30;

    private final String path;
    private final SessionOpened first;
    private final PieceStore store;
    private SessionOpened current;
    private boolean reopening;
    private final PieceReceiver.RootSink several;

    /** @param path the file's path on the server, as the session was opened for it */
    public SessionKeeper(String path, SessionOpened first, PieceStore store) {
        this(path, first, store, null);
    }

    /**
     * @param several null for a download from one server; else the session is one of several
     *                servers' (protocol 2, a re-opened one too), and its root goes there
     */
    public SessionKeeper(String path, SessionOpened first, PieceStore store, PieceReceiver.RootSink several) {
        this.several = several;
        this.path = path;
        this.first = first;
        this.current = first;
        this.store = store;
    }

    /** The session to attach to, or null while it is being re-opened. */
    synchronized SessionOpened current() {
        return current;
    }

    /** The server no longer knows session {@code id}: the next flow to connect re-opens it. */
    synchronized void forget(ByteString id) {
        if (current != null && current.getSessionId().equals(id)) {
            current = null;
        }
    }

    /** True if the caller is to re-open the session (no one else is doing it). */
    synchronized boolean claimReopen() {
        if (current == null && !reopening) {
            reopening = true;
            return true;
        }
        return false;
    }

    synchronized void reopenFailed() {
        reopening = false;
    }

    private synchronized void reopened(SessionOpened s) {
        current = s;
        reopening = false;
    }

    /** OpenSession for the same file and version, naming every piece verified so far. */
    OpenSession reopenRequest() {
        OpenSession r = request(path, store.haveBitmap(), first.getFileVersion(), first.getFileSize(), first.getPieceSize());
        return several != null ? r.toBuilder().setClientClaims(true).build() : r;
    }

    /** OpenSession for {@code path}, naming the pieces held (bit i = piece i, LSB first) and the version they are of. */
    public static OpenSession request(String path, byte[] have, long fileVersion, long fileSize, int pieceSize) {
        return OpenSession.newBuilder().setPath(path).setHave(ByteString.copyFrom(have))
                .setExpectedFileVersion(fileVersion).setExpectedFileSize(fileSize).setHavePieceSize(pieceSize).build();
    }

    /** The digests (and the root, once known) a SessionOpened or PieceHashes carries, into the store. */
    public static void takeHashes(PieceStore store, PieceHashes hashes) throws IOException {
        // Copies that waited for these digests are judged now: counted and acknowledged by the
        // connections that hold them, as with digests a connection received itself.
        PieceReceiver.resolved(store.addHashes(hashes.getFirstIndex(), hashes.getDigests().toByteArray()));
        if (!hashes.getRootHash().isEmpty()) {
            store.setRoot(hashes.getRootHash().toByteArray(), hashes.getFileSha256().toByteArray());
        }
    }

    /**
     * The server's answer to the OpenSession {@code h} was made with ({@link #reopenRequest}), on
     * the flow that claimed the re-open: the new session, or null if it failed (asked again
     * later, unless the answer is final: then {@code owner} hears of it).
     */
    SessionOpened reopen(LinkHandler h, LinkOwner owner) throws InterruptedException {
        SessionOpened s;
        try {
            s = h.opened().get(HANDSHAKE_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            reopenFailed();
            h.close();
            if (h.serverError() != null && ServerErrors.isFinal(h.serverError())) {
                owner.refused("server refused " + path + " on reconnecting: " + rootMessage(e));
            }
            return null;
        }
        if (!sameFile(s)) {
            h.close();
            owner.refused("the file changed on the server while the download was interrupted ("
                    + s.getFileSize() + " bytes now)");
            return null;
        }
        try {
            if (several != null) {
                if (!s.getHashes().getRootHash().isEmpty()) {
                    several.root(s.getHashes().getRootHash().toByteArray(), s.getHashes().getFileSha256().toByteArray());
                }
            } else {
                takeHashes(store, s.getHashes());
            }
        } catch (IOException e) {
            h.close();
            owner.integrity(e.getMessage());
            return null;
        }
        reopened(s);
        return s;
    }

    private boolean sameFile(SessionOpened s) {
        return s.getFileSize() == first.getFileSize() && s.getPieceSize() == first.getPieceSize()
                && s.getPieceCount() == first.getPieceCount() && s.getFileVersion() == first.getFileVersion();
    }
}
