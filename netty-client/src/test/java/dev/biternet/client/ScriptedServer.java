package dev.biternet.client;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.Welcome;
import java.io.ByteArrayOutputStream;
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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A hand-written biternet server on loopback, for answers a real server does not give: each
 * {@code OpenSession} is answered by a script (an {@code Error}, an absurd {@code SessionOpened},
 * whose {@code Attach} is answered by closing) or, when the script returns null, the connection
 * is handed to a real server behind it, as a proxy. A connection that does not open a session (a link attaching) goes to the real server,
 * or is closed when there is none. It speaks the frame layout of {@link Frames} with blocking
 * sockets, one thread per connection.
 */
final class ScriptedServer implements AutoCloseable {
    /** The answer to the {@code n}th OpenSession (from 1), or null to hand the connection to the real server. */
    interface Script {
        Envelope answer(int n, OpenSession open);
    }

    private final ServerSocket listener;
    private final Script script;
    private final InetSocketAddress upstream;
    private final AtomicInteger opens = new AtomicInteger();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();

    /** @param upstream the real server behind this one, or null */
    ScriptedServer(Script script, InetSocketAddress upstream) throws IOException {
        this.listener = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        this.script = script;
        this.upstream = upstream;
        Thread t = new Thread(this::accept, "scripted-server");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return listener.getLocalPort();
    }

    /** OpenSession requests received so far. */
    int opens() {
        return opens.get();
    }

    String url(String path) {
        return "biternet://127.0.0.1:" + port() + "/" + path;
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                sockets.add(client);
                Thread t = new Thread(() -> serve(client), "scripted-server-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try (client) {
            DataInputStream in = new DataInputStream(client.getInputStream());
            DataOutputStream out = new DataOutputStream(client.getOutputStream());
            ByteArrayOutputStream raw = new ByteArrayOutputStream();
            readFrame(in, raw); // Hello
            Envelope second = readFrame(in, raw);
            if (second.hasOpenSession()) {
                Envelope answer = script.answer(opens.incrementAndGet(), second.getOpenSession());
                if (answer != null) {
                    writeFrame(out, Envelope.newBuilder().setWelcome(Welcome.newBuilder()
                            .setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION).setAgent("scripted")).build());
                    writeFrame(out, answer);
                    if (answer.hasSessionOpened()) {
                        readFrame(in, raw); // the Attach: answered by closing, as a server gone away
                        return;
                    }
                    while (in.read() >= 0) {
                        // after an Error the client closes
                    }
                    return;
                }
            }
            if (upstream != null) {
                forward(client, raw.toByteArray());
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    /** Hands the connection to the real server: the frames read so far, then bytes both ways. */
    private void forward(Socket client, byte[] read) throws IOException {
        try (Socket server = new Socket(upstream.getAddress(), upstream.getPort())) {
            sockets.add(server);
            server.getOutputStream().write(read);
            Thread up = new Thread(() -> copy(client, server), "scripted-server-up");
            up.setDaemon(true);
            up.start();
            copy(server, client);
        }
    }

    private static void copy(Socket from, Socket to) {
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) >= 0) {
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            // a side closed
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    private static Envelope readFrame(DataInputStream in, ByteArrayOutputStream raw) throws IOException {
        int length = in.readInt();
        byte type = in.readByte();
        if (type != Frames.TYPE_CONTROL || length < 1 || length > Frames.MAX_FRAME_LENGTH) {
            throw new IOException("unexpected frame");
        }
        byte[] message = new byte[length - 1];
        in.readFully(message);
        DataOutputStream copy = new DataOutputStream(raw);
        copy.writeInt(length);
        copy.writeByte(type);
        copy.write(message);
        return Envelope.parseFrom(message);
    }

    private static void writeFrame(DataOutputStream out, Envelope e) throws IOException {
        byte[] message = e.toByteArray();
        out.writeInt(message.length + 1);
        out.writeByte(Frames.TYPE_CONTROL);
        out.write(message);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}
