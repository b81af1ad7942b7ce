package dev.biternet.client;

import dev.biternet.common.testing.RedisServer;
import dev.biternet.server.BiternetServer;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * biternet-serve nodes in this JVM sharing sessions through a real redis-server of their own,
 * behind a {@link NodeProxy} (a connection from 127.0.0.k reaches node k-1). Closing it stops
 * all of them, the redis-server last.
 */
final class InProcessCluster implements AutoCloseable {
    final RedisServer redis;
    final List<BiternetServer> nodes = new ArrayList<>();
    private final java.util.Set<BiternetServer> stopped = java.util.concurrent.ConcurrentHashMap.newKeySet();
    final NodeProxy proxy;

    /** A node serving each of {@code roots}, in order, cutting files into {@code pieceSize} pieces. */
    InProcessCluster(List<Path> roots, int pieceSize) throws Exception {
        this(roots, pieceSize, false);
    }

    /**
     * With {@code ownAddresses}, node k listens on 127.0.0.{11+k}, all on one port, as the nodes
     * behind a name with several addresses (no proxy; {@link #addresses}); else all on 127.0.0.1
     * behind the proxy.
     */
    InProcessCluster(List<Path> roots, int pieceSize, boolean ownAddresses) throws Exception {
        redis = new RedisServer();
        try {
            List<InetSocketAddress> addresses = new ArrayList<>();
            int port = 0;
            for (Path dir : roots) {
                String host = ownAddresses ? "127.0.0." + (11 + nodes.size()) : "127.0.0.1";
                BiternetServer node = BiternetServer.start(BiternetServer.Config.of(dir, host, port)
                        .withPieceSize(pieceSize).withCluster(redis.uri()));
                nodes.add(node);
                addresses.add(node.address());
                port = ownAddresses ? node.address().getPort() : 0;
            }
            proxy = ownAddresses ? null : new NodeProxy(addresses);
        } catch (Exception | Error e) {
            nodes.forEach(BiternetServer::close);
            redis.close();
            throw e;
        }
    }

    /** The nodes' addresses (with {@code ownAddresses}: what their one name resolves to). */
    java.net.InetAddress[] addresses() {
        return nodes.stream().map(n -> n.address().getAddress()).toArray(java.net.InetAddress[]::new);
    }

    /** Piece payload node {@code i} has sent so far (its biternet_sent_bytes_total). */
    long sent(int i) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^biternet_sent_bytes_total (\\S+)$")
                .matcher(nodes.get(i).metrics().scrape());
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }

    /** Stops node {@code i}: its connections closed, its address refusing from now on. */
    void stopNode(int i) {
        if (stopped.add(nodes.get(i))) {
            nodes.get(i).close();
        }
    }

    /** The URL of {@code name} through the proxy. */
    String url(String name) {
        return "biternet://127.0.0.1:" + proxy.port() + "/" + name;
    }

    @Override
    public void close() throws Exception {
        try {
            if (proxy != null) {
                proxy.close();
            }
            for (int i = 0; i < nodes.size(); i++) {
                stopNode(i);
            }
        } finally {
            redis.close();
        }
    }
}
