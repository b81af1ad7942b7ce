package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.common.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Connects one channel out of one link, whatever it carries (a biternet flow, an HTTP mirror's
 * connection): bound to the link's device ({@code SO_BINDTODEVICE}) and local address, and with
 * TLS counted as connected only once the handshake verified the peer. A failure to bind fails
 * the connect: a link never silently goes out another interface. A lost SYN costs a few round
 * trips, not the kernel's second: {@link ConnectRace}.
 */
public final class BoundConnect {
    /** SOL_SOCKET / SO_BINDTODEVICE on Linux; Netty has no named option for it. */
    private static final int IFNAMSIZ = 16;
    private static final RawUnixChannelOption SO_BINDTODEVICE = new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);

    /** The connect times seen per link, for the second attempt's delay; one per process, as the kernel's own metrics are. */
    private static final ConnectRace RACE = new ConnectRace();
    /** The pipeline of an attempt that has not won yet. */
    private static final ChannelHandler NOTHING = new Nothing();

    private BoundConnect() {}

    @ChannelHandler.Sharable
    private static final class Nothing extends ChannelInboundHandlerAdapter {
    }

    /**
     * Connects, and once connected (with TLS: once the handshake verified the peer) puts
     * {@code pipeline} on the channel. A connect still pending after {@link ConnectRace}'s delay
     * for the link (a SYN or its answer lost) gets a second attempt beside it, bound alike; the
     * first to complete gets the pipeline and the other is closed. The first attempt's failure
     * is the connect's: the second only ever makes it succeed sooner.
     *
     * @param pipeline the channel's initializer (its TLS stage, if any, an {@link SslHandler})
     * @param warn told once per connect when a device binding is not possible on this transport
     * @return the connected channel
     */
    public static Future<Channel> connect(Transport transport, EventLoopGroup group, LinkSpec spec, ChannelHandler pipeline,
                                          InetSocketAddress remote, int connectTimeoutMillis, Consumer<String> warn) {
        Race race = new Race(transport, group.next(), spec, pipeline, remote, connectTimeoutMillis);
        try {
            race.loop.execute(() -> race.start(warn));
        } catch (RejectedExecutionException e) {
            race.done.tryFailure(new IOException("the download is closing", e));
        }
        return race.done;
    }

    /** The attempts of one connect, all on one event loop (so nothing here needs a lock). */
    private static final class Race {
        private final Transport transport;
        private final EventLoop loop;
        private final LinkSpec spec;
        private final ChannelHandler pipeline;
        private final InetSocketAddress remote;
        private final int connectTimeoutMillis;
        /** What {@link ConnectRace} knows this link by: its name and the address it connects to. */
        private final String key;
        private final Promise<Channel> done;
        private final List<Channel> pending = new ArrayList<>(2);
        private boolean decided;

        Race(Transport transport, EventLoop loop, LinkSpec spec, ChannelHandler pipeline, InetSocketAddress remote,
             int connectTimeoutMillis) {
            this.transport = transport;
            this.loop = loop;
            this.spec = spec;
            this.pipeline = pipeline;
            this.remote = remote;
            this.connectTimeoutMillis = connectTimeoutMillis;
            this.key = spec.name() + ">" + remote;
            this.done = loop.newPromise();
        }

        void start(Consumer<String> warn) {
            attempt(true, warn);
            long delay = RACE.delayMillis(key);
            if (delay != ConnectRace.NEVER) {
                loop.schedule(() -> {
                    if (!decided) {
                        attempt(false, s -> { });
                    }
                }, delay, TimeUnit.MILLISECONDS);
            }
        }

        private void attempt(boolean first, Consumer<String> warn) {
            long started = System.nanoTime();
            // Nothing on the channel and nothing read until it has won: the pipeline's
            // handlers see one channel, connected.
            Bootstrap b = new Bootstrap()
                    .group(loop)
                    .channel(transport.socketChannel())
                    .option(ChannelOption.TCP_NODELAY, true)
                    // Up to 1 MiB per read on a fast link: fewer reads, and fewer positional writes.
                    .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(NOTHING);
            ChannelFuture registered = b.register();
            Channel ch = registered.channel();
            pending.add(ch);
            registered.addListener(r -> {
                if (!r.isSuccess()) {
                    failed(ch, first, r.cause());
                    return;
                }
                if (decided) {
                    ch.close();
                    return;
                }
                if (spec.device() != null) {
                    if (transport == Transport.EPOLL) {
                        try {
                            if (!ch.config().setOption(SO_BINDTODEVICE, deviceName(spec.device()))) {
                                throw new IOException("option not supported");
                            }
                        } catch (Exception e) {
                            failed(ch, first, new IOException("cannot bind to device " + spec.device() + ": "
                                    + rootMessage(e), e));
                            return;
                        }
                    } else {
                        warn.accept(spec.name() + " is bound by address only (SO_BINDTODEVICE needs the epoll transport)");
                    }
                }
                ChannelFuture c = spec.localAddress() == null ? ch.connect(remote)
                        : ch.connect(remote, new InetSocketAddress(spec.localAddress(), 0));
                c.addListener(f -> {
                    if (f.isSuccess()) {
                        won(ch, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
                    } else {
                        failed(ch, first, f.cause());
                    }
                });
            });
        }

        private void failed(Channel ch, boolean first, Throwable cause) {
            pending.remove(ch);
            ch.close();
            if (first && !decided) {
                decided = true;
                closePending();
                done.tryFailure(cause);
            }
        }

        private void won(Channel ch, long millis) {
            pending.remove(ch);
            if (decided) {
                ch.close();
                return;
            }
            decided = true;
            RACE.measured(key, millis);
            closePending();
            // After this task: the connect's own channelActive has then gone through the empty
            // pipeline, and the handlers added here see it once, from here.
            try {
                loop.execute(() -> attach(ch));
            } catch (RejectedExecutionException e) {
                ch.close();
                done.tryFailure(new IOException("the download is closing", e));
            }
        }

        /** The winner gets the pipeline (with TLS: connected once the handshake verified the peer). */
        private void attach(Channel ch) {
            if (!ch.isActive()) {
                done.tryFailure(new IOException("the connection to " + remote + " closed as it opened"));
                return;
            }
            ch.config().setAutoRead(true);
            ch.pipeline().addLast(pipeline);
            ch.pipeline().fireChannelActive();
            SslHandler tls = ch.pipeline().get(SslHandler.class);
            if (tls == null) {
                done.trySuccess(ch);
                return;
            }
            // With TLS a channel counts as connected once the handshake has verified the peer.
            tls.handshakeFuture().addListener(h -> {
                if (h.isSuccess()) {
                    done.trySuccess(ch);
                } else {
                    done.tryFailure(new IOException(ClientTls.explain(h.cause())));
                }
            });
        }

        private void closePending() {
            // A copy: closing an attempt fails its connect, whose listener takes it off the list.
            List<Channel> others = List.copyOf(pending);
            pending.clear();
            others.forEach(Channel::close);
        }
    }

    /** The device's name as SO_BINDTODEVICE takes it: NUL-terminated, at most IFNAMSIZ bytes. */
    static ByteBuffer deviceName(String device) {
        byte[] name = device.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buf = ByteBuffer.allocateDirect(IFNAMSIZ);
        buf.put(name, 0, Math.min(name.length, IFNAMSIZ - 1));
        buf.position(0).limit(IFNAMSIZ);
        return buf;
    }
}
