package dev.biternet.client;

import static dev.biternet.common.cli.Causes.rootMessage;

import com.google.protobuf.ByteString;
import dev.biternet.client.link.Backoff;
import dev.biternet.client.link.Connector;
import dev.biternet.client.link.Link;
import dev.biternet.client.link.LinkHandler;
import dev.biternet.client.link.LinkSet;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.ServerError;
import dev.biternet.client.link.ServerErrors;
import dev.biternet.client.link.SessionKeeper;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Opening one download's session. Every link's first flow connects at once and sends OpenSession
 * as soon as it is connected, all with one join key: the server opens the session for the
 * first and attaches each to it at once, so no link waits for another's round trips. The first
 * link to connect (most likely the one with the shortest round trip) is the one whose answer
 * counts; a refusal that is not final ({@link ServerErrors}) is asked again on a new connection
 * until {@code --retry-time} is over. A link that cannot connect fails the download, named as
 * the user gave it.
 */
final class SessionOpening {
    private static final long HANDSHAKE_SECONDS = SessionKeeper.HANDSHAKE_SECONDS;

    private final Target target;
    /** {@code --retry-time}: how long a refusal that is not final is asked again. */
    private final int retrySeconds;
    private final Consumer<String> trace;
    private final List<LinkSpec> specs;
    private final OpenSession open;
    private final List<CompletableFuture<Void>> connects = new ArrayList<>();
    private final List<CompletableFuture<Void>> ready = new ArrayList<>();
    private final CompletableFuture<LinkHandler> opener = new CompletableFuture<>();

    private SessionOpening(Target target, int retrySeconds, Consumer<String> trace, List<LinkSpec> specs,
                           OpenSession open) {
        this.target = target;
        this.retrySeconds = retrySeconds;
        this.trace = trace;
        this.specs = specs;
        this.open = open;
    }

    /**
     * Adds a link to {@code links} for each spec and connects its first flow (a link waiting for
     * its interface is parked); each opens the session with {@code openRequest} and a join key of
     * this download's as soon as it is connected.
     */
    static SessionOpening connect(Target target, int retrySeconds, Consumer<String> trace, LinkSet links,
                                  List<LinkSpec> specs, OpenSession openRequest) {
        SessionOpening o = new SessionOpening(target, retrySeconds, trace, specs,
                openRequest.toBuilder().setJoinKey(joinKey()).build());
        for (LinkSpec spec : specs) {
            Link link = links.add(spec);
            if (link.waiting()) {
                link.park();
                o.connects.add(CompletableFuture.completedFuture(null));
                o.ready.add(CompletableFuture.completedFuture(null));
                continue;
            }
            CompletableFuture<Void> connect = link.connect();
            // A link starts (attach) only after its OpenSession is queued: started first, it
            // would attach, and its OpenSession would then come too late.
            o.ready.add(connect.thenRun(() -> {
                trace.accept("link " + link.spec().name() + " connected");
                // The connection that connected: a dead address before it had one of its own.
                o.opener.complete(link.handler());
                link.openAndAttach(o.open);
            }));
            o.connects.add(connect);
        }
        links.publish();
        return o;
    }

    /** The session, from the first link that connected; fails if none did. */
    SessionOpened session(LinkSet links) throws DownloadException, InterruptedException {
        CompletableFuture.anyOf(opener, CompletableFuture.allOf(connects.toArray(CompletableFuture[]::new))).exceptionally(e -> null).join();
        if (!opener.isDone()) {
            awaitConnects(); // none connected: it throws, naming the first link
        }
        LinkHandler first = opener.join();
        return answer(links.all().stream().filter(l -> l.handler() == first).findFirst().orElseThrow());
    }

    /** The connection whose answer opened the session: its Welcome speaks for the server. */
    LinkHandler opener() {
        return opener.join();
    }

    /** For each link, in order, what completes once it is connected and its OpenSession queued. */
    List<CompletableFuture<Void>> ready() {
        return ready;
    }

    /** Waits for every link's connect; the first that failed (in the order given) fails the download. */
    void awaitConnects() throws DownloadException, InterruptedException {
        for (int i = 0; i < connects.size(); i++) {
            Throwable failed = Connector.await(connects.get(i));
            if (failed != null) {
                throw new DownloadException(ExitCodes.NETWORK, describe(specs.get(i)) + ": cannot connect to "
                        + target.host() + ":" + target.port() + ": " + rootMessage(failed));
            }
        }
    }

    /**
     * The first link's answer to OpenSession. A server error that is not final
     * ({@link ServerErrors}: a busy server, one shutting down) is asked again on a new
     * connection, with the links' backoff, until {@code --retry-time} is over.
     */
    private SessionOpened answer(Link first) throws DownloadException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(retrySeconds);
        Backoff backoff = new Backoff();
        for (int attempt = 1; ; attempt++) {
            String again;
            try {
                return first.handler().opened().get(HANDSHAKE_SECONDS, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof ServerError se)) {
                    throw new DownloadException(ExitCodes.NETWORK, "opening the session failed: " + rootMessage(e.getCause()));
                }
                if (se.code() == Error.Code.UNSUPPORTED_VERSION && open.getClientClaims()) {
                    // An older server: it cannot be told which pieces to leave to the others.
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("this server speaks (\\d+)").matcher(se.getMessage());
                    throw new DownloadException(ExitCodes.SERVER_REFUSED, "server " + target.host() + ":" + target.port()
                            + " speaks protocol " + (m.find() ? m.group(1) : "older than 2") + "; several sources need "
                            + Frames.PROTOCOL_VERSION);
                }
                if (ServerErrors.isFinal(se.code())) {
                    throw new DownloadException(ExitCodes.SERVER_REFUSED, "server refused " + target.path()
                            + ": " + se.getMessage());
                }
                again = "server: " + se.getMessage() + " (" + se.code() + ")";
            } catch (TimeoutException e) {
                throw new DownloadException(ExitCodes.NETWORK, "the server did not answer within " + HANDSHAKE_SECONDS + " s");
            }
            while (true) {
                first.handler().close();
                long wait = backoff.next();
                if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(wait) > deadline) {
                    throw new DownloadException(ExitCodes.NETWORK, "the server did not open " + target.path()
                            + " within --retry-time " + retrySeconds + " s (" + attempt + " attempt"
                            + (attempt == 1 ? "" : "s") + "); last answer: " + again + "; rerun later");
                }
                trace.accept(again + "; asking again in " + wait + " ms");
                Thread.sleep(wait);
                Throwable failed = Connector.await(first.redial(open));
                if (failed == null) {
                    break;
                }
                again = "cannot connect: " + rootMessage(failed);
                attempt++;
            }
        }
    }

    /** A download's join key: 16 random bytes, as unguessable as the session's attach secret. */
    private static ByteString joinKey() {
        byte[] key = new byte[16];
        new SecureRandom().nextBytes(key);
        return ByteString.copyFrom(key);
    }

    private static String describe(LinkSpec spec) {
        return spec.localAddress() == null ? "link " + spec.name()
                : "--iface " + spec.name() + " (" + spec.addressText() + ")";
    }
}
