package dev.biternet.server.metrics;

import dev.biternet.common.cli.BuildInfo;
import dev.biternet.proto.Error;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.security.Capacity;
import dev.biternet.server.session.PieceAllocator;
import dev.biternet.server.session.SessionMeters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The server's meters in one Micrometer {@link PrometheusMeterRegistry}: what is open now, what
 * was sent, how pieces were handed out, and the errors the server answered, by code; while the
 * registry is served, the JVM's, the process's and Netty's allocator's too. Names follow Prometheus' conventions: the unit in the name, {@code _total} on counters.
 * Every method may be called from any thread; counters are lock-free.
 *
 * <pre>
 *  biternet_build_info{version,commit}         always 1: what is running
 *  biternet_sessions_open                      gauge
 *  biternet_channels_open                      gauge
 *  biternet_sessions_closed_total{result}      complete, abandoned, shutdown, failed
 *  biternet_sent_bytes_total                   piece payload, endgame copies included
 *  biternet_session_sent_bytes_{count,sum,max} payload sent per closed session
 *  biternet_pieces_claimed_total{kind}         new, reclaimed (after a release), copy (endgame duplicate)
 *  biternet_pieces_done_total                  pieces the client verified
 *  biternet_cluster_lease_expired_total        claims of dead nodes put back in the pool (--cluster)
 *  biternet_cluster_store_seconds_{count,sum,max}{result}  commands to the cluster's store, ok or error
 *  biternet_hashed_bytes_total                 file bytes read to hash pieces
 *  biternet_hash_cache_hits_total              files whose digests came from the hash cache
 *  biternet_errors_total{code}                 Error frames sent, by Error.Code
 *  biternet_refused_total{limit}               LIMIT_EXCEEDED answers, by the limit reached: connections,
 *                                              connections_per_address, sessions, sessions_per_address,
 *                                              session_memory
 *  biternet_sessions_limit                     gauge, --max-sessions
 *  biternet_connections_limit                  gauge, --max-connections
 *  biternet_session_memory_bytes               gauge, piece state the open sessions are charged
 *  biternet_session_memory_limit_bytes         gauge, --session-memory
 *  jvm_*, process_*, system_cpu_*              Micrometer's JVM and process binders
 *  netty_allocator_*                           Netty's default allocator: memory used, by heap/direct
 * </pre>
 */
public final class ServerMetrics implements SessionMeters {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter bytesSent = Counter.builder("biternet.sent").baseUnit("bytes")
            .description("Piece payload sent, endgame copies included").register(registry);
    private final Counter piecesDone = Counter.builder("biternet.pieces.done")
            .description("Pieces the client verified").register(registry);
    private final DistributionSummary sessionBytes = DistributionSummary.builder("biternet.session.sent").baseUnit("bytes")
            .description("Payload sent per closed session").register(registry);
    private final Map<PieceAllocator.ClaimKind, Counter> claims = new EnumMap<>(PieceAllocator.ClaimKind.class);
    private final Map<Error.Code, Counter> errors = new EnumMap<>(Error.Code.class);
    private final Map<String, Counter> closed = new ConcurrentHashMap<>();
    private final Map<String, Counter> refused = new ConcurrentHashMap<>();
    private final Counter leaseExpired = Counter.builder("biternet.cluster.lease.expired")
            .description("Claims of nodes whose lease ended, put back in the pool by this node (--cluster)").register(registry);
    private final Timer storeOk = Timer.builder("biternet.cluster.store").tag("result", "ok")
            .description("Commands to the cluster's store and how long they took (--cluster)").register(registry);
    private final Timer storeFailed = Timer.builder("biternet.cluster.store").tag("result", "error")
            .description("Commands to the cluster's store and how long they took (--cluster)").register(registry);

    public ServerMetrics() {
        Gauge.builder("biternet.build.info", () -> 1).tags("version", BuildInfo.version(), "commit", BuildInfo.commit())
                .description("What is running: always 1, its labels name the version and git commit").register(registry);
        for (PieceAllocator.ClaimKind kind : PieceAllocator.ClaimKind.values()) {
            claims.put(kind, Counter.builder("biternet.pieces.claimed").tag("kind", kind.label())
                    .description("Pieces handed to a link: new, reclaimed after a release, or an endgame copy")
                    .register(registry));
        }
        for (Error.Code code : Error.Code.values()) {
            if (code != Error.Code.UNRECOGNIZED) {
                errors.put(code, Counter.builder("biternet.errors").tag("code", code.name())
                        .description("Error frames sent to clients, by code").register(registry));
            }
        }
    }

    /** Registers the gauges of what is open now; called once by the server that owns them. */
    public void bindOpen(Supplier<Number> sessions, Supplier<Number> channels) {
        Gauge.builder("biternet.sessions.open", sessions).description("Open sessions").register(registry);
        Gauge.builder("biternet.channels.open", channels).description("Open client connections").register(registry);
    }

    /** Registers what hashing read, and what the hash cache saved it from reading. */
    public void bindHasher(FileHasher hasher) {
        FunctionCounter.builder("biternet.hashed", hasher, FileHasher::hashedBytes).baseUnit("bytes")
                .description("File bytes read to hash pieces").register(registry);
        FunctionCounter.builder("biternet.hash.cache.hits", hasher, FileHasher::savedHits)
                .description("Files whose piece hashes were read from the hash cache instead of the file").register(registry);
    }

    /** Registers the server-wide session limits and what is held of them. */
    public void bindSessionLimits(Capacity sessions, Capacity memory) {
        Gauge.builder("biternet.sessions.limit", sessions::max).description("Open sessions the server allows").register(registry);
        Gauge.builder("biternet.session.memory", memory::held).baseUnit("bytes")
                .description("Piece state the open sessions are charged").register(registry);
        Gauge.builder("biternet.session.memory.limit", memory::max).baseUnit("bytes")
                .description("Piece state all sessions may hold").register(registry);
    }

    /** Registers the server-wide connection limit. */
    public void bindConnectionLimit(Capacity connections) {
        Gauge.builder("biternet.connections.limit", connections::max).description("Open connections the server allows")
                .register(registry);
    }

    /** A request refused with LIMIT_EXCEEDED because of {@code limit}. */
    public void refused(String limit) {
        refused.computeIfAbsent(limit, l -> Counter.builder("biternet.refused").tag("limit", l)
                .description("Requests refused with LIMIT_EXCEEDED, by the limit reached").register(registry)).increment();
    }

    public void bytesSent(long n) {
        bytesSent.increment(n);
    }

    @Override
    public void claimed(PieceAllocator.ClaimKind kind) {
        claims.get(kind).increment();
    }

    @Override
    public void done() {
        piecesDone.increment();
    }

    @Override
    public void leaseExpired(int holds) {
        leaseExpired.increment(holds);
    }

    /** A command to the cluster's store took {@code nanos} and succeeded or not. */
    public void stored(long nanos, boolean ok) {
        (ok ? storeOk : storeFailed).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    public void error(Error.Code code) {
        Counter c = errors.get(code);
        if (c != null) {
            c.increment();
        }
    }

    /** A session ended with {@code result} after sending {@code bytes} of payload. */
    public void sessionClosed(String result, long bytes) {
        closed.computeIfAbsent(result, r -> Counter.builder("biternet.sessions.closed").tag("result", r)
                .description("Sessions closed, by result").register(registry)).increment();
        sessionBytes.record(bytes);
    }

    /**
     * Adds the JVM's, the process's and Netty's default allocator's meters (memory, GC, threads,
     * classes, CPU, uptime, descriptors). They are process-wide, so only the one who serves the
     * registry binds them ({@link MetricsEndpoint}), and closes what is returned when it stops
     * (the GC listener).
     */
    AutoCloseable bindProcess() {
        List<MeterBinder> binders = new ArrayList<>(List.of(new JvmMemoryMetrics(), new JvmGcMetrics(),
                new JvmThreadMetrics(), new ClassLoaderMetrics(), new ProcessorMetrics(), new UptimeMetrics(),
                new FileDescriptorMetrics()));
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
            binders.add(new NettyAllocatorMetrics(allocator));
        }
        binders.forEach(b -> b.bindTo(registry));
        return () -> {
            for (MeterBinder b : binders) {
                if (b instanceof AutoCloseable c) {
                    c.close();
                }
            }
        };
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }
}
