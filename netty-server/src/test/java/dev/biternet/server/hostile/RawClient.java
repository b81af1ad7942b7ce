package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;

/**
 * A hand-written protocol client over a plain socket, as an attacker writes one: it sends what
 * it likes, reads only when it wants to, and can come from any loopback address.
 */
final class RawClient implements AutoCloseable {
    record Piece(PieceHeader header, byte[] bytes) {}

    final Socket socket = new Socket();
    private final DataInputStream in;
    private final OutputStream out;

    RawClient(InetSocketAddress server) throws IOException {
        this(server, null, 0);
    }

    /**
     * @param local the local address to connect from (another 127.x address), or null
     * @param receiveBuffer SO_RCVBUF to ask for (a peer that reads little), or 0 for the default
     */
    RawClient(InetSocketAddress server, InetAddress local, int receiveBuffer) throws IOException {
        if (receiveBuffer > 0) {
            socket.setReceiveBufferSize(receiveBuffer);
        }
        if (local != null) {
            socket.bind(new InetSocketAddress(local, 0));
        }
        socket.connect(server, 5_000);
        socket.setSoTimeout(10_000);
        socket.setTcpNoDelay(true);
        in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        out = socket.getOutputStream();
    }

    static byte[] frame(Envelope e) {
        ByteBuf frame = Frames.control(UnpooledByteBufAllocator.DEFAULT, e);
        try {
            return ByteBufUtil.getBytes(frame);
        } finally {
            frame.release();
        }
    }

    static Envelope hello() {
        return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION)
                .setAgent("hostile-test")).build();
    }

    static Envelope open(String path) {
        return Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath(path)).build();
    }

    void send(Envelope e) throws IOException {
        out.write(frame(e));
        out.flush();
    }

    /** Hello, and its Welcome. */
    RawClient welcomed() throws IOException {
        send(hello());
        expect(Envelope.BodyCase.WELCOME);
        return this;
    }

    /** The next frame: an {@link Envelope}, or a {@link Piece} with its raw body. */
    Object read() throws IOException {
        long length = Integer.toUnsignedLong(in.readInt());
        assertThat(length).as("frame length").isBetween(1L, (long) Frames.MAX_FRAME_LENGTH);
        byte type = in.readByte();
        byte[] message = new byte[(int) length - 1];
        in.readFully(message);
        if (type == Frames.TYPE_CONTROL) {
            return Envelope.parseFrom(message);
        }
        PieceHeader header = PieceHeader.parseFrom(message);
        byte[] body = new byte[header.getLength()];
        in.readFully(body);
        return new Piece(header, body);
    }

    /** The next piece frame; control frames before it (the root hash) are skipped. */
    Piece nextPiece() throws IOException {
        Object frame;
        while (!((frame = read()) instanceof Piece)) {
            assertThat(((Envelope) frame).getBodyCase()).isEqualTo(Envelope.BodyCase.PIECE_HASHES);
        }
        return (Piece) frame;
    }

    Envelope expect(Envelope.BodyCase kind) throws IOException {
        Object frame = read();
        assertThat(frame).isInstanceOf(Envelope.class);
        assertThat(((Envelope) frame).getBodyCase()).as("answer %s", frame).isEqualTo(kind);
        return (Envelope) frame;
    }

    void attach(SessionOpened opened, int window) throws IOException {
        send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(opened.getSessionId())
                .setSecret(opened.getAttachSecret()).setWindow(window).setLinkName("raw")).build());
        expect(Envelope.BodyCase.ATTACHED);
    }

    /** Attaches and receives every piece, acking each; returns the file's bytes. */
    byte[] fetchAll(SessionOpened opened) throws IOException {
        attach(opened, 8);
        byte[] file = new byte[(int) opened.getFileSize()];
        boolean[] have = new boolean[opened.getPieceCount()];
        for (int got = 0; got < have.length; ) {
            if (read() instanceof Piece p) {
                int i = p.header().getIndex();
                System.arraycopy(p.bytes(), 0, file, (int) p.header().getOffset(), p.bytes().length);
                long end = Math.min(opened.getFileSize(), (i + 1L) * opened.getPieceSize());
                if (p.header().getOffset() + p.bytes().length == end) {
                    if (!have[i]) {
                        have[i] = true;
                        got++;
                    }
                    send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(i).setOk(true)).build());
                }
            }
        }
        return file;
    }

    /** True if the server closed the connection (end of stream or reset) rather than sending more. */
    boolean closedByServer() throws IOException {
        try {
            return in.read() == -1;
        } catch (SocketException reset) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
