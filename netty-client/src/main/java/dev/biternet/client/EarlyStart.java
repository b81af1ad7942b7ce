package dev.biternet.client;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CompletableFuture;

/**
 * What a download needs before its first connect, done on a side thread while the main thread
 * is in picocli (building the command model and parsing takes it 60-80 ms): the transport
 * (loading its native library, ~30 ms) and the links' event loops, which {@link Download}
 * takes over; the protocol's descriptors and SHA-256 (first use). The summary's formatting is
 * warmed later, once the download is under way ({@link #warmSummary}). Class initialisation is
 * thread-safe: whichever thread gets there first does it, the other waits.
 *
 * <p>Measured on a 2-core machine, where the side thread competes with the main thread and
 * the JIT for the cores: Download's start to "all links connected" went from 35-50 ms to
 * 15-25 ms (lab, three links), but the whole process gained only a few ms (4 MiB over three
 * loopback links, medians of 15 interleaved runs), within the noise. A second side thread
 * (picocli's annotation proxies, the resume check's first lookup, a list of classes to
 * initialise) and a throwaway channel on the early event loops were tried and removed: with
 * them the same download's median was 5-14 ms lower in two series of 20-25 interleaved runs,
 * inside a quartile spread of +-25 ms, not worth their code.
 *
 * <p>The group is handed out as soon as it exists; the warm-ups follow on this thread. When
 * they came first, the main thread, done with picocli, waited 15-25 ms for them before its
 * first connect (timestamps in the client, lab, three links): the last link's first piece
 * header now comes 10 ms sooner (median 148.6 against 158.6 ms from {@code main}, quartiles
 * 144-154 against 155-165, 20 interleaved 4 MiB downloads each).
 */
final class EarlyStart {
    /** Options after which no download follows. */
    private static final java.util.Set<String> NO_DOWNLOAD = java.util.Set.of(
            "-h", "--help", "-V", "--version", "--doctor", "--list-ifaces");

    private static volatile CompletableFuture<EventLoopGroup> early;
    private static volatile int earlyLinks;
    private static volatile Transport earlyTransport;

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
            if (NO_DOWNLOAD.contains(a)) {
                // Nothing to download: the side thread would only compete with picocli for
                // the cores (--version took 0.17-0.21 s with it, 0.13-0.17 s without).
                return;
            }
        }
        int n = Math.max(1, links);
        CompletableFuture<EventLoopGroup> made = new CompletableFuture<>();
        Runnable task = () -> {
            try {
                Transport transport = Transport.best();
                earlyTransport = transport;
                made.complete(transport.newGroup(n));
            } catch (Throwable t) {
                made.completeExceptionally(t);
                return;
            }
            // The group is handed out now: Download connects while this thread goes on with
            // what the links need only later (their first frame, the first piece's hash).
            try {
                // The allocator the links' channels use (Netty 4.2's default, adaptive), so
                // its set-up is shared with them rather than a pool nobody else uses.
                dev.biternet.common.wire.Frames.control(io.netty.buffer.ByteBufAllocator.DEFAULT,
                        dev.biternet.proto.Envelope.newBuilder().setHello(dev.biternet.proto.Hello.newBuilder()
                                .setProtocolVersion(dev.biternet.common.wire.Frames.PROTOCOL_VERSION)).build()).release();
                dev.biternet.common.piece.Digests.sha256().digest(new byte[64]);
            } catch (Throwable e) {
                // only a head start: the links do the same work themselves, and report failures
            }
        };
        earlyLinks = n;
        early = made;
        Thread t = new Thread(task, "biternet-warmup");
        t.setDaemon(true);
        t.start();
    }

    /**
     * The summary is printed after the rename, while the user waits: its first use of Jackson
     * and of {@code String.format} (class loading, a regex) cost 10-20 ms there. Run once the
     * download is under way (it used to run on the side thread at start-up, where it competed
     * with picocli and the connects for the two cores: 1 MiB over three lab links took 14-23
     * ms longer, medians of two series of 25 interleaved runs).
     */
    static void warmSummary() {
        try {
            DownloadResult r = new DownloadResult(java.nio.file.Path.of("warm-up"), 0, 0, "", "", 0, 0,
                    java.util.List.of(new dev.biternet.client.link.LinkStats("l", "a", 0, 0, 0, 0, 0, 0, 0, "up", 0, 0, 0,
                            false, 0, 1)), 0, false);
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
        CompletableFuture<EventLoopGroup> made = early;
        early = null;
        if (made != null) {
            try {
                EventLoopGroup group = made.get();
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
