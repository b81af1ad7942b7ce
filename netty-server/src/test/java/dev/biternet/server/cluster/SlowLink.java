package dev.biternet.server.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A loopback TCP proxy to a port that holds every read {@code delayMillis} before passing it on,
 * each way: a store a long round trip away (or a loaded machine's), where a command waited for
 * before the next costs that round trip each, and commands sent together cost it once.
 */
final class SlowLink implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    SlowLink(int targetPort, long delayMillis) throws IOException {
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accept = new Thread(() -> {
            try {
                while (true) {
                    Socket in = listener.accept();
                    Socket out = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                    sockets.add(in);
                    sockets.add(out);
                    pump(in, out, delayMillis);
                    pump(out, in, delayMillis);
                }
            } catch (IOException closed) {
                // the link is closed
            }
        }, "slow-link-accept");
        accept.setDaemon(true);
        accept.start();
    }

    private static void pump(Socket from, Socket to, long delayMillis) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[1 << 16];
            try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
                for (int n; (n = in.read(buf)) > 0; ) {
                    Thread.sleep(delayMillis);
                    out.write(buf, 0, n);
                    out.flush();
                }
            } catch (IOException | InterruptedException closed) {
                // either side closed
            }
        }, "slow-link-pump");
        t.setDaemon(true);
        t.start();
    }

    /** The Redis URI through this link. */
    String uri() {
        return "redis://127.0.0.1:" + listener.getLocalPort();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
