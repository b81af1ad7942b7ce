package dev.biternet.common.transport;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The socket transport: native epoll where it loads (sendfile straight from the fd, device
 * binding, TCP_NOTSENT_LOWAT), NIO otherwise. {@code -Dbiternet.transport=nio|epoll|io_uring}
 * forces one (io_uring is there to be measured against epoll; see bench/).
 */
public enum Transport {
    EPOLL(EpollIoHandler::newFactory, EpollSocketChannel.class, EpollServerSocketChannel.class),
    IO_URING(IoUringIoHandler::newFactory, IoUringSocketChannel.class, IoUringServerSocketChannel.class),
    NIO(NioIoHandler::newFactory, NioSocketChannel.class, NioServerSocketChannel.class);

    private final Supplier<IoHandlerFactory> ioHandlers;
    private final Class<? extends Channel> socketChannel;
    private final Class<? extends ServerChannel> serverChannel;

    Transport(Supplier<IoHandlerFactory> ioHandlers, Class<? extends Channel> socketChannel,
              Class<? extends ServerChannel> serverChannel) {
        this.ioHandlers = ioHandlers;
        this.socketChannel = socketChannel;
        this.serverChannel = serverChannel;
    }

    public static Transport best() {
        String forced = System.getProperty("biternet.transport", "").toUpperCase(Locale.ROOT);
        if (!forced.isEmpty()) {
            return valueOf(forced);
        }
        return Epoll.isAvailable() ? EPOLL : NIO;
    }

    public EventLoopGroup newGroup(int threads) {
        return new MultiThreadIoEventLoopGroup(threads, ioHandlers.get());
    }

    public Class<? extends Channel> socketChannel() {
        return socketChannel;
    }

    public Class<? extends ServerChannel> serverChannel() {
        return serverChannel;
    }
}
