package dev.biternet.client;

import dev.biternet.client.link.ClientInitializer;
import dev.biternet.client.link.ClientTls;
import dev.biternet.client.link.LinkHandler;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.link.LinkStats;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.SessionOpened;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.RawUnixChannelOption;
import io.netty.handler.ssl.SslHandler;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One download: connects one channel per link (each bound to its interface), opens the session
 * on the first, attaches them all, and waits until every piece is verified, the whole file's
 * hash checks out and the file is renamed into place.
 */
public final class Download {
    /** SOL_SOCKET / SO_BINDTODEVICE on Linux; Netty has no named option for it. */
    private static final int IFNAMSIZ = 16;
    private static final RawUnixChannelOption SO_BINDTODEVICE = new RawUnixChannelOption("SO_BINDTODEVICE", 1, 25, IFNAMSIZ);
    private static final long HANDSHAKE_SECONDS = 30;

    /** What to fetch, where to put it, over which links. */
    public record Request(Target target, Path output, List<String> ifaces, int connectTimeoutMillis, boolean verbose) {}

    private final Request request;
    private final PrintWriter err;
    private final LinkSecurity security;
    private long start;

    public Download(Request request, PrintWriter err) {
        this(request, err, LinkSecurity.NONE);
    }

    /** @param security the access token and TLS settings every link uses */
    public Download(Request request, PrintWriter err, LinkSecurity security) {
        this.request = request;
        this.err = err;
        this.security = security;
    }

    public DownloadResult run() throws DownloadException, InterruptedException {
        Target target = request.target();
        InetAddress server;
        try {
            server = InetAddress.getByName(target.host());
        } catch (UnknownHostException e) {
            throw new DownloadException(ExitCodes.NETWORK, "cannot resolve host " + target.host());
        }
        List<LinkSpec> specs;
        try {
            specs = LinkResolver.resolve(request.ifaces(), server);
        } catch (LinkResolver.LinkException e) {
            throw new DownloadException(ExitCodes.USAGE, e.getMessage());
        }
        Transport transport = Transport.best();
        EventLoopGroup group = transport.newGroup(specs.size());
        List<LinkHandler> handlers = new ArrayList<>();
        List<Channel> channels = new ArrayList<>();
        PieceStore store = null;
        try {
            long start = System.nanoTime();
            this.start = start;
            InetSocketAddress remote = new InetSocketAddress(server, target.port());
            List<ChannelFuture> connects = new ArrayList<>();
            for (int i = 0; i < specs.size(); i++) {
                LinkHandler h = new LinkHandler(specs.get(i), i == 0 ? target.path() : null, security.token());
                handlers.add(h);
                connects.add(connect(transport, group, specs.get(i), h, remote));
            }
            for (int i = 0; i < connects.size(); i++) {
                ChannelFuture f = connects.get(i).await();
                if (!f.isSuccess()) {
                    throw new DownloadException(ExitCodes.NETWORK, describe(specs.get(i)) + ": cannot connect to "
                            + target.host() + ":" + target.port() + ": " + rootMessage(f.cause()));
                }
                channels.add(f.channel());
            }
            trace("connected " + channels.size() + " link(s)");
            SessionOpened session = awaitOpen(handlers.get(0));
            trace("session opened: " + session.getFileSize() + " bytes, " + session.getPieceCount() + " pieces of "
                    + session.getPieceSize());
            PieceLayout layout = layoutOf(session);
            try {
                store = new PieceStore(request.output(), layout);
                PieceHashes first = session.getHashes();
                store.addHashes(first.getFirstIndex(), first.getDigests().toByteArray());
                if (!first.getRootHash().isEmpty()) {
                    store.setRoot(first.getRootHash().toByteArray(), first.getFileSha256().toByteArray());
                }
            } catch (IOException e) {
                throw new DownloadException(ExitCodes.LOCAL_IO, "cannot create " + request.output() + ".part: " + e.getMessage());
            }
            for (LinkHandler h : handlers) {
                h.attach(session, store);
            }
            awaitFinish(store, handlers);
            trace("all pieces verified");
            byte[] sha;
            try {
                sha = store.finish();
            } catch (PieceStore.IntegrityException e) {
                throw new DownloadException(ExitCodes.INTEGRITY, e.getMessage());
            } catch (IOException e) {
                throw new DownloadException(ExitCodes.LOCAL_IO, "cannot finish " + request.output() + ": " + e.getMessage());
            }
            trace("file verified and renamed");
            double seconds = (System.nanoTime() - start) / 1e9;
            for (Channel c : channels) {
                c.close().awaitUninterruptibly();
            }
            List<LinkStats> stats = handlers.stream().map(LinkHandler::stats).toList();
            return new DownloadResult(request.output(), layout.fileSize(), seconds, Digests.hex(sha),
                    store.rootHex(),
                    layout.pieceSize(), layout.pieceCount(), stats);
        } finally {
            for (Channel c : channels) {
                c.close();
            }
            if (store != null) {
                try {
                    store.close();
                } catch (IOException ignored) {
                    // the part file stays for a later resume
                }
            }
            // The channels are closed; the loops' threads wind down on their own (not awaited:
            // the user is waiting for the summary, not for threads to exit).
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
    }

    /**
     * Connects one link. The device binding is set on the registered channel before it binds,
     * and a failure to set it fails the link: it never silently goes out another interface.
     */
    private ChannelFuture connect(Transport transport, EventLoopGroup group, LinkSpec spec, LinkHandler handler,
                                  InetSocketAddress remote) {
        Bootstrap b = new Bootstrap()
                .group(group)
                .channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                // Up to 1 MiB per read on a fast link: fewer reads, and fewer positional writes.
                .option(ChannelOption.RCVBUF_ALLOCATOR, new AdaptiveRecvByteBufAllocator(4096, 65536, 1 << 20))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, request.connectTimeoutMillis())
                .handler(new ClientInitializer(handler, security.tls(), request.target().host(), remote.getPort()));
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
                    err.println("biternet-get: warning: " + spec.name()
                            + " is bound by address only (SO_BINDTODEVICE needs the epoll transport)");
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
                // With TLS a link counts as connected once the handshake has verified the server.
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

    private void trace(String event) {
        if (request.verbose()) {
            err.printf(java.util.Locale.ROOT, "biternet-get: %8.3f s %s%n", (System.nanoTime() - start) / 1e9, event);
            err.flush();
        }
    }

    private static ByteBuffer deviceName(String device) {
        byte[] name = device.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buf = ByteBuffer.allocateDirect(IFNAMSIZ);
        buf.put(name, 0, Math.min(name.length, IFNAMSIZ - 1));
        buf.position(0).limit(IFNAMSIZ);
        return buf;
    }

    private SessionOpened awaitOpen(LinkHandler opener) throws DownloadException, InterruptedException {
        try {
            return opener.opened().get(HANDSHAKE_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof LinkHandler.ServerError se) {
                throw new DownloadException(ExitCodes.SERVER_REFUSED, "server refused " + request.target().path()
                        + ": " + se.getMessage());
            }
            throw new DownloadException(ExitCodes.NETWORK, "opening the session failed: " + rootMessage(c));
        } catch (TimeoutException e) {
            throw new DownloadException(ExitCodes.NETWORK, "the server did not answer within " + HANDSHAKE_SECONDS + " s");
        }
    }

    private static PieceLayout layoutOf(SessionOpened s) throws DownloadException {
        try {
            if (s.getPieceSize() > Frames.MAX_PIECE_SIZE) {
                throw new IllegalArgumentException("piece size " + s.getPieceSize());
            }
            PieceLayout layout = new PieceLayout(s.getFileSize(), s.getPieceSize());
            if (layout.pieceCount() != s.getPieceCount()) {
                throw new IllegalArgumentException("piece count " + s.getPieceCount());
            }
            return layout;
        } catch (IllegalArgumentException e) {
            throw new DownloadException(ExitCodes.NETWORK, "the server sent an impossible file layout: " + e.getMessage());
        }
    }

    /** Waits until every piece is verified and the root is known, or every link has failed. */
    private void awaitFinish(PieceStore store, List<LinkHandler> handlers) throws DownloadException, InterruptedException {
        CompletableFuture<Void> finished = CompletableFuture.allOf(store.allVerified(), store.rootKnown());
        CompletableFuture<Void> allClosed = CompletableFuture.allOf(
                handlers.stream().map(LinkHandler::closed).toArray(CompletableFuture[]::new));
        int lastVerified = -1;
        long lastProgress = System.nanoTime();
        while (true) {
            try {
                CompletableFuture.anyOf(finished, allClosed).get(200, TimeUnit.MILLISECONDS);
                break;
            } catch (TimeoutException e) {
                int verified = store.verifiedCount();
                if (verified != lastVerified) {
                    lastVerified = verified;
                    lastProgress = System.nanoTime();
                }
                // Capped links may still be finishing pieces they started; only a download that
                // has stopped moving with every link capped (or lost) has run out of links.
                boolean stalled = System.nanoTime() - lastProgress > TimeUnit.SECONDS.toNanos(2);
                if (stalled && handlers.stream().allMatch(h -> h.capReached() || h.closed().isDone())
                        && handlers.stream().anyMatch(LinkHandler::capReached)) {
                    throw new DownloadException(ExitCodes.NETWORK, "every link reached its data cap (or was lost) before the"
                            + " download finished (" + store.verifiedCount() + " of " + store.layout().pieceCount()
                            + " pieces verified); raise a cap or add a link, then rerun");
                }
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            }
        }
        if (finished.isDone()) {
            return;
        }
        for (LinkHandler h : handlers) {
            if (h.failedLocally()) {
                throw new DownloadException(ExitCodes.LOCAL_IO, h.closed().join());
            }
        }
        StringBuilder why = new StringBuilder("every link was lost before the download finished (")
                .append(store.verifiedCount()).append(" of ").append(store.layout().pieceCount()).append(" pieces verified)");
        for (LinkHandler h : handlers) {
            why.append("; ").append(h.spec().name()).append(": ").append(h.closed().join());
        }
        throw new DownloadException(ExitCodes.NETWORK, why.toString());
    }

    private static String describe(LinkSpec spec) {
        return spec.localAddress() == null ? "link " + spec.name()
                : "--iface " + spec.name() + " (" + spec.addressText() + ")";
    }

    private static String rootMessage(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }
}
