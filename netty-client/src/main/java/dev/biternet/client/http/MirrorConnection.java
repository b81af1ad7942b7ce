package dev.biternet.client.http;

import dev.biternet.client.http.HttpFailure.Kind;
import dev.biternet.client.link.LinkSpec;
import java.util.concurrent.CompletableFuture;

/**
 * One keep-alive connection to one mirror out of one link (a channel of the download): it
 * connects when told or first asked, and again after the mirror closed it, sends each request on it
 * (several may be in flight: pipelined), and follows redirects, at most {@link #MAX_REDIRECTS}
 * for one request, never from https to http. A redirect's target stays this connection's URL
 * for its later requests. Not thread-safe: one caller at a time (the channel's driver).
 */
public final class MirrorConnection implements AutoCloseable {
    public static final int MAX_REDIRECTS = 5;

    private final HttpDialer dialer;
    private final HttpLink link;
    private volatile MirrorUrl url;
    private CompletableFuture<RangeHandler> connection;
    private volatile boolean closed;
    /** {@link #drop} closed a connection and no failed request has told its channel yet. */
    private boolean dropped;
    /**
     * The least round trip seen so far, nanoseconds (0: none yet): a TCP connect (SYN to
     * SYN-ACK), or a request sent on an idle connection to its answer's first byte.
     */
    private volatile long rttNanos;

    /** A connection out of a link without cap or rate. */
    public MirrorConnection(HttpDialer dialer, LinkSpec link, MirrorUrl url) {
        this(dialer, HttpLink.unlimited(link), url);
    }

    /** @param link its binding now, and its cap and rate shared by all its connections */
    public MirrorConnection(HttpDialer dialer, HttpLink link, MirrorUrl url) {
        this.dialer = dialer;
        this.link = link;
        this.url = url;
    }

    /** The link as bound now. */
    public LinkSpec link() {
        return link.spec();
    }

    public LinkAllowance allowance() {
        return link.allowance();
    }

    /**
     * The least round trip seen on this connection, in seconds; 0 before the first. Each sample
     * is a round trip plus whatever delayed it (a busy JVM, a lost SYN), so the least is kept.
     */
    public double minRttSeconds() {
        return rttNanos / 1e9;
    }

    /** One sample of the round trip: a request sent on an idle connection, to its first byte. */
    public synchronized void roundTrip(long nanos) {
        if (nanos > 0) {
            rttNanos = rttNanos == 0 ? nanos : Math.min(rttNanos, nanos);
        }
    }

    /** Where this connection's requests go now (after redirects). */
    public MirrorUrl url() {
        return url;
    }

    /**
     * Connects now, before the first request (a failure shows on that request, which connects
     * again): the handshakes of every channel then overlap the probe of the mirrors.
     */
    public void connectNow() {
        connection();
    }

    /** Bytes [first, first + length) of the file, to {@code body}; see {@link RangeRequest}. */
    public CompletableFuture<RangeRequest.Answer> fetch(long first, long length, long expectedSize, Validators expected,
                                                        RangeRequest.Body body) {
        return send(u -> RangeRequest.range(u, first, length, expectedSize, expected, body), 0);
    }

    /** The whole file without Range (a mirror that ignores Range, used alone), to {@code body}. */
    public CompletableFuture<RangeRequest.Answer> fetchWhole(long size, Validators expected, RangeRequest.Body body) {
        return send(u -> RangeRequest.whole(u, size, expected, body), 0);
    }

    private CompletableFuture<RangeRequest.Answer> send(java.util.function.Function<MirrorUrl, RangeRequest> make,
                                                       int redirects) {
        MirrorUrl at = url;
        CompletableFuture<RangeHandler> used = connection();
        return used.thenCompose(h -> {
            RangeRequest r = make.apply(at);
            h.send(r);
            return r.done();
        }).exceptionallyCompose(e -> {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            // Every failure closes the connection it happened on (the handler sees to that).
            synchronized (this) {
                if (connection == used) {
                    connection = null;
                }
            }
            if (cause instanceof HttpFailure f && f.kind() == Kind.REDIRECT) {
                if (redirects >= MAX_REDIRECTS) {
                    return CompletableFuture.failedFuture(new HttpFailure(Kind.REFUSED, "more than " + MAX_REDIRECTS
                            + " redirects from " + at));
                }
                try {
                    MirrorUrl next = at.resolve(f.location());
                    synchronized (this) {
                        if (url.equals(at)) {
                            url = next;
                        }
                    }
                } catch (IllegalArgumentException bad) {
                    return CompletableFuture.failedFuture(new HttpFailure(Kind.REFUSED, bad.getMessage()));
                }
                // A new connection may be to a new host (a name lookup): off the event loop.
                return CompletableFuture.supplyAsync(() -> send(make, redirects + 1)).thenCompose(x -> x);
            }
            return CompletableFuture.failedFuture(cause);
        });
    }

    /** The connection, connecting first if there is none or the last one closed. */
    private synchronized CompletableFuture<RangeHandler> connection() {
        if (closed) {
            return CompletableFuture.failedFuture(new HttpFailure(Kind.LOST, "closed"));
        }
        CompletableFuture<RangeHandler> c = connection;
        if (c == null || c.isCompletedExceptionally() || c.isDone() && !c.join().usable()) {
            long asked = System.nanoTime();
            c = dialer.connect(link.spec(), link.allowance(), url);
            c.thenRun(() -> roundTrip(System.nanoTime() - asked));
            connection = c;
        }
        return c;
    }

    /**
     * Closes the connection now open (its link's address changed or went): the requests on it
     * fail as lost, and the next one connects again, from the link as bound then.
     */
    public void drop() {
        CompletableFuture<RangeHandler> c;
        synchronized (this) {
            c = connection;
            connection = null;
            dropped = c != null;
        }
        if (c != null) {
            c.thenAccept(h -> h.channel().close());
        }
    }

    /** True once after {@link #drop} closed a connection: a request that failed then lost it to the drop. */
    public synchronized boolean takeDropped() {
        boolean was = dropped;
        dropped = false;
        return was;
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        drop();
    }
}
