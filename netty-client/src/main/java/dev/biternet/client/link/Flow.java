package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.client.store.PieceStore;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;

/**
 * One TCP flow of a {@link Link} over the whole download: its current connection and, when that
 * is lost, a thread of its own that connects again with {@link Backoff} and re-attaches to the
 * session ({@link SessionKeeper}: re-opened first if the server forgot it). A flow that delivers
 * bad pieces drops its link and is not reconnected, nor one its link retired.
 */
final class Flow {
    private final Link link;
    private final List<LinkHandler> past = new CopyOnWriteArrayList<>();
    private volatile LinkHandler current;
    private volatile boolean retired;
    private Thread thread;

    Flow(Link link, LinkHandler first) {
        this.link = link;
        this.current = first;
    }

    LinkHandler current() {
        return current;
    }

    /**
     * Replaces the connection with a new one that sends {@code open}, trying each of the server's
     * addresses once from the link's turn on; completes when connected, or fails with the last
     * address's failure.
     */
    CompletableFuture<Void> redial(OpenSession open) {
        return redial(open, link.addresses());
    }

    private CompletableFuture<Void> redial(OpenSession open, int tries) {
        LinkHandler h = link.handler(open);
        current = h;
        int turn = link.turn();
        return link.connector().connect(link.spec(), turn, h).handle((ok, failed) -> failed).thenCompose(failed -> {
            if (failed == null) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            link.failedAt(turn);
            boolean another = tries > 1 && !link.owner().over();
            return another ? redial(open, tries - 1) : CompletableFuture.<Void>failedFuture(failed);
        });
    }

    /**
     * Attaches the connected flow (or, with {@code connect}, first connects it) and keeps it
     * up from a thread of its own.
     */
    void start(SessionKeeper keeper, PieceStore store, boolean connect) {
        if (!connect) {
            current.attach(keeper.current(), store, link.group());
        }
        thread = new Thread(() -> {
            try {
                if (!connect || reconnect(keeper, store, Backoff.immediate())) {
                    keepUp(keeper, store);
                }
            } catch (InterruptedException e) {
                // the download is over
            }
        }, "biternet-link-" + link.spec().name());
        thread.setDaemon(true);
        thread.start();
    }

    /** Takes no new piece on this flow, and closes it once the pieces under way have come. */
    void retire() {
        retired = true;
        current.retire();
    }

    boolean retired() {
        return retired;
    }

    /** True while the flow has a live connection attached to the session. */
    boolean up() {
        return !current.closed().isDone() && current.sessionId() != null;
    }

    /** True while the flow's connection is open or it is connecting again. */
    boolean live() {
        return !retired && !current.closed().isDone();
    }

    void stop() {
        LinkHandler h = current;
        if (thread != null) {
            thread.interrupt();
        }
        h.close();
    }

    /** Waits until the flow's thread has ended (tests). */
    void awaitEnd(long millis) throws InterruptedException {
        if (thread != null) {
            thread.join(millis);
        }
    }

    LinkStats stats() {
        LinkStats s = null;
        for (LinkHandler h : connections()) {
            s = s == null ? h.stats() : s.plus(h.stats());
        }
        return s;
    }

    /** See {@link LinkSet#awaitFinalCounts}: over every connection this flow had. */
    boolean awaitFinalCounts(long deadlineNanos) throws InterruptedException {
        boolean all = true;
        for (LinkHandler h : connections()) {
            all &= h.awaitFinalCounts(deadlineNanos);
        }
        return all;
    }

    /** Every connection this flow had, the current one last; never empty. */
    private List<LinkHandler> connections() {
        // One snapshot, the current handler read first: the reconnect thread adds a closed
        // handler to past and then replaces current. Reading past twice (iterate, then
        // contains) could see it empty and then holding current, and return null (a 0-byte
        // download, whose links close as it ends, did: Summary's NPE).
        LinkHandler now = current;
        List<LinkHandler> all = new ArrayList<>(past);
        if (!all.contains(now)) {
            all.add(now);
        }
        return all;
    }

    /**
     * What the server retransmitted on all this flow's connections so far, bytes; -1 when
     * none of them said. Never falls: a reconnect or a retirement keeps what was counted.
     */
    long retransmitted() {
        LinkHandler now = current;
        long n = past.contains(now) ? -1 : now.retransmittedBytes();
        for (LinkHandler h : past) {
            long r = h.retransmittedBytes();
            n = r < 0 ? n : Math.max(0, n) + r;
        }
        return n;
    }

    /** Payload this flow carried on all its connections so far. */
    long carried() {
        LinkHandler now = current;
        long n = past.contains(now) ? 0 : now.bytes();
        for (LinkHandler h : past) {
            n += h.bytes();
        }
        return n;
    }

    private void keepUp(SessionKeeper keeper, PieceStore store) throws InterruptedException {
        LinkOwner owner = link.owner();
        Backoff backoff = new Backoff();
        while (!owner.over()) {
            LinkHandler h = current;
            String reason;
            try {
                reason = h.closed().get();
            } catch (ExecutionException e) {
                reason = rootMessage(e);
            }
            past.add(h);
            if (owner.over() || retired) {
                return;
            }
            if (h.failedLocally()) {
                owner.localFailure(reason);
                return;
            }
            if (h.dropped()) {
                link.drop();
                owner.warn("link " + link.spec().name() + " dropped: " + reason + "; the other links finish the file");
                return;
            }
            Error.Code code = h.serverError();
            if (code == Error.Code.UNKNOWN_SESSION) {
                keeper.forget(h.sessionId());
                backoff.reset();
            } else if (code != null && ServerErrors.isFinal(code)) {
                owner.refused(reason);
                return;
            }
            if (h.bytes() > 0) {
                backoff.reset();
            }
            owner.trace("link " + link.spec().name() + " lost (" + reason + "); reconnecting");
            if (!reconnect(keeper, store, backoff)) {
                return;
            }
        }
    }

    /** Connects again until attached; false if the download ended or the flow was retired meanwhile. */
    private boolean reconnect(SessionKeeper keeper, PieceStore store, Backoff backoff) throws InterruptedException {
        LinkOwner owner = link.owner();
        String name = link.spec().name();
        long seen = link.changes();
        // Addresses that failed since the last wait: the server's other addresses are tried at
        // once (a dead node is skipped without a backoff), the backoff comes after all failed.
        int failedInRound = 0;
        while (!owner.over() && !retired) {
            if (failedInRound == 0) {
                // A change of the link's interface (an address back, a new one) ends the wait at once.
                link.awaitChange(seen, backoff.next());
            }
            int tried = failedInRound;
            failedInRound = 0;
            seen = link.changes();
            if (link.waiting()) {
                backoff.reset(); // parked: it waits for its interface, not for the server
                link.awaitChange(seen, Backoff.MAX_MILLIS);
                continue;
            }
            SessionOpened session = keeper.current();
            OpenSession open = null;
            if (session == null) {
                if (!keeper.claimReopen()) {
                    backoff.reset();
                    continue;
                }
                open = keeper.reopenRequest();
            }
            LinkHandler h = link.handler(open);
            int turn = link.turn();
            Throwable failed = Connector.await(link.connector().connect(link.spec(), turn, h));
            if (failed != null) {
                if (open != null) {
                    keeper.reopenFailed();
                }
                owner.trace("link " + name + ": cannot reconnect: " + rootMessage(failed));
                link.failedAt(turn);
                failedInRound = tried + 1 < link.addresses() ? tried + 1 : 0;
                continue;
            }
            if (open != null) {
                session = keeper.reopen(h, owner);
                if (session == null) {
                    past.add(h);
                    continue;
                }
                owner.trace("session re-opened on " + name + " (the server had forgotten it)");
            }
            current = h;
            if (owner.over() || retired) {
                h.close();
                return false;
            }
            h.attach(session, store, link.group());
            owner.trace("link " + name + (past.isEmpty() ? ": flow attached" : " reconnected"));
            return true;
        }
        return false;
    }
}
