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
    /** {@link #connection} once every request asked on it so far has been sent, in order. */
    private CompletableFuture<RangeHandler> sent;
    private volatile boolean closed;
    /**
     * The connections {@link #drop} or {@link #abandon} closed, and why: every request that fails
     * on one of them failed for that, not through a fault of the mirror or the path (weak: each
     * is forgotten once its requests are).
     */
    private final java.util.Map<CompletableFuture<RangeHandler>, String> dropped = new java.util.WeakHashMap<>();
    private static final String MOVED = "its link's address changed";
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

    /** The connection as it opens ({@link #connectNow}'s, or a new one): done once requests can go on it. */
    public synchronized CompletableFuture<?> opening() {
        return connection != null ? connection : connection();
    }

    /** Bytes [first, first + length) of the file, to {@code body}; see {@link RangeRequest}. */
    public CompletableFuture<RangeRequest.Answer> fetch(long first, long length, long expectedSize, Validators expected,
                                                        RangeRequest.Body body) {
        return send(u -> RangeRequest.range(u, first, length, expectedSize, expected, body), 0);
    }

    /**
     * The file's first {@code length} bytes (all of it if shorter), of any size and validators,
     * to {@code body}; {@code heard} gets the answer's header at once (also after redirects).
     */
    public CompletableFuture<RangeRequest.Answer> fetchHead(long length, RangeRequest.Body body,
                                                            CompletableFuture<RangeRequest.Answer> heard) {
        return send(u -> RangeRequest.head(u, length, body, heard), 0);
    }

    /** The whole file without Range (a mirror that ignores Range, used alone), to {@code body}. */
    public CompletableFuture<RangeRequest.Answer> fetchWhole(long size, Validators expected, RangeRequest.Body body) {
        return send(u -> RangeRequest.whole(u, size, expected, body), 0);
    }

    private CompletableFuture<RangeRequest.Answer> send(java.util.function.Function<MirrorUrl, RangeRequest> make,
                                                       int redirects) {
        MirrorUrl at = url;
        RangeRequest r = make.apply(at);
        CompletableFuture<RangeHandler> used;
        CompletableFuture<RangeHandler> queued;
        synchronized (this) {
            used = connection();
            // Sent after every request asked before it on this connection: the dependents of one
            // future run in no set order (last first, in fact), and answers come in the order sent.
            queued = (used == connection ? sent : used).thenApply(h -> { // not so only when closed
                h.send(r);
                return h;
            });
            if (used == connection) {
                sent = queued;
            }
        }
        return queued.thenCompose(h -> r.done()).exceptionallyCompose(e -> {
            Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
            // Every failure closes the connection it happened on (the handler sees to that).
            String closedBy;
            synchronized (this) {
                if (connection == used) {
                    connection = null;
                }
                closedBy = dropped.get(used);
            }
            if (closedBy != null && !(closedBy.equals(MOVED) && link.waiting())) {
                // Every request on it fails so, however many were in flight: none is a loss to back off from.
                return CompletableFuture.failedFuture(new HttpFailure(Kind.CLOSED, closedBy));
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
            sent = c;
        }
        return c;
    }

    /**
     * Closes the connection now open (its link's address changed or went): the requests on it
     * fail, as {@link Kind#CLOSED} (ask again now) while the link has an address and as lost while
     * it waits for one, and the next one connects again, from the link as bound then.
     */
    public void drop() {
        closeFor(MOVED);
    }

    /**
     * Closes the connection now open because the rest of what it carries is not needed (HTTP/1.1
     * cannot take a request back): its requests fail as {@link Kind#CLOSED}, and the next one
     * connects again.
     */
    public void abandon() {
        closeFor("the rest of its answer was not needed");
    }

    private void closeFor(String why) {
        CompletableFuture<RangeHandler> c;
        synchronized (this) {
            c = connection;
            connection = null;
            if (c != null) {
                dropped.put(c, why);
            }
        }
        if (c != null) {
            c.thenAccept(h -> h.channel().close());
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
        }
        drop();
    }
}
