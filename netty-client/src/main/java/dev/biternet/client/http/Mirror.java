package dev.biternet.client.http;

/**
 * One mirror of the file as the download knows it: the URL the user gave, the file's size and
 * the validators its first answer carried (or the resume state recorded), which every later
 * answer from it must match, and whether it was dropped (and why). Shared by the mirror's
 * channels, one per link.
 */
public final class Mirror {
    /** Pieces failing a biternet server's hash that drop a mirror (as a biternet link is dropped after 3). */
    public static final int MAX_BAD_PIECES = 3;

    private final MirrorUrl url;
    private final long size;
    private final Validators validators;
    private volatile String dropped;
    private volatile boolean changed;
    private final java.util.concurrent.atomic.AtomicInteger badPieces = new java.util.concurrent.atomic.AtomicInteger();

    public Mirror(MirrorUrl url, long size, Validators validators) {
        this.url = url;
        this.size = size;
        this.validators = validators;
    }

    public MirrorUrl url() {
        return url;
    }

    public long size() {
        return size;
    }

    public Validators validators() {
        return validators;
    }

    /** Why the mirror was dropped, or null while it is used. */
    public String dropped() {
        return dropped;
    }

    /** True if the mirror was dropped because its file changed (other validators or size). */
    public boolean changed() {
        return changed;
    }

    /** One more of its pieces failed a biternet server's hash; returns how many have. */
    int badPiece() {
        return badPieces.incrementAndGet();
    }

    /** Drops the mirror for {@code why} (the first reason stays). Returns true the first time. */
    synchronized boolean drop(String why, HttpFailure.Kind kind) {
        if (dropped != null) {
            return false;
        }
        changed = kind == HttpFailure.Kind.CHANGED;
        dropped = why;
        return true;
    }

    @Override
    public String toString() {
        return url.toString();
    }
}
