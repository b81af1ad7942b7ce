package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.biternet.common.transport.Transport;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A link's connect over real loopback sockets when its SYN is lost: the kernel's listen queue,
 * full, drops it (as a lossy link would), and the kernel would send it again only after a
 * second. The second attempt gets through once the queue has room.
 */
class BoundConnectTest {
    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private final List<Socket> sockets = new ArrayList<>();
    private EventLoopGroup group;

    @AfterEach
    void tearDown() throws Exception {
        for (Socket s : sockets) {
            s.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void aConnectWhoseSynIsDroppedConnectsOnASecondAttemptBeforeTheKernelSendsItAgain() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/net/netstat")), "counts the kernel's listen overflows");
        group = Transport.best().newGroup(1);
        try (ServerSocket server = new ServerSocket(0, 1, LOOPBACK)) {
            InetSocketAddress address = new InetSocketAddress(LOOPBACK, server.getLocalPort());
            fillListenQueue(address);
            long overflows = listenOverflows();
            AtomicInteger actives = new AtomicInteger();
            ChannelInboundHandlerAdapter handler = new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    actives.incrementAndGet();
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {42}));
                    ctx.fireChannelActive();
                }
            };

            long start = System.nanoTime();
            Future<Channel> connected = BoundConnect.connect(Transport.best(), group,
                    new LinkSpec("default", null, null), handler, address, 10_000, s -> { });
            // The SYN was dropped: now the queue gets room, as a lossy link's next packet goes through.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (listenOverflows() == overflows && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(listenOverflows()).as("the first SYN was dropped").isGreaterThan(overflows);
            sockets.add(server.accept());
            Channel ch = connected.get(5, TimeUnit.SECONDS);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            // The kernel sends a dropped SYN again after 1 s: connected sooner, it was the second attempt.
            assertThat(millis).as("connected after %d ms", millis).isLessThan(ConnectRace.KERNEL_RETRY_MILLIS);
            assertThat(actives.get()).as("the pipeline saw its channel become active once").isEqualTo(1);
            sockets.add(server.accept()); // the other filler
            server.setSoTimeout(5000);
            Socket kept = server.accept();
            sockets.add(kept);
            assertThat(kept.getPort()).as("the connection the server has is the client's channel")
                    .isEqualTo(((InetSocketAddress) ch.localAddress()).getPort());
            try (InputStream in = kept.getInputStream()) {
                assertThat(in.read()).as("what the pipeline wrote when active").isEqualTo(42);
            }
            ch.close().sync();
        }
    }

    /** A connect asked as the download closes (its event loops shut down) fails with a reason; it does not throw. */
    @Test
    void aConnectOnLoopsThatAreShutDownFailsWithAReason() throws Exception {
        group = Transport.best().newGroup(1);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();

        Future<Channel> connected = BoundConnect.connect(Transport.best(), group, new LinkSpec("default", null, null),
                new ChannelInboundHandlerAdapter(), new InetSocketAddress(LOOPBACK, 9), 1000, s -> { });

        assertThat(connected.await(5, TimeUnit.SECONDS)).isTrue();
        assertThat(connected.cause()).hasMessage("the download is closing");
    }

    /** Connects plain sockets until one gets no answer: the listen queue is full, its next SYN is dropped. */
    private void fillListenQueue(InetSocketAddress address) throws IOException {
        for (int i = 0; i < 16; i++) {
            Socket s = new Socket();
            try {
                s.connect(address, 200);
                sockets.add(s);
            } catch (SocketTimeoutException full) {
                s.close();
                return;
            }
        }
        throw new AssertionError("the listen queue never filled");
    }

    /** TcpExt ListenOverflows: SYNs the kernel dropped because a listen queue was full. */
    private static long listenOverflows() throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
        for (int i = 0; i + 1 < lines.size(); i++) {
            if (lines.get(i).startsWith("TcpExt:") && lines.get(i + 1).startsWith("TcpExt:")) {
                List<String> names = Arrays.asList(lines.get(i).split("\\s+"));
                return Long.parseLong(lines.get(i + 1).split("\\s+")[names.indexOf("ListenOverflows")]);
            }
        }
        throw new IOException("no TcpExt ListenOverflows in /proc/net/netstat");
    }
}
