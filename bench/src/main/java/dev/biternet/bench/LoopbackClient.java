package dev.biternet.bench;

import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import dev.biternet.common.wire.EnvelopeEncoder;
import dev.biternet.common.wire.FrameDecoder;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.PieceData;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A minimal receiver written against the wire format only ({@link FrameDecoder},
 * {@link Frames}, the {@code Envelope} messages), for benchmarks that measure the sender: it
 * does what the protocol requires of a client and nothing else. Per link: {@code Hello}; the
 * first link {@code OpenSession}; every link {@code Attach} with a fixed window; an {@code Ack ok}
 * for every piece whose bytes all arrived on that link. It neither hashes nor stores the bytes
 * (unless asked to check them against the file, which the benchmark does once in its setup), so
 * the client's share of the two cores stays small and the same for every sender variant.
 */
final class LoopbackClient {
    /** What the real client's adaptive window settles at on a fast link (its upper bound). */
    static final int WINDOW = 64;

    private LoopbackClient() {}

    /**
     * Downloads {@code path} over {@code links} channels bound to 127.0.0.1, .2, .3, ... and
     * returns the payload bytes received (duplicates included).
     *
     * @param expected the file's bytes to compare every received run with, or null
     */
    static long download(Transport transport, EventLoopGroup group, InetSocketAddress server, int links, String path,
                         ByteBuffer expected) throws Exception {
        Run run = new Run(expected);
        List<Channel> channels = new ArrayList<>(links);
        try {
            List<ChannelFuture> connects = new ArrayList<>(links);
            for (int i = 0; i < links; i++) {
                Link link = new Link(run, i == 0 ? path : null);
                Bootstrap b = new Bootstrap()
                        .group(group)
                        .channel(transport.socketChannel())
                        .option(ChannelOption.TCP_NODELAY, true)
                        .handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(FrameDecoder.forClient(), EnvelopeEncoder.INSTANCE, link);
                            }
                        });
                connects.add(b.connect(server, new InetSocketAddress("127.0.0." + (i + 1), 0)));
            }
            for (ChannelFuture f : connects) {
                channels.add(f.sync().channel());
            }
            run.done.get(120, TimeUnit.SECONDS);
            return run.bytes.get();
        } finally {
            run.finished = true;
            for (Channel c : channels) {
                c.close();
            }
            for (Channel c : channels) {
                c.closeFuture().awaitUninterruptibly();
            }
        }
    }

    /** What the links of one download share. */
    private static final class Run {
        final CompletableFuture<SessionOpened> opened = new CompletableFuture<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        final AtomicLong bytes = new AtomicLong();
        final AtomicInteger verified = new AtomicInteger();
        final ByteBuffer expected;
        volatile PieceLayout layout;
        volatile AtomicIntegerArray pieceDone;
        volatile boolean finished;

        Run(ByteBuffer expected) {
            this.expected = expected;
        }

        void open(SessionOpened s) {
            layout = new PieceLayout(s.getFileSize(), s.getPieceSize());
            pieceDone = new AtomicIntegerArray(s.getPieceCount());
            opened.complete(s);
            if (s.getPieceCount() == 0) {
                done.complete(null);
            }
        }

        void pieceArrived(int index) {
            if (pieceDone.compareAndSet(index, 0, 1) && verified.incrementAndGet() == layout.pieceCount()) {
                done.complete(null);
            }
        }

        void fail(Throwable cause) {
            opened.completeExceptionally(cause);
            done.completeExceptionally(cause);
        }
    }

    private static final class Link extends ChannelInboundHandlerAdapter {
        private final Run run;
        private final String openPath;
        private int piece = -1;
        private long pieceBytes;
        private long position;

        Link(Run run, String openPath) {
            this.run = run;
            this.openPath = openPath;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(Envelope.newBuilder().setHello(Hello.newBuilder()
                    .setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("biternet-bench")).build());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof PieceData data) {
                try {
                    onData(ctx, data);
                } finally {
                    ReferenceCountUtil.release(data);
                }
            } else if (msg instanceof PieceHeader h) {
                if (h.getIndex() != piece) {
                    piece = h.getIndex();
                    pieceBytes = 0;
                }
                position = h.getOffset();
            } else if (msg instanceof Envelope e) {
                onControl(ctx, e);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        private void onData(ChannelHandlerContext ctx, PieceData data) {
            ByteBuf b = data.content();
            int n = b.readableBytes();
            if (run.expected != null && !b.nioBuffer().equals(run.expected.slice((int) position, n))) {
                run.fail(new IOException("bytes at " + position + " differ from the file"));
                ctx.close();
                return;
            }
            position += n;
            pieceBytes += n;
            run.bytes.addAndGet(n);
            if (data.isLast() && pieceBytes == run.layout.length(piece)) {
                ctx.writeAndFlush(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(piece).setOk(true)).build(),
                        ctx.voidPromise());
                run.pieceArrived(piece);
            }
        }

        private void onControl(ChannelHandlerContext ctx, Envelope e) {
            switch (e.getBodyCase()) {
                case WELCOME -> {
                    if (openPath != null) {
                        ctx.writeAndFlush(Envelope.newBuilder()
                                .setOpenSession(OpenSession.newBuilder().setPath(openPath)).build());
                    } else {
                        run.opened.thenAccept(s -> ctx.executor().execute(() -> attach(ctx, s)));
                    }
                }
                case SESSION_OPENED -> {
                    run.open(e.getSessionOpened());
                    attach(ctx, e.getSessionOpened());
                }
                case ERROR -> {
                    run.fail(new IOException("server: " + e.getError().getCode() + " " + e.getError().getMessage()));
                    ctx.close();
                }
                default -> { } // Attached, PieceHashes: nothing to check here
            }
        }

        private static void attach(ChannelHandlerContext ctx, SessionOpened s) {
            ctx.writeAndFlush(Envelope.newBuilder().setAttach(Attach.newBuilder()
                    .setSessionId(s.getSessionId()).setSecret(s.getAttachSecret()).setWindow(WINDOW).setLinkName("bench")).build());
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            run.fail(cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!run.finished) {
                run.fail(new IOException("link closed before the download finished"));
            }
        }
    }
}
