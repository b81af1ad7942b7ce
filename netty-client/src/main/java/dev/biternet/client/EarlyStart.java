package dev.biternet.client;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * What a download needs before its first connect, done on a second thread while the main thread
 * is in picocli (building the command model and parsing takes it 60-80 ms): the transport's
 * native library, the event loops for the links, and the first use (class initialisation) of
 * the protocol, buffer, hashing, pipeline and storage classes. A download then starts its
 * connects on warm classes and ready event loops instead of doing all of that on its critical
 * path. Class initialisation is thread-safe: whichever thread gets there first does it.
 */
final class EarlyStart {
    /** Classes whose initialisation a download's first milliseconds would otherwise wait for. */
    private static final String[] CLASSES = {
        "io.netty.bootstrap.Bootstrap",
        "io.netty.channel.AdaptiveRecvByteBufAllocator",
        "io.netty.channel.DefaultChannelPipeline",
        "io.netty.util.concurrent.DefaultPromise",
        "dev.biternet.client.Download",
        "dev.biternet.client.link.LinkResolver",
        "dev.biternet.client.link.LinkHandler",
        "dev.biternet.client.link.ClientInitializer",
        "dev.biternet.client.link.PieceHasher",
        "dev.biternet.common.wire.FrameDecoder",
        "dev.biternet.common.wire.EnvelopeEncoder",
        "dev.biternet.client.store.PieceStore",
        "dev.biternet.client.store.ResumeLog",
        "dev.biternet.proto.SessionOpened",
        "dev.biternet.proto.PieceHeader",
    };

    private static volatile FutureTask<EventLoopGroup> early;
    private static volatile int earlyLinks;

    private EarlyStart() {}

    /**
     * Starts the work on a daemon thread. {@code args} are only counted ({@code --iface}
     * occurrences size the event loop group); picocli alone interprets them.
     */
    static void begin(String[] args) {
        int links = 0;
        for (String a : args) {
            if (a.equals("--iface") || a.startsWith("--iface=")) {
                links++;
            }
        }
        int n = Math.max(1, links);
        FutureTask<EventLoopGroup> task = new FutureTask<>(() -> {
            Transport transport = Transport.best();
            EventLoopGroup group = transport.newGroup(n);
            dev.biternet.common.wire.Frames.control(io.netty.buffer.PooledByteBufAllocator.DEFAULT,
                    dev.biternet.proto.Envelope.newBuilder().setHello(dev.biternet.proto.Hello.newBuilder()
                            .setProtocolVersion(dev.biternet.common.wire.Frames.PROTOCOL_VERSION)).build()).release();
            dev.biternet.common.piece.Digests.sha256().digest(new byte[64]);
            ClassLoader loader = EarlyStart.class.getClassLoader();
            for (String name : CLASSES) {
                try {
                    Class.forName(name, true, loader);
                } catch (ClassNotFoundException | LinkageError e) {
                    // only a head start; the download loads what it needs itself
                }
            }
            return group;
        });
        earlyLinks = n;
        early = task;
        Thread t = new Thread(() -> {
            task.run();
            warmSummary();
        }, "biternet-warmup");
        t.setDaemon(true);
        t.start();
        // picocli reads the command's annotations by reflection; the first read of each
        // annotation type generates a proxy class (a few ms each). Reading them here, while the
        // main thread is still loading picocli, leaves picocli the cached instances.
        Thread annotations = new Thread(() -> {
            for (String name : new String[] {"dev.biternet.client.GetCommand", "picocli.CommandLine$AutoHelpMixin"}) {
                try {
                    Class<?> c = Class.forName(name, false, EarlyStart.class.getClassLoader());
                    c.getAnnotations();
                    for (java.lang.reflect.Field f : c.getDeclaredFields()) {
                        f.getAnnotations();
                    }
                } catch (ClassNotFoundException | LinkageError e) {
                    // only a head start
                }
            }
        }, "biternet-warmup-cli");
        annotations.setDaemon(true);
        annotations.start();
    }

    /**
     * The summary is printed after the rename, while the user waits: its first use of Jackson
     * and of {@code String.format} (class loading, a regex) cost 10-20 ms there. The
     * download's own start does not wait for this.
     */
    private static void warmSummary() {
        try {
            DownloadResult r = new DownloadResult(java.nio.file.Path.of("warm-up"), 0, 0, "", "", 0, 0,
                    java.util.List.of(new dev.biternet.client.link.LinkStats("l", "a", 0, 0, 0, 0, 0, 0, 0, "up", 0, 0, 0,
                            false)), 0, false);
            Summary.json(r);
            Summary.text(r);
        } catch (RuntimeException | LinkageError e) {
            // only a head start
        }
    }

    /**
     * The event loop group made ahead, if it was made for {@code links} links of
     * {@code transport}; otherwise (or when nothing was started: tests, benchmarks) a new one.
     * Either way the caller owns the group. Hands out the early group once.
     */
    static EventLoopGroup group(Transport transport, int links) throws InterruptedException {
        FutureTask<EventLoopGroup> task = early;
        early = null;
        if (task != null) {
            try {
                EventLoopGroup group = task.get();
                if (links == earlyLinks && transport == Transport.best()) {
                    return group;
                }
                group.shutdownGracefully(0, 0, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (ExecutionException e) {
                // the early start failed (no native transport after all): make the group here
            }
        }
        return transport.newGroup(links);
    }
}
