package dev.biternet.client.http;

import dev.biternet.client.link.BoundConnect;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.common.transport.Transport;

import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Opens a mirror connection out of a link: the mirror's host resolved, the channel bound the
 * way every link's channels are ({@link BoundConnect}), https verified with {@code tls}.
 */
public final class HttpDialer {
    private final Transport transport;
    private final EventLoopGroup group;
    private final SslContext tls;
    private final int connectTimeoutMillis;
    private final int stallSeconds;
    private final Consumer<String> warn;

    /**
     * @param tls the context for https mirrors (see {@code ClientTls}: certificate and host name
     *            checked unless the user said otherwise)
     * @param stallSeconds a request that gets no byte for this long loses its connection
     */
    public HttpDialer(Transport transport, EventLoopGroup group, SslContext tls, int connectTimeoutMillis,
                      int stallSeconds, Consumer<String> warn) {
        this.transport = transport;
        this.group = group;
        this.tls = tls;
        this.connectTimeoutMillis = connectTimeoutMillis;
        this.stallSeconds = stallSeconds;
        this.warn = warn;
    }

    /**
     * A new connection to {@code url}'s host out of {@code link}, read no faster than
     * {@code allowance}'s rate; completes with its handler once connected.
     */
    public CompletableFuture<RangeHandler> connect(LinkSpec link, LinkAllowance allowance, MirrorUrl url) {
        if (link.waiting()) {
            return CompletableFuture.failedFuture(new IOException(link.name() + " has no usable address now"));
        }
        if (url.tls() && tls == null) {
            return CompletableFuture.failedFuture(new IOException("no TLS context for " + url));
        }
        InetAddress host;
        try {
            host = InetAddress.getByName(url.host());
        } catch (UnknownHostException e) {
            return CompletableFuture.failedFuture(new HttpFailure(HttpFailure.Kind.LOST, "cannot resolve host " + url.host()));
        }
        RangeHandler handler = new RangeHandler(stallSeconds);
        CompletableFuture<RangeHandler> done = new CompletableFuture<>();
        BoundConnect.connect(transport, group, link, new HttpInitializer(tls, url, handler, allowance),
                new InetSocketAddress(host, url.port()), connectTimeoutMillis, warn).addListener(f -> {
                    if (f.isSuccess()) {
                        done.complete(handler);
                    } else {
                        done.completeExceptionally(f.cause());
                    }
                });
        return done;
    }

}
