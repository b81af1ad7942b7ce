package dev.biternet.client;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * What a download needs before its first connect, done on two side threads while the main
 * thread is in picocli (building the command model and parsing takes it 60-80 ms): the
 * transport's native library, the event loops for the links and a throwaway channel; picocli's
 * annotation proxies, the protocol's descriptors, the resume check's first file lookup, the
 * summary's formatting; and the first use (class initialisation) of the pipeline and storage
 * classes. A download then connects on warm code and ready event loops. Class initialisation
 * is thread-safe: whichever thread gets there first does it, the other waits.
 *
 * <p>Measured on a 2-core machine, where the side threads compete with the main thread and the
 * JIT for the cores: Download's start to "all links connected" went from 35-50 ms to 15-25 ms
 * (lab, three links), but the whole process only gained about 6 ms (4 MiB over three
 * loopback links, medians of 15 interleaved runs: 0.277 s against 0.283 s), within the noise;
 * the first piece byte arrives about 0.19 s after JVM start either way. Kept because it takes
 * the work off the main thread's path, which pays where there are cores to spare; most of
 * what is left is JVM start (~0.06 s) and picocli's model (~0.06 s).
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

    /** Options after which no download follows. */
    private static final java.util.Set<String> NO_DOWNLOAD = java.util.Set.of(
            "-h", "--help", "-V", "--version", "--doctor", "--list-ifaces");

    private static volatile FutureTask<EventLoopGroup> early;
    private static volatile int earlyLinks;
    private static volatile Transport earlyTransport;

    private EarlyStart() {}

    /**
     * Starts the work on two daemon threads. {@code args} are only counted ({@code --iface}
     * occurrences size the event loop group); picocli alone interprets them.
     */
    static void begin(String[] args) {
        int links = 0;
        for (String a : args) {
            if (a.equals("--iface") || a.startsWith("--iface=")) {
                links++;
            }
            if (NO_DOWNLOAD.contains(a)) {
                // Nothing to download: the side threads would only compete with picocli for
                // the cores (--version took 0.17-0.21 s with them, 0.13-0.17 s without).
                return;
            }
        }
        int n = Math.max(1, links);
        // Thread 1, the network: the transport (its native library, ~30 ms), the event loops,
        // one throwaway channel so socket, pipeline and registration code run warm for the
        // links' connects. The download waits for this one (group()).
        FutureTask<EventLoopGroup> task = new FutureTask<>(() -> {
            Transport transport = Transport.best();
            earlyTransport = transport;
            EventLoopGroup group = transport.newGroup(n);
            try {
                io.netty.channel.Channel probe = new io.netty.bootstrap.Bootstrap().group(group)
                        .channel(transport.socketChannel()).handler(new io.netty.channel.ChannelInboundHandlerAdapter())
                        .register().syncUninterruptibly().channel();
                probe.close().syncUninterruptibly();
            } catch (RuntimeException e) {
                // only a head start; the group itself is fine or the links' connects will say why
            }
            dev.biternet.common.piece.Digests.sha256().digest(new byte[64]);
            initialise(CLASSES);
            return group;
        });
        earlyLinks = n;
        early = task;
        Thread network = new Thread(task, "biternet-warmup");
        network.setDaemon(true);
        network.start();
        // Thread 2, everything else, in the order the main thread will need it: picocli reads
        // the command's annotations by reflection (the first read of each annotation type
        // generates a proxy class, a few ms each); the protocol's descriptors (the first
        // protobuf message builds them all, ~10-15 ms); the first file lookup and
        // NoSuchFileException of the resume check; the summary printed after the rename.
        Thread rest = new Thread(() -> {
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
            try {
                dev.biternet.common.wire.Frames.control(io.netty.buffer.PooledByteBufAllocator.DEFAULT,
                        dev.biternet.proto.Envelope.newBuilder().setHello(dev.biternet.proto.Hello.newBuilder()
                                .setProtocolVersion(dev.biternet.common.wire.Frames.PROTOCOL_VERSION)).build()).release();
                dev.biternet.proto.OpenSession.newBuilder().setPath("warm-up").build().toByteArray();
                dev.biternet.client.store.ResumeLog.read(java.nio.file.Path.of("/nonexistent-biternet-warm-up/f"));
            } catch (java.io.IOException | RuntimeException | LinkageError e) {
                // only a head start
            }
            warmSummary();
        }, "biternet-warmup-2");
        rest.setDaemon(true);
        rest.start();
    }

    private static void initialise(String[] classes) {
        ClassLoader loader = EarlyStart.class.getClassLoader();
        for (String name : classes) {
            try {
                Class.forName(name, true, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                // only a head start; the download loads what it needs itself
            }
        }
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
                if (links == earlyLinks && transport == earlyTransport) {
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
