package dev.biternet.client;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.PieceHeader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.UnaryOperator;

/**
 * A loopback proxy in front of a real server that passes the client's bytes as they come and
 * each control message of the server's through {@code filter} (null: dropped), pieces as they are.
 */
final class FilteringProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    FilteringProxy(int serverPort, UnaryOperator<Envelope> filter) throws IOException {
        listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try {
                while (true) {
                    Socket client = listener.accept();
                    sockets.add(client);
                    Socket upstream;
                    try {
                        upstream = new Socket(InetAddress.getLoopbackAddress(), serverPort);
                    } catch (IOException e) {
                        client.close(); // the server is gone: so is the connection, as it would be without the proxy
                        continue;
                    }
                    sockets.add(upstream);
                    pipe(() -> client.getInputStream().transferTo(upstream.getOutputStream()), upstream);
                    pipe(() -> frames(new DataInputStream(upstream.getInputStream()),
                            new DataOutputStream(client.getOutputStream()), filter), client);
                }
            } catch (IOException e) {
                // closed
            }
        }, "server-proxy");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    private static void frames(DataInputStream in, DataOutputStream out,
                               UnaryOperator<Envelope> filter)
            throws IOException {
        while (true) {
            byte[] frame = new byte[in.readInt()];
            in.readFully(frame);
            byte[] body = Arrays.copyOfRange(frame, 1, frame.length);
            if (frame[0] == 2) {
                int raw = PieceHeader.parseFrom(body).getLength();
                byte[] bytes = new byte[raw];
                in.readFully(bytes);
                out.writeInt(frame.length);
                out.write(frame);
                out.write(bytes);
            } else {
                Envelope e = filter.apply(Envelope.parseFrom(body));
                if (e != null) {
                    byte[] message = e.toByteArray();
                    out.writeInt(1 + message.length);
                    out.writeByte(frame[0]);
                    out.write(message);
                }
            }
            out.flush();
        }
    }

    private interface Copy {
        void run() throws IOException;
    }

    private static void pipe(Copy copy, Socket to) {
        Thread t = new Thread(() -> {
            try {
                copy.run();
            } catch (IOException e) {
                // either side closed
            } finally {
                try {
                    to.shutdownOutput();
                } catch (IOException ignored) {
                    // closed already
                }
            }
        }, "server-proxy-pipe");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
