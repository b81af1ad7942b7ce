package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.FrameDecoder;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.PieceData;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHeader;
import dev.biternet.server.ServerInitializer;
import dev.biternet.server.TestFiles;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.files.PieceHashes;
import dev.biternet.server.files.ServedFile;
import dev.biternet.server.files.ServedRoot;
import dev.biternet.server.session.SessionRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The server's real pipeline ({@link ServerInitializer}) on {@link EmbeddedChannel}s, over a real
 * {@link SessionRegistry}, {@link ServedRoot} and {@link FileHasher}. Files are hashed before any
 * session opens them, so no hashing thread ever touches an embedded channel.
 *
 * <p>What the server writes is read back as a client would see it: control and piece-header
 * frames go through a client-side {@link FrameDecoder}, and each file region is transferred
 * into that decoder as the raw piece body.
 */
final class ServerHarness implements AutoCloseable {
    static final int PIECE = 1024;

    final Path dir;
    final FileHasher hasher;
    private final ServedRoot root;
    final SessionRegistry registry;
    private final List<Conn> conns = new ArrayList<>();

    ServerHarness(Path dir) throws IOException {
        this.dir = dir;
        this.hasher = new FileHasher(1, 8);
        this.root = new ServedRoot(dir);
        this.registry = new SessionRegistry(root, hasher, PIECE, 60, TimeUnit.SECONDS);
    }

    /** Writes a random file below the root and waits until its hashes are complete. */
    byte[] file(String name, int size) throws Exception {
        Path file = dir.resolve(name);
        byte[] data = TestFiles.write(file, name.hashCode(), size);
        PieceHashes h;
        try (ServedFile opened = root.open(name)) {
            h = hasher.hashes(opened, new PieceLayout(size, PIECE));
        }
        TestFiles.await("hashes of " + name, 10_000, () -> h.complete() || h.failure() != null);
        assertThat(h.failure()).isNull();
        return data;
    }

    Conn connect() {
        return connect(PiecePusher.BLOCK_SIZE);
    }

    /** A connection whose pusher sends pieces in blocks of {@code blockSize}. */
    Conn connect(int blockSize) {
        Conn c = new Conn(new EmbeddedChannel(new ServerInitializer(registry, 0, blockSize)), registry);
        conns.add(c);
        return c;
    }

    @Override
    public void close() {
        for (Conn c : conns) {
            c.close();
        }
        registry.close();
        hasher.close();
    }

    /** A piece as the client got it: its header, the region that carried it, and the bytes. */
    record Piece(PieceHeader header, long regionPosition, long regionCount, byte[] bytes) {
        int index() {
            return header.getIndex();
        }
    }

    /** One server channel and a client-side decoder for what it writes. */
    static final class Conn implements AutoCloseable {
        final EmbeddedChannel ch;
        private final EmbeddedChannel client = new EmbeddedChannel(FrameDecoder.forClient());
        final List<Envelope> controls = new ArrayList<>();
        final List<Piece> pieces = new ArrayList<>();
        private final ArrayDeque<long[]> regions = new ArrayDeque<>();
        private PieceHeader openHeader;
        private ByteArrayOutputStream openBody;

        private final PiecePusher pusher;
        private final SessionRegistry registry;

        Conn(EmbeddedChannel ch, SessionRegistry registry) {
            this.ch = ch;
            this.registry = registry;
            // kept here: a closed channel's pipeline no longer holds its handlers
            this.pusher = (PiecePusher) ch.pipeline().get(ServerInitializer.PIECE_PUSHER);
            assertThat(pusher).isNotNull();
        }

        PiecePusher pusher() {
            return pusher;
        }

        void send(Envelope e) {
            sendRaw(Frames.control(ByteBufAllocator.DEFAULT, e));
        }

        void sendRaw(ByteBuf frame) {
            ch.writeInbound(frame);
            ch.runPendingTasks();
            ch.checkException();
        }

        void hello() {
            send(Envelope.newBuilder().setHello(Hello.newBuilder()
                    .setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("test")).build());
        }

        void open(String path) {
            send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath(path)).build());
        }

        /** Attaches with the session's attach secret, as a client that opened it would. */
        void attach(ByteString sessionId, int window) {
            attach(sessionId, secretOf(sessionId), window);
        }

        void attach(ByteString sessionId, ByteString secret, int window) {
            send(Envelope.newBuilder().setAttach(Attach.newBuilder()
                    .setSessionId(sessionId).setSecret(secret).setWindow(window).setLinkName("embedded")).build());
        }

        private ByteString secretOf(ByteString sessionId) {
            try {
                return registry.get(sessionId).opened().getSessionOpened().getAttachSecret();
            } catch (dev.biternet.server.files.RequestException unknown) {
                return ByteString.EMPTY;
            }
        }

        void ack(int index, boolean ok) {
            send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(index).setOk(ok)).build());
        }

        void credit(int window) {
            send(Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(window)).build());
        }

        /** Reads everything the server wrote so far; returns the new control messages. */
        List<Envelope> drain() throws IOException {
            ch.runPendingTasks();
            int controlsBefore = controls.size();
            Object msg;
            while ((msg = ch.readOutbound()) != null) {
                if (msg instanceof ByteBuf buf) {
                    boolean pieceHeader = buf.readableBytes() > 4 && buf.getByte(buf.readerIndex() + 4) == Frames.TYPE_PIECE;
                    feed(buf);
                    if (pieceHeader) {
                        Object next = ch.readOutbound();
                        try {
                            assertThat(next).as("a piece header is followed by its file region")
                                    .isInstanceOf(DefaultFileRegion.class).isInstanceOf(SharedFileRegion.class);
                            transfer((FileRegion) next);
                        } finally {
                            ReferenceCountUtil.release(next);
                        }
                    }
                } else {
                    ReferenceCountUtil.release(msg);
                    throw new AssertionError("unexpected outbound " + msg.getClass().getName());
                }
            }
            return List.copyOf(controls.subList(controlsBefore, controls.size()));
        }

        /** Drains and returns the single new control message. */
        Envelope next() throws IOException {
            List<Envelope> got = drain();
            assertThat(got).as("control messages from the server").hasSize(1);
            return got.get(0);
        }

        /** Drains and returns the pieces that came out now. */
        List<Piece> newPieces() throws IOException {
            int before = pieces.size();
            drain();
            return List.copyOf(pieces.subList(before, pieces.size()));
        }

        private void transfer(FileRegion region) throws IOException {
            regions.add(new long[] {region.position(), region.count()});
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            WritableByteChannel target = Channels.newChannel(out);
            while (region.transferred() < region.count()) {
                long n = region.transferTo(target, region.transferred());
                assertThat(n).as("region transfers bytes").isPositive();
            }
            if (out.size() > 0) {
                feed(Unpooled.wrappedBuffer(out.toByteArray()));
            }
        }

        private void feed(ByteBuf buf) {
            client.writeInbound(buf);
            client.checkException();
            Object m;
            while ((m = client.readInbound()) != null) {
                if (m instanceof Envelope e) {
                    assertThat(openHeader).as("no control frame inside a piece body").isNull();
                    controls.add(e);
                } else if (m instanceof PieceHeader h) {
                    openHeader = h;
                    openBody = new ByteArrayOutputStream();
                } else if (m instanceof PieceData d) {
                    try {
                        byte[] b = new byte[d.content().readableBytes()];
                        d.content().readBytes(b);
                        openBody.writeBytes(b);
                        if (d.isLast()) {
                            long[] region = regions.poll();
                            pieces.add(new Piece(openHeader, region[0], region[1], openBody.toByteArray()));
                            openHeader = null;
                        }
                    } finally {
                        d.release();
                    }
                } else {
                    ReferenceCountUtil.release(m);
                    throw new AssertionError("unexpected decoded " + m);
                }
            }
        }

        @Override
        public void close() {
            ch.finishAndReleaseAll();
            client.finishAndReleaseAll();
        }
    }
}
