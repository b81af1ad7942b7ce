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
    final NodeProxy proxy;

    /** A node serving each of {@code roots}, in order, cutting files into {@code pieceSize} pieces. */
    InProcessCluster(List<Path> roots, int pieceSize) throws Exception {
        redis = new RedisServer();
        try {
            List<InetSocketAddress> addresses = new ArrayList<>();
            for (Path dir : roots) {
                BiternetServer node = BiternetServer.start(BiternetServer.Config.of(dir, "127.0.0.1", 0)
                        .withPieceSize(pieceSize).withCluster(redis.uri()));
                nodes.add(node);
                addresses.add(node.address());
            }
            proxy = new NodeProxy(addresses);
        } catch (Exception | Error e) {
            nodes.forEach(BiternetServer::close);
            redis.close();
            throw e;
        }
    }

    /** The URL of {@code name} through the proxy. */
    String url(String name) {
        return "biternet://127.0.0.1:" + proxy.port() + "/" + name;
    }

    @Override
    public void close() throws Exception {
        try {
            proxy.close();
            nodes.forEach(BiternetServer::close);
        } finally {
            redis.close();
        }
    }
}
