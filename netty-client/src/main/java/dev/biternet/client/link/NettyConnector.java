package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.common.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The download's {@link Connector}: a link's connections made with Netty's {@code Bootstrap},
 * each channel bound to its link's device ({@code SO_BINDTODEVICE}) and address, through the
 * {@link ClientInitializer} pipeline, and with TLS counted as connected once the handshake has
 * verified the server. A link never silently goes out another interface: a device binding that
 * fails fails the connection, and a link waiting for an address is not connected at all.
 */
public final class NettyConnector implements Connector {
    /** SOL_SOCKET / SO_BINDTODEVICE on Linux; Netty has no named option for it. */
    private static final int IFNAMSIZ = 16;
    private static final RawUnixChannelOption SO_BINDTODEVICE = new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);

    private final Transport transport;
    private final EventLoopGroup group;
    private final ServerAddresses servers;
    private final String host;
    private final int connectTimeoutMillis;
    private final SslContext tls;
    private final Consumer<String> warn;

    /**
     * @param servers every address of the server's name, and its port
     * @param host the server's name as the user gave it (TLS verifies it)
     * @param tls the client's TLS context, or null for plain TCP
     * @param warn where a one-line warning goes (a device binding the transport cannot make)
     */
    public NettyConnector(Transport transport, EventLoopGroup group, ServerAddresses servers, String host,
                          int connectTimeoutMillis, SslContext tls, Consumer<String> warn) {
        this.transport = transport;
        this.group = group;
        this.servers = servers;
        this.host = host;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.tls = tls;
        this.warn = warn;
    }

    @Override
    public int addresses(LinkSpec spec) {
        return servers.count(spec.localAddress());
    }

    @Override
    public CompletableFuture<Void> connect(LinkSpec spec, int turn, LinkHandler handler) {
        if (spec.waiting()) {
            // Never unbound: a link goes out its own interface or not at all.
            return CompletableFuture.failedFuture(new IOException(spec.name() + " has no usable address now"));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        dial(spec, servers.pick(spec.localAddress(), turn), handler).addListener(f -> {
            if (f.isSuccess()) {
                done.complete(null);
            } else {
                done.completeExceptionally(f.cause());
            }
        });
        return done;
    }

    /**
     * Connects one flow. The device binding is set on the registered channel before it binds,
     * and a failure to set it fails the link: it never silently goes out another interface.
     */
    private ChannelFuture dial(LinkSpec spec, InetSocketAddress remote, LinkHandler handler) {
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                // Up to 1 MiB per read on a fast link: fewer reads, and fewer positional writes.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new ClientInitializer(handler, tls, host, remote.getPort()));
        ChannelFuture registered = b.register();
        Channel ch = registered.channel();
        ChannelPromise connected = ch.newPromise();
        registered.addListener(r -> {
            if (!r.isSuccess()) {
                connected.setFailure(r.cause());
                return;
            }
            if (spec.device() != null) {
                if (transport == Transport.EPOLL) {
                    try {
                        if (!ch.config().setOption(SO_BINDTODEVICE, deviceName(spec.device()))) {
                            throw new IOException("option not supported");
                        }
                    } catch (Exception e) {
                        ch.close();
                        connected.setFailure(new IOException("cannot bind to device " + spec.device() + ": "
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
                if (!f.isSuccess()) {
                    connected.setFailure(f.cause());
                    return;
                }
                SslHandler ssl = ch.pipeline().get(SslHandler.class);
                if (ssl == null) {
                    connected.setSuccess();
                    return;
                }
                // With TLS a link counts as connected once the handshake has verified the server.
                ssl.handshakeFuture().addListener(h -> {
                    if (h.isSuccess()) {
                        connected.setSuccess();
                    } else {
                        connected.setFailure(new IOException(ClientTls.explain(h.cause())));
                    }
                });
            });
        });
        return connected;
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
