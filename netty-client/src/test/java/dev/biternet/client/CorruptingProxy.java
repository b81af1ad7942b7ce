package dev.biternet.client;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.PieceHeader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on loopback between biternet-get and biternet-serve that flips one bit in the
 * middle of every piece block it forwards to clients connecting from {@code corruptFrom} (null:
 * none); other clients' bytes pass untouched. {@link #cutConnections} plays a network that
 * drops every connection at once. It follows the frame layout of {@link Frames}, so only piece
 * payload is damaged, never a frame header: the damage reaches the piece hashes, as bad memory
 * on a router would.
 */
final class CorruptingProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final InetAddress corruptFrom;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final AtomicLong corrupted = new AtomicLong();
    private int connections;

    CorruptingProxy(InetAddress listen, InetSocketAddress target, InetAddress corruptFrom) throws IOException {
        this.listener = new ServerSocket(0, 50, listen);
        this.target = target;
        this.corruptFrom = corruptFrom;
        Thread t = new Thread(this::accept, "corrupting-proxy");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Piece blocks damaged so far. */
    long corrupted() {
        return corrupted.get();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(target.getAddress(), target.getPort());
                sockets.add(client);
                sockets.add(server);
                boolean corrupt = client.getInetAddress().equals(corruptFrom);
                synchronized (this) {
                    connections++;
                }
                pump("up", () -> copy(client.getInputStream(), server.getOutputStream()), client, server);
                pump("down", () -> frames(server.getInputStream(), client.getOutputStream(), corrupt), client, server);
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Connections accepted so far. */
    synchronized int connections() {
        return connections;
    }

    /** Closes every connection through the proxy (both sides see it), and keeps accepting new ones. */
    void cutConnections() {
        for (Socket s : sockets) {
            closeQuietly(s);
        }
        sockets.clear();
    }

    private interface Pump {
        void run() throws IOException;
    }

    private static void pump(String name, Pump p, Socket a, Socket b) {
        Thread t = new Thread(() -> {
            try {
                p.run();
            } catch (IOException e) {
                // a side closed
            } finally {
                closeQuietly(a);
                closeQuietly(b);
            }
        }, "corrupting-proxy-" + name);
        t.setDaemon(true);
        t.start();
    }

    private static void copy(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[65536];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
            out.flush();
        }
    }

    private void frames(InputStream rawIn, OutputStream rawOut, boolean corrupt) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(rawIn, 1 << 16));
        DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(rawOut, 1 << 16));
        while (true) {
            int length = in.readInt();
            byte type = in.readByte();
            byte[] message = new byte[length - 1];
            in.readFully(message);
            out.writeInt(length);
            out.writeByte(type);
            out.write(message);
            if (type == Frames.TYPE_PIECE) {
                byte[] body = new byte[PieceHeader.parseFrom(message).getLength()];
                in.readFully(body);
                if (corrupt && body.length > 0) {
                    body[body.length / 2] ^= 0x10;
                    corrupted.incrementAndGet();
                }
                out.write(body);
            }
            if (in.available() == 0) {
                out.flush();
            }
        }
    }

    static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}
