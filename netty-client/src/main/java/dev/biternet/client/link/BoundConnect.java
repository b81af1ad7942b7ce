package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import dev.biternet.common.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Connects one channel out of one link, whatever it carries (a biternet flow, an HTTP mirror's
 * connection): bound to the link's device ({@code SO_BINDTODEVICE}) and local address, and with
 * TLS counted as connected only once the handshake verified the peer. A failure to bind fails
 * the connect: a link never silently goes out another interface.
 */
public final class BoundConnect {
    /** SOL_SOCKET / SO_BINDTODEVICE on Linux; Netty has no named option for it. */
    private static final int IFNAMSIZ = 16;
    private static final RawUnixChannelOption SO_BINDTODEVICE = new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);

    private BoundConnect() {}

    /**
     * @param pipeline the channel's initializer (its TLS stage, if any, an {@link SslHandler})
     * @param warn told once per connect when a device binding is not possible on this transport
     */
    public static ChannelFuture connect(Transport transport, EventLoopGroup group, LinkSpec spec, ChannelHandler pipeline,
                                        InetSocketAddress remote, int connectTimeoutMillis, Consumer<String> warn) {
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                // Up to 1 MiB per read on a fast link: fewer reads, and fewer positional writes.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(pipeline);
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
                SslHandler tls = ch.pipeline().get(SslHandler.class);
                if (tls == null) {
                    connected.setSuccess();
                    return;
                }
                // With TLS a channel counts as connected once the handshake has verified the peer.
                tls.handshakeFuture().addListener(h -> {
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
