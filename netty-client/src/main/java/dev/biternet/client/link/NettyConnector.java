package dev.biternet.client.link;

import dev.biternet.common.transport.Transport;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
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

    /** Connects one flow to {@code remote} through the {@link ClientInitializer} pipeline, bound as {@link BoundConnect} binds. */
    private Future<Channel> dial(LinkSpec spec, InetSocketAddress remote, LinkHandler handler) {
        return BoundConnect.connect(transport, group, spec, new ClientInitializer(handler, tls, host, remote.getPort()),
                remote, connectTimeoutMillis, warn);
    }
}
