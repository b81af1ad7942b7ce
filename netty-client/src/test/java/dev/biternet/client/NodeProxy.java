package dev.biternet.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One address in front of several biternet-serve nodes, as a name with several addresses would
 * be: a connection from 127.0.0.k goes to node k-1 (modulo the count), so a download whose links
 * bind 127.0.0.1, .2 and .3 puts one link on each node; a node that refuses the connection (dead)
 * is skipped for the next. Counts the bytes each node sent and the connections from each client
 * address to each node.
 */
final class NodeProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final List<InetSocketAddress> nodes;
    private final AtomicLongArray sent;
    /** Connections from 127.0.0.k to node i, at k * nodes + i. */
    private final AtomicLongArray connections;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    NodeProxy(List<InetSocketAddress> nodes) throws IOException {
        this.nodes = nodes;
        this.sent = new AtomicLongArray(nodes.size());
        this.connections = new AtomicLongArray(256 * nodes.size());
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(this::accept, "node-proxy");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Connections made so far from 127.0.0.{@code k} to node {@code i}. */
    long connections(int k, int i) {
        return connections.get(k * nodes.size() + i);
    }

    /** Bytes all nodes sent so far. */
    long sentTotal() {
        long total = 0;
        for (int i = 0; i < nodes.size(); i++) {
            total += sent.get(i);
        }
        return total;
    }

    /** Bytes node {@code i} sent to clients so far. */
    long sent(int i) {
        return sent.get(i);
    }

    private void accept() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            byte[] from = client.getInetAddress().getAddress();
            int first = Math.floorMod((from[3] & 0xff) - 1, nodes.size());
            Socket server = null;
            int node = -1;
            for (int i = 0; i < nodes.size() && server == null; i++) {
                node = (first + i) % nodes.size();
                try {
                    server = new Socket(nodes.get(node).getAddress(), nodes.get(node).getPort());
                } catch (IOException dead) {
                    server = null;
                }
            }
            if (server == null) {
                CorruptingProxy.closeQuietly(client);
                continue;
            }
            sockets.add(client);
            sockets.add(server);
            connections.incrementAndGet((from[3] & 0xff) * nodes.size() + node);
            pipe(client, server, -1);
            pipe(server, client, node);
        }
    }

    private void pipe(Socket from, Socket to, int countFor) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[64 << 10];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    out.write(buf, 0, n);
                    if (countFor >= 0) {
                        sent.addAndGet(countFor, n);
                    }
                }
            } catch (IOException ignored) {
                // either side closed
            } finally {
                CorruptingProxy.closeQuietly(from);
                CorruptingProxy.closeQuietly(to);
            }
        }, "node-proxy-pipe");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        sockets.forEach(CorruptingProxy::closeQuietly);
    }
}
