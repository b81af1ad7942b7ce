package dev.biternet.server.cluster;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import io.lettuce.core.resource.Delay;
import dev.biternet.server.session.StoreException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's connection to the cluster's Redis: this node's id, the allocator script (run by
 * its SHA, loaded again when Redis has forgotten it), and the lease of every session this node
 * holds pieces of, renewed while the node lives. Commands are synchronous and may be called from
 * any thread: Lettuce runs on its own small event loop group, never the server's, or a loop
 * waiting for an answer would be the loop that must read it. Opening a session takes several
 * commands in a row, so it runs on this store's {@link #opening() executor}, not on the server's
 * event loops, which would wait for each answer with every other channel of theirs (docs/DESIGN.md,
 * issue 20).
 */
public final class ClusterStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger("biternet.cluster");
    /** How long a node's claims outlive its last renewal. */
    public static final Duration DEFAULT_LEASE = Duration.ofSeconds(5);
    /** A command not answered within this is a store failure. */
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(2);
    /** Session state untouched for this long (no node renews it) is dropped by Redis. */
    static final Duration SESSION_TTL = Duration.ofHours(1);
    /**
     * Sessions opened at once: each waits for a few answers in a row, and Lettuce pipelines the
     * commands of all of them on the one connection, so more threads than cores pay.
     */
    static final int OPENING_THREADS = 64;
    /** Openings waiting for a thread, beyond which an opening is refused as busy. */
    static final int OPENING_QUEUE = 4096;
    /**
     * Claims sent without waiting ({@link #place}) that may be on their way at once. The node's
     * commands share one connection, one queue: unbounded, the links' claims queued every command
     * past its timeout (docs/DESIGN.md, issue 20); beyond this a link waits its turn instead.
     */
    static final int MAX_IN_FLIGHT = 32;
    /** Lease renewals sent at once, then waited for together. */
    static final int RENEW_BATCH = 256;

    private final ClientResources resources;
    private final RedisClient client;
    private final StatefulRedisConnection<String, String> connection;
    private final RedisCommands<String, String> redis;
    private final String node;
    /** The store's host and port, for messages (never the password). */
    private final String where;
    private final Duration lease;
    private final String script;
    private final String scriptSha;
    private final Set<RedisPieceAllocator> held = ConcurrentHashMap.newKeySet();
    private volatile Meter meter = Meter.NONE;
    /** The last renewal failed (logged once per outage); renewer thread only. */
    private boolean renewFailing;

    /** Told of every command: how long it took and whether it succeeded (metrics). */
    @FunctionalInterface
    public interface Meter {
        Meter NONE = (nanos, ok) -> { };

        void stored(long nanos, boolean ok);
    }
    private final ScheduledExecutorService renewer;
    private final java.util.concurrent.ThreadPoolExecutor opening;
    final java.util.concurrent.Semaphore places = new java.util.concurrent.Semaphore(MAX_IN_FLIGHT);
    /** Who waits for a place, woken in turn. */
    private final java.util.Queue<Runnable> waitingForPlace = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /**
     * Connects to {@code uri} as biternet-serve's --cluster names it; a URI that does not parse or
     * a store that cannot be reached is an IOException whose message names it (never the password).
     */
    public static ClusterStore open(String uri) throws IOException {
        RedisURI parsed;
        try {
            parsed = RedisURI.create(uri);
        } catch (IllegalArgumentException e) {
            // Lettuce's message quotes the URI, password and all: only the masked form is shown.
            String masked = uri.replaceAll("//[^@/]*@", "//***@");
            throw new IOException("--cluster " + masked + ": not a Redis URI (" + String.valueOf(e.getMessage()).replace(uri, masked)
                    + "); use redis://[:PASSWORD@]HOST[:PORT][/DB] or rediss://");
        }
        try {
            return new ClusterStore(parsed, DEFAULT_LEASE);
        } catch (RedisException e) {
            throw new IOException("--cluster: cannot reach the store at " + parsed.getHost() + ":" + parsed.getPort() + ": "
                    + causes(e));
        }
    }

    private static String causes(Throwable e) {
        Throwable c = e;
        while (c.getCause() != null) {
            c = c.getCause();
        }
        return c == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + c.getMessage() + ")";
    }

    /** Connects to {@code uri} (redis:// or rediss://, with a password and a database as Lettuce's {@link RedisURI} reads them). */
    public static ClusterStore connect(String uri) {
        return connect(uri, DEFAULT_LEASE);
    }

    public static ClusterStore connect(String uri, Duration lease) {
        return new ClusterStore(RedisURI.create(uri), lease);
    }

    private ClusterStore(RedisURI uri, Duration lease) {
        this.lease = lease;
        this.node = nodeId();
        this.where = uri.getHost() + ":" + uri.getPort() + (uri.isSsl() ? " (TLS)" : "");
        this.script = loadScript();
        // Reconnect soon after the store is back: until then this node opens no session.
        this.resources = DefaultClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2)
                .reconnectDelay(Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(2), 2, TimeUnit.MILLISECONDS))
                .build();
        uri.setTimeout(COMMAND_TIMEOUT);
        this.client = RedisClient.create(resources, uri);
        // Commands fail at once while Redis is unreachable instead of queueing for its return:
        // a claim must not wait behind a reconnect.
        client.setOptions(ClientOptions.builder()
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(COMMAND_TIMEOUT))
                .build());
        try {
            this.connection = client.connect();
        } catch (RuntimeException e) {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
            resources.shutdown(0, 1, TimeUnit.SECONDS);
            throw e;
        }
        this.redis = connection.sync();
        this.scriptSha = redis.scriptLoad(script);
        this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "biternet-cluster-lease");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, lease.toMillis() / 3);
        renewer.scheduleWithFixedDelay(this::renew, every, every, TimeUnit.MILLISECONDS);
        java.util.concurrent.atomic.AtomicInteger threads = new java.util.concurrent.atomic.AtomicInteger();
        this.opening = new java.util.concurrent.ThreadPoolExecutor(OPENING_THREADS, OPENING_THREADS, 0, TimeUnit.SECONDS,
                new java.util.concurrent.ArrayBlockingQueue<>(OPENING_QUEUE), r -> {
                    Thread t = new Thread(r, "biternet-cluster-open-" + threads.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
    }

    /**
     * Where opening and adopting sessions runs (their store commands). It throws
     * {@link java.util.concurrent.RejectedExecutionException} when {@link #OPENING_QUEUE} openings
     * wait already: the caller answers busy.
     */
    public java.util.concurrent.Executor opening() {
        return opening;
    }

    /** This node's id in the store: random, so a restarted node never inherits a dead one's claims. */
    public String node() {
        return node;
    }

    /** The store's host and port. */
    public String where() {
        return where;
    }

    public Duration lease() {
        return lease;
    }

    public void meter(Meter meter) {
        this.meter = meter;
    }

    /**
     * Runs the allocator script's {@code op} on {@code keys} for this node's {@code link}, the
     * pieces in {@code completes} ("i,j,...", may be empty) marked done first.
     */
    List<Object> allocator(String[] keys, String op, int link, String completes, String... args) {
        String[] argv = argv(op, link, completes, args);
        return call(r -> {
            try {
                return r.evalsha(scriptSha, ScriptOutputType.MULTI, keys, argv);
            } catch (RedisNoScriptException e) {
                // Redis restarted (or flushed its scripts): EVAL loads it again.
                return r.eval(script, ScriptOutputType.MULTI, keys, argv);
            }
        });
    }

    private String[] argv(String op, int link, String completes, String... args) {
        String[] argv = new String[4 + args.length];
        argv[0] = op;
        argv[1] = node;
        argv[2] = Integer.toString(link);
        argv[3] = completes;
        System.arraycopy(args, 0, argv, 4, args.length);
        return argv;
    }

    /**
     * {@link #allocator} without waiting for the answer: sent on the one connection, so it runs in
     * Redis before any command this node sends after it. The stage fails with the
     * {@link StoreException} {@link #call} would throw.
     */
    java.util.concurrent.CompletionStage<List<Object>> allocatorLater(String[] keys, String op, int link, String completes,
                                                                      String... args) {
        String[] argv = argv(op, link, completes, args);
        long start = System.nanoTime();
        var async = connection.async();
        java.util.concurrent.CompletionStage<List<Object>> sent;
        try {
            sent = async.<List<Object>>evalsha(scriptSha, ScriptOutputType.MULTI, keys, argv).exceptionallyCompose(e ->
                    unwrap(e) instanceof RedisNoScriptException
                            ? async.<List<Object>>eval(script, ScriptOutputType.MULTI, keys, argv)
                            : java.util.concurrent.CompletableFuture.failedFuture(e));
        } catch (RedisException e) {
            sent = java.util.concurrent.CompletableFuture.failedFuture(e);
        }
        return sent.handle((r, e) -> {
            meter.stored(System.nanoTime() - start, e == null);
            if (e != null) {
                throw failure(unwrap(e));
            }
            return r;
        });
    }

    /**
     * Takes one of the {@link #MAX_IN_FLIGHT} places for a command sent without waiting; if none is
     * free, false, and {@code wake} (unless null) is run once one may be (on another thread).
     * Every place taken is given back with {@link #freePlace}.
     */
    boolean place(Runnable wake) {
        if (places.tryAcquire()) {
            return true;
        }
        if (wake != null) {
            waitingForPlace.add(wake);
            if (places.availablePermits() > 0) {
                wakeNext(); // freed meanwhile: nobody else would wake it
            }
        }
        return false;
    }

    void freePlace() {
        places.release();
        wakeNext();
    }

    private void wakeNext() {
        Runnable next = waitingForPlace.poll();
        if (next != null) {
            next.run();
        }
    }

    /** A failed stage's own exception. */
    static Throwable unwrap(Throwable e) {
        return e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    /**
     * Runs one store operation, timed for the metrics; a failure is a {@link StoreException}
     * naming the store, {@linkplain StoreException#lost() lost} if the session's state is gone.
     */
    <T> T call(java.util.function.Function<RedisCommands<String, String>, T> operation) {
        long start = System.nanoTime();
        try {
            T result = operation.apply(redis);
            meter.stored(System.nanoTime() - start, true);
            return result;
        } catch (RedisException e) {
            meter.stored(System.nanoTime() - start, false);
            throw failure(e);
        }
    }

    /** A failed command as the node reports it: the session's state gone, or the store unreachable (never the password). */
    private StoreException failure(Throwable e) {
        String message = String.valueOf(e.getMessage());
        if (message.contains("BN_GONE")) {
            return new StoreException("the session's state is gone from the cluster's store (it restarted or the"
                    + " state expired); open the download again", true, e);
        }
        return new StoreException("the cluster's store at " + where + " is unreachable (" + message
                + "); try again later", false, e);
    }

    void hold(RedisPieceAllocator allocator) {
        held.add(allocator);
    }

    void release(RedisPieceAllocator allocator) {
        held.remove(allocator);
    }

    /**
     * Renews this node's lease on every session it holds, so its claims stay its own: the
     * renewals go out together, {@link #RENEW_BATCH} at a time, each batch one round trip (one at
     * a time, a node holding 1,000 sessions took over a minute for a round, past the 5 s lease;
     * docs/DESIGN.md, issue 20).
     */
    private void renew() {
        List<RedisPieceAllocator> all = new java.util.ArrayList<>(held);
        String failing = null;
        for (int from = 0; from < all.size(); from += RENEW_BATCH) {
            List<RedisPieceAllocator> batch = all.subList(from, Math.min(all.size(), from + RENEW_BATCH));
            List<java.util.concurrent.CompletableFuture<List<Object>>> sent = new java.util.ArrayList<>();
            for (RedisPieceAllocator a : batch) {
                sent.add(a.renewLater().toCompletableFuture());
            }
            for (int i = 0; i < batch.size(); i++) {
                try {
                    sent.get(i).join();
                } catch (java.util.concurrent.CompletionException e) {
                    Throwable t = unwrap(e);
                    if (t instanceof StoreException s && s.lost()) {
                        held.remove(batch.get(i)); // its sessions are closed as they notice; nothing left to renew
                    } else {
                        failing = t.getMessage();
                    }
                }
            }
        }
        if (failing != null && !renewFailing) {
            renewFailing = true;
            LOG.warn("cluster: cannot renew this node's leases: {}", failing);
        } else if (failing == null && renewFailing && !all.isEmpty()) {
            renewFailing = false;
            LOG.info("cluster: the store at {} answers again", where);
        }
    }

    @Override
    public void close() {
        renewer.shutdownNow();
        opening.shutdownNow();
        connection.close();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }

    private static String nodeId() {
        byte[] b = new byte[6];
        new SecureRandom().nextBytes(b);
        return java.util.HexFormat.of().formatHex(b);
    }

    private static String loadScript() {
        try (InputStream in = ClusterStore.class.getResourceAsStream("allocator.lua")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("allocator.lua missing from the build", e);
        }
    }
}
