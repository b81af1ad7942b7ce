package dev.biternet.client.http;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;

/**
 * One request's bytes of a piece, in a piece buffer, as its answer brings them in order: the
 * whole piece, or (an endgame split, {@link PieceScheduler#claimPart}) its tail {@code [from,
 * length)} fetched by a faster link while the piece's holder still brings the head. A tail that is
 * in waits on the holder's fill ({@link #joinTail}) until the holder's bytes reach its start; then
 * the head is copied into the tail's buffer and the tail's fill is the whole piece. The holder goes
 * on reading what it asked for (HTTP cannot take a request back), and that rest is a duplicate.
 * Its lock is the monitor; the holder writes on its connection's event loop, the tail joins from
 * its own.
 */
final class PieceFill {
    /** What {@link #joinTail} did with a tail that is in. */
    enum Join {
        /** The head was there: the tail's buffer is the whole piece now. */
        WHOLE,
        /** The head is still coming: the holder's fill completes the tail ({@link #arrive} returns it). */
        WAITING,
        /** The holder's request ended (whole, or failed): the tail is not needed, or has no head. */
        GONE
    }

    final int piece;
    final int length;
    /** This request's first byte in the piece: 0 for the whole piece, more for a tail. */
    final int from;
    final ByteBuffer buffer;
    /** A tail's: what its channel does once it is the whole piece (null for a whole piece's fill). */
    final Runnable whenWhole;
    /** Bytes in, from {@link #from}, in order: written under the lock, read without it. */
    private volatile int arrived;
    /** A tail that is in, waiting for this fill's head to reach its start. */
    private PieceFill tail;
    /** A tail took this fill's head (its first byte), -1 before: what this request then brought after it was not needed. */
    private volatile int headGiven = -1;
    private boolean closed;

    PieceFill(int piece, int length, int from, ByteBuffer buffer, Runnable whenWhole) {
        this.piece = piece;
        this.length = length;
        this.from = from;
        this.buffer = buffer;
        this.whenWhole = whenWhole;
    }

    /** Bytes in from {@link #from}: the request's own count (its body ended when it is the length asked). */
    int arrived() {
        return arrived;
    }

    /**
     * The answer's next bytes, at {@code at} in the piece (in order): written, and a tail waiting
     * for them returned whole (null if none is), for the caller to run its {@link #whenWhole}
     * (outside this lock).
     */
    PieceFill arrive(int at, ByteBuf data) {
        int n = data.readableBytes();
        // Written outside the lock: only this request writes its buffer, and a tail copies only
        // the part that {@code arrived} (updated under the lock, after the write) already covers.
        data.getBytes(data.readerIndex(), buffer.duplicate().position(at).limit(at + n));
        synchronized (this) {
            arrived = at + n - from;
            if (tail != null && from + arrived >= tail.from) {
                PieceFill whole = tail;
                tail = null;
                give(whole);
                return whole;
            }
            return null;
        }
    }

    /**
     * A tail of this fill's piece is in: whole at once if this fill's bytes reach its start,
     * else waiting for them; {@link Join#GONE} if this request already ended.
     */
    synchronized Join joinTail(PieceFill t) {
        if (closed || tail != null || headGiven >= 0) {
            return Join.GONE;
        }
        if (from + arrived >= t.from) {
            give(t);
            return Join.WHOLE;
        }
        tail = t;
        return Join.WAITING;
    }

    private void give(PieceFill t) {
        t.buffer.put(0, buffer, 0, t.from);
        headGiven = t.from;
    }

    /**
     * This request ended (whole or failed): a tail no longer joins it. Returns a tail that was
     * waiting for it (its buffer is the caller's to recycle), or null.
     */
    synchronized PieceFill close() {
        closed = true;
        PieceFill waiting = tail;
        tail = null;
        return waiting;
    }

    /** Where a tail took this fill's head from: the bytes of this request past it were not needed; -1 if none did. */
    int headGiven() {
        return headGiven;
    }
}
