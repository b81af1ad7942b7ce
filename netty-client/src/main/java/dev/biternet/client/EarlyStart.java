package dev.biternet.client;

import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CompletableFuture;

/**
 * What a download needs before its first connect, done on a side thread while the main thread
 * reads the command line: the transport (loading its native library) and the links' event
 * loops, which {@link Download} takes over; then the protocol's descriptors and SHA-256 (first
 * use). The group is handed out as soon as it exists, the warm-ups follow. The summary's
 * formatting is warmed later, once the download is under way ({@link #warmSummary}). Class
 * initialisation is thread-safe: whichever thread gets there first does it, the other waits.
 * What each of these gained, and what was tried and removed: docs/DESIGN.md, "Start-up: the
 * command line and the early start".
 */
final class EarlyStart {
    private static volatile CompletableFuture<EventLoopGroup> early;
    private static volatile int earlyLinks;
    private static volatile Transport earlyTransport;

    private EarlyStart() {}

    /**
     * Starts the work on a daemon thread, unless {@code args} ask for no download. They are
     * only looked at: {@code --iface} occurrences size the event loop group.
     */
    static void begin(String[] args) {
        int links = 0;
        for (String a : args) {
            if (a.equals(GetCommand.IFACE) || a.startsWith(GetCommand.IFACE + "=")) {
                links++;
            }
            if (QuickArgs.noDownload(a)) {
                return; // the side thread would only compete with picocli for the cores
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
                                .setProtocolVersion(dev.biternet.common.wire.Frames.OLDEST_PROTOCOL_VERSION)).build()).release();
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
     * The summary is printed after the rename, while the user waits: this makes the first use
     * of Jackson and of {@code String.format} earlier, once the download is under way, where it
     * does not compete with connecting for the cores.
     */
    static void warmSummary() {
        try {
            DownloadResult r = new DownloadResult(java.nio.file.Path.of("warm-up"), 0, 0, "", "", 0, 0,
                    java.util.List.of(new dev.biternet.client.link.LinkStats("l", "a", 0, 0, 0, 0, 0, 0, 0, "up",
                            dev.biternet.client.link.LinkOptions.NONE, 0, false, 0, 1)), 0, false);
            Summary.json(r);
            Summary.text(r, dev.biternet.common.cli.Sizes.SI);
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
