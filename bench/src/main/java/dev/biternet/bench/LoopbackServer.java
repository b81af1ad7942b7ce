package dev.biternet.bench;

import dev.biternet.common.transport.Transport;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.ServerInitializer;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The real server, a {@link BiternetServer} (pipeline, sessions, hasher, allocator, child
 * options, {@code TCP_NOTSENT_LOWAT} on epoll), on a transport chosen per benchmark instead of
 * by system property.
 *
 * <p>With {@code heapCopy} one extra stage sits at the head of the pipeline,
 * {@link HeapCopyStage}: every piece block the pusher writes as a {@code FileRegion} is read
 * into a heap buffer and written as that buffer instead. Everything else (the pusher, its header
 * frames, block size, flow control, the bytes) stays the same, so the two variants differ only
 * in how the body reaches the socket.
 */
final class LoopbackServer implements AutoCloseable {
    static final String HEAP_COPY = "heap-copy";

    private final FileChannel heapSource;
    private final BiternetServer server;

    /** @param heapFile the one file served, read by the heap-copy stage (null: sendfile path) */
    LoopbackServer(Path root, Transport transport, Path heapFile) throws IOException, InterruptedException {
        this.heapSource = heapFile == null ? null : FileChannel.open(heapFile, StandardOpenOption.READ);
        HeapCopyStage heapCopy = heapSource == null ? null : new HeapCopyStage(heapSource);
        this.server = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0), transport,
                heapCopy == null ? null : ch -> ch.pipeline().addFirst(HEAP_COPY, heapCopy));
    }

    InetSocketAddress address() {
        return server.address();
    }

    @Override
    public void close() throws IOException {
        server.close();
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
