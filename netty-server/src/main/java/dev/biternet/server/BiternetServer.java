package dev.biternet.server;

import dev.biternet.common.transport.Transport;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Error;
import dev.biternet.server.cluster.ClusterStore;
import dev.biternet.server.cluster.RedisDigests;
import dev.biternet.server.cluster.RedisSessions;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.files.HashCache;
import dev.biternet.server.files.ServedRoot;
import dev.biternet.server.metrics.ServerMetrics;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.Fatal;
import dev.biternet.server.session.SessionRegistry;
import dev.biternet.server.transfer.PiecePusher;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An embeddable biternet server: {@link #start} binds and returns; {@link #close} stops
 * accepting, closes every channel and session and releases the event loops.
 */
public final class BiternetServer implements AutoCloseable {
    /**
     * What to serve and where. {@code pieceSize} 0 picks the default for each file; {@code access}
     * holds the access token and the per-address limits; {@code hashCache} keeps piece hashes
     * across restarts (null: in memory only); {@code cluster} is the Redis URI of the store the
     * nodes of a cluster share sessions through (null: this node alone).
     */
    public record Config(Path root, String host, int port, int pieceSize, int ioThreads, int hashThreads,
                         int sessionIdleSeconds, Access access, HashCache hashCache, String cluster) {
        public Config(Path root, String host, int port, int pieceSize, int ioThreads, int hashThreads,
                      int sessionIdleSeconds, Access access, HashCache hashCache) {
            this(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, access, hashCache, null);
        }

        public Config(Path root, String host, int port, int pieceSize, int ioThreads, int hashThreads,
                      int sessionIdleSeconds, Access access) {
            this(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, access, null);
        }

        public Config(Path root, String host, int port, int pieceSize, int ioThreads, int hashThreads,
                      int sessionIdleSeconds) {
            this(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, Access.DEFAULT);
        }

        public static Config of(Path root, String host, int port) {
            return new Config(root, host, port, 0, 0, 1, 60);
        }

        public Config withPieceSize(int size) {
            return new Config(root, host, port, size, ioThreads, hashThreads, sessionIdleSeconds, access, hashCache, cluster);
        }

        public Config withAccess(Access a) {
            return new Config(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, a, hashCache, cluster);
        }

        public Config withHashCache(HashCache cache) {
            return new Config(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, access, cache, cluster);
        }

        /** This node shares its sessions with the others through the Redis at {@code uri}. */
        public Config withCluster(String uri) {
            return new Config(root, host, port, pieceSize, ioThreads, hashThreads, sessionIdleSeconds, access, hashCache, uri);
        }
    }

    private static final Logger LOG = LoggerFactory.getLogger("biternet.server");
    private final Transport transport;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final FileHasher hasher;
    private final SessionRegistry sessions;
    /** The cluster's store, or null for a node alone. */
    private final ClusterStore cluster;
    private final Channel serverChannel;
    private final ServerMetrics metrics = new ServerMetrics();
    /** Every open client connection, to tell them when the server stops. */
    private final ChannelGroup channels = new DefaultChannelGroup("biternet-clients", GlobalEventExecutor.INSTANCE);
    /** Closes idle and finished sessions every second ({@link SessionRegistry#reap}). */
    private final java.util.concurrent.ScheduledExecutorService reaper = java.util.concurrent.Executors
            .newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "biternet-reaper");
                t.setDaemon(true);
                return t;
            });

    private BiternetServer(Config config, Transport transport, Consumer<Channel> extraStages)
            throws IOException, InterruptedException {
        ServedRoot root = new ServedRoot(config.root());
        this.transport = transport;
        this.cluster = config.cluster() == null ? null : ClusterStore.open(config.cluster());
        if (cluster != null) {
            cluster.meter(metrics::stored);
            LOG.info("cluster: node {}, sharing sessions through {}", cluster.node(), cluster.where());
        }
        this.hasher = new FileHasher(Math.max(1, config.hashThreads()), 64, config.hashCache(),
                cluster == null ? null : new RedisDigests(cluster, root.path()));
        this.sessions = new SessionRegistry(root, hasher, config.pieceSize(), config.sessionIdleSeconds(), TimeUnit.SECONDS,
                config.access().limits(), metrics, cluster == null ? null : new RedisSessions(cluster));
        this.boss = transport.newGroup(1);
        this.workers = transport.newGroup(config.ioThreads());
        ServerInitializer initializer = new ServerInitializer(sessions, 0, PiecePusher.BLOCK_SIZE, config.access(), metrics);
        metrics.bindOpen(sessions::size, initializer::openChannels);
        metrics.bindHasher(hasher);
        boolean ok = false;
        try {
            ServerBootstrap b = new ServerBootstrap()
                    .group(boss, workers)
                    .channel(transport.serverChannel())
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            channels.add(ch);
                            ch.pipeline().addLast(initializer);
                            if (extraStages != null) {
                                extraStages.accept(ch);
                            }
                        }
                    });
            if (transport == Transport.EPOLL) {
                // Keep little unsent data in the kernel: a link's socket then only becomes
                // writable (and its pusher only claims the next piece) when the link has nearly
                // sent what it has, so a slow link never sits on megabytes of queued pieces
                // that a faster link could have taken. Sent-but-unacked data is still the full
                // congestion window, so throughput is unaffected.
                b.childOption(EpollChannelOption.TCP_NOTSENT_LOWAT, PiecePusher.NOTSENT_LOWAT);
            }
            this.serverChannel = b.bind(config.host(), config.port()).sync().channel();
            // Not on the boss loop: in a cluster a session's counts may be asked of the store,
            // and the boss would accept no connection while it waits.
            reaper.scheduleAtFixedRate(this::reap, 1, 1, TimeUnit.SECONDS);
            ok = true;
        } catch (Exception e) {
            throw new IOException("cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
        } finally {
            if (!ok) {
                shutdown();
            }
        }
    }

    /** A periodic task that throws is cancelled without a word: this one must not stop. */
    private void reap() {
        try {
            sessions.reap();
        } catch (RuntimeException | java.lang.Error e) {
            Fatal.check(e);
            LOG.warn("closing idle sessions failed (tried again in 1 s)", e);
        }
    }

    public static BiternetServer start(Config config) throws IOException, InterruptedException {
        return new BiternetServer(config, Transport.best(), null);
    }

    /**
     * A server on a given transport whose channels get {@code extraStages} after the standard
     * pipeline is built (benchmarks compare send paths this way).
     */
    public static BiternetServer start(Config config, Transport transport, Consumer<Channel> extraStages)
            throws IOException, InterruptedException {
        return new BiternetServer(config, transport, extraStages);
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    public int port() {
        return address().getPort();
    }

    /** The server's meters (Prometheus text with {@link ServerMetrics#scrape()}). */
    public ServerMetrics metrics() {
        return metrics;
    }

    public Transport transport() {
        return transport;
    }

    /** Waits until the server channel is closed. */
    public void awaitClose() throws InterruptedException {
        serverChannel.closeFuture().sync();
    }

    /**
     * Stops gracefully: stops accepting connections and opening sessions, lets running transfers
     * (sessions with pieces left and a link attached) finish for up to {@code grace}, then tells
     * every remaining connection {@code SHUTTING_DOWN} and closes. Returns the number of
     * transfers still running when it gave up (0: all finished).
     */
    public int shutdownGracefully(Duration grace) throws InterruptedException {
        serverChannel.close().syncUninterruptibly();
        sessions.drain();
        long deadline = System.nanoTime() + grace.toNanos();
        int running = sessions.running();
        if (running > 0) {
            LOG.info("shutting down: no new connections; waiting up to {} s for {} running transfer(s)",
                    grace.toSeconds(), running);
        }
        while ((running = sessions.running()) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (running > 0) {
            LOG.warn("shutting down: grace period of {} s over with {} transfer(s) still running; closing them",
                    grace.toSeconds(), running);
        } else {
            LOG.info("shutting down: no transfer running");
        }
        // The Error must be the last frame: stop every pusher first (queued on each channel's
        // event loop ahead of the write), so an ack arriving meanwhile cannot start a block after it.
        channels.forEach(ch -> ch.pipeline().fireUserEventTriggered(PiecePusher.STOP));
        channels.writeAndFlush(Frames.error(Error.Code.SHUTTING_DOWN, "the server is shutting down"))
                .awaitUninterruptibly(2, TimeUnit.SECONDS);
        channels.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        close();
        return running;
    }

    @Override
    public void close() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
        // Close every connection before the event loops go: a loop that shuts down does not
        // reliably close each channel registered with it (epoll and io_uring here: now and then
        // a link stayed ESTABLISHED, unread, and its client waited out its 10 s silence timeout).
        channels.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        shutdown();
    }

    private void shutdown() {
        reaper.shutdownNow();
        try {
            reaper.awaitTermination(2, TimeUnit.SECONDS); // a reap under way ends before the sessions close
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        sessions.close();
        hasher.close();
        if (cluster != null) {
            cluster.close();
        }
    }
}
