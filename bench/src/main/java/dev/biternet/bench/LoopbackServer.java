package dev.biternet.bench;

import dev.biternet.common.transport.Transport;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.ServerInitializer;
import dev.biternet.server.files.FileHasher;
import dev.biternet.server.files.ServedRoot;
import dev.biternet.server.session.SessionRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FileRegion;
import io.netty.channel.epoll.EpollChannelOption;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * The real server pipeline ({@link ServerInitializer}: decoder, encoder, {@code PiecePusher},
 * dispatcher, with the real sessions, hasher and allocator) on a bootstrap that mirrors
 * {@link BiternetServer}'s (same child options, {@code TCP_NOTSENT_LOWAT} on epoll, default
 * worker count), so the transport can be chosen per benchmark instead of by system property.
 *
 * <p>With {@code heapCopy} one extra stage sits at the head of the pipeline,
 * {@link HeapCopyStage}: every piece block the pusher writes as a {@code FileRegion} is read
 * into a heap buffer and written as that buffer instead. Everything else (the pusher, its header
 * frames, block size, flow control, the bytes) stays the same, so the two variants differ only
 * in how the body reaches the socket.
 */
final class LoopbackServer implements AutoCloseable {
    static final String HEAP_COPY = "heap-copy";

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final FileHasher hasher;
    private final SessionRegistry sessions;
    private final FileChannel heapSource;
    private final Channel serverChannel;

    /** @param heapFile the one file served, read by the heap-copy stage (null: sendfile path) */
    LoopbackServer(Path root, Transport transport, Path heapFile) throws IOException, InterruptedException {
        this.hasher = new FileHasher(1, 64);
        this.sessions = new SessionRegistry(new ServedRoot(root), hasher, 0, 60, TimeUnit.SECONDS);
        this.heapSource = heapFile == null ? null : FileChannel.open(heapFile, StandardOpenOption.READ);
        this.boss = transport.newGroup(1);
        this.workers = transport.newGroup(0);
        HeapCopyStage heapCopy = heapSource == null ? null : new HeapCopyStage(heapSource);
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ServerInitializer(sessions, 0));
                        if (heapCopy != null) {
                            ch.pipeline().addFirst(HEAP_COPY, heapCopy);
                        }
                    }
                });
        if (transport == Transport.EPOLL) {
            b.childOption(EpollChannelOption.TCP_NOTSENT_LOWAT, BiternetServer.NOTSENT_LOWAT);
        }
        this.serverChannel = b.bind("127.0.0.1", 0).sync().channel();
        boss.scheduleAtFixedRate(sessions::reap, 1, 1, TimeUnit.SECONDS);
    }

    InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    @Override
    public void close() throws IOException {
        serverChannel.close().syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        sessions.close();
        hasher.close();
        if (heapSource != null) {
            heapSource.close();
        }
    }

    /**
     * Turns each {@link FileRegion} into a heap {@link ByteBuf} holding the same bytes, read with
     * a positional read from the served file: what a server without sendfile does. The JDK reads
     * into a temporary direct buffer and copies it to the heap array; the transport copies the
     * heap buffer into a direct one before {@code write(2)} (NIO does the same inside the JDK).
     * The pusher's write promise is passed on, so its flow control sees the same completions.
     */
    @Sharable
    static final class HeapCopyStage extends ChannelOutboundHandlerAdapter {
        private final FileChannel file;

        HeapCopyStage(FileChannel file) {
            this.file = file;
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            if (!(msg instanceof FileRegion region)) {
                ctx.write(msg, promise);
                return;
            }
            int length = (int) region.count();
            long position = region.position();
            region.release();
            ByteBuf buf = ctx.alloc().heapBuffer(length);
            try {
                while (buf.writerIndex() < length) {
                    int at = buf.writerIndex();
                    if (buf.writeBytes(file, position + at, length - at) < 0) {
                        throw new EOFException("file ends before " + (position + length));
                    }
                }
            } catch (IOException e) {
                buf.release();
                promise.setFailure(e);
                return;
            }
            ctx.write(buf, promise);
        }
    }
}
