package dev.biternet.client.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The file's first bytes, asked for by the probe for its size: its round trip brings the start
 * of piece 0 rather than one byte (every piece is a multiple of {@link #LENGTH}, so they are piece
 * 0 or its head). The size is known from the answer's header ({@link #heard}); the bytes wait here
 * until the channel that takes piece 0 is made ({@link MirrorChannel#withHead}), and from then on
 * go straight to that channel's piece. Its lock is the monitor: the probe's connection writes on its
 * event loop, the channel takes them over from the download's thread.
 */
public final class FirstBytes {
    /** What the probe asks for: the least piece an HTTP download uses. */
    public static final int LENGTH = 256 << 10;

    private final MirrorUrl url;
    private final long askedNanos;
    private final ByteBuffer buffer;
    private final CompletableFuture<RangeRequest.Answer> heard = new CompletableFuture<>();
    private CompletableFuture<RangeRequest.Answer> done;
    private int arrived;
    /** Where the bytes go once a channel took them over; null before. */
    private RangeRequest.Body body;

    private FirstBytes(MirrorUrl url, int length) {
        this.url = url;
        this.askedNanos = System.nanoTime();
        this.buffer = ByteBuffer.allocate(length);
    }

    /**
     * Asks {@code connection}'s mirror ({@code url}) for the file's first {@link #LENGTH} bytes,
     * which count in its link's cap (what does not come is given back); null, nothing asked, if
     * the cap has no room for them.
     */
    public static FirstBytes ask(MirrorConnection connection, MirrorUrl url) {
        LinkAllowance cap = connection.allowance();
        if (!cap.reserve(LENGTH)) {
            return null;
        }
        FirstBytes f = new FirstBytes(url, LENGTH);
        CompletableFuture<RangeRequest.Answer> done = connection.fetchHead(LENGTH, f::accept, f.heard);
        // A file shorter than LENGTH, or a probe that failed, leaves part of the reservation unused.
        f.heard.whenComplete((a, e) -> cap.giveBack(LENGTH - (e == null ? Math.min(LENGTH, a.size())
                : f.arrivedSoFar())));
        synchronized (f) {
            f.done = done;
        }
        done.whenComplete((a, e) -> {
            if (e != null) {
                f.heard.completeExceptionally(e instanceof CompletionException c && c.getCause() != null ? c.getCause() : e);
            }
        });
        // A round trip of the connection, as a channel's first request on an idle one gives: from
        // the request's send (the connection is open, or as it opens) to its header. The piece-0
        // channel that takes these bytes over does not sample; without this the link had only its
        // connect, made while the JVM warms up (on a busy machine it read as a long round trip).
        java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        connection.opening().thenRun(() -> sent.set(System.nanoTime()));
        f.heard.thenRun(() -> {
            if (sent.get() != 0) {
                connection.roundTrip(System.nanoTime() - sent.get());
            }
        });
        return f;
    }

    /** The mirror they were asked of (as given, before any redirect). */
    public MirrorUrl url() {
        return url;
    }

    /** When they were asked for (nanoTime). */
    public long askedNanos() {
        return askedNanos;
    }

    /** The answer's header: the file's size and validators; fails as the probe does. */
    public CompletableFuture<RangeRequest.Answer> heard() {
        return heard;
    }

    /** How many bytes come: what was asked for, or the whole file if it is shorter. After {@link #heard}. */
    public int length() {
        return (int) Math.min(buffer.capacity(), heard.join().size());
    }

    /** The probe's body: kept here, or passed on once a channel took the bytes over. Event loop. */
    private synchronized void accept(long offset, ByteBuf data) throws IOException {
        int n = data.readableBytes();
        if (body != null) {
            body.accept(offset, data);
        } else {
            data.getBytes(data.readerIndex(), buffer.duplicate().position((int) offset).limit((int) offset + n));
        }
        arrived = (int) offset + n;
    }

    /**
     * A channel takes the bytes over: those in so far go to {@code to} now, the rest as they come.
     * Returns the probe's completion (fails if its connection does before the last byte).
     */
    synchronized CompletableFuture<RangeRequest.Answer> handTo(RangeRequest.Body to) throws IOException {
        if (arrived > 0) {
            to.accept(0, Unpooled.wrappedBuffer(buffer.duplicate().position(0).limit(arrived)));
        }
        body = to;
        return done;
    }

    /** Bytes in so far (all of them once the probe failed: its connection is closed). */
    private synchronized int arrivedSoFar() {
        return arrived;
    }
}
