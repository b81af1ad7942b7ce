package dev.biternet.client.http;

import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What the channel tests share: a random file served by a real nginx, a store of 256 KiB pieces
 * and a scheduler for it, and the event loops, workers and timer of a download. Closing it
 * stops every channel made with it, then the rest.
 */
final class MirrorRig implements AutoCloseable {
    final byte[] file;
    final Nginx nginx;
    final PieceLayout layout;
    final PieceStore store;
    final PieceScheduler scheduler;
    final HttpDialer dialer;
    final ExecutorService workers = Executors.newFixedThreadPool(2);
    final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    final List<MirrorChannel> channels = new CopyOnWriteArrayList<>();
    private final EventLoopGroup group;
    private final Path out;
    private boolean storeClosed;

    /**
     * @param nginxLocations extra nginx lines (a {@code limit_rate}, say)
     * @param stallSeconds a request with no byte for this long loses its connection
     */
    MirrorRig(Path dir, int size, long seed, String nginxLocations, int stallSeconds) throws Exception {
        file = new byte[size];
        new Random(seed).nextBytes(file);
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.write(root.resolve("f.bin"), file);
        Transport t = Transport.best();
        group = t.newGroup(2);
        nginx = Nginx.start(root, dir.resolve("nginx"), nginxLocations);
        dialer = new HttpDialer(t, group, null, 2000, stallSeconds, w -> { });
        layout = new PieceLayout(file.length, 256 * 1024);
        out = dir.resolve("out.bin");
        store = new PieceStore(out, layout, true);
        scheduler = new PieceScheduler(layout.pieceCount(), new BitSet());
    }

    /** The served file's URL on this nginx, as a mirror of its size; {@code name} other than f.bin is missing. */
    Mirror mirror(String name) {
        return new Mirror(MirrorUrl.parse(nginx.url(name)), file.length, Validators.NONE);
    }

    static LinkSpec link(String address) throws IOException {
        return new LinkSpec(address, InetAddress.getByName(address), null);
    }

    /** A channel of {@code link} to {@code mirror}, kept to be stopped on close. */
    MirrorChannel channel(LinkSpec link, Mirror mirror, MirrorChannel.Events events) {
        MirrorChannel c = new MirrorChannel(new MirrorConnection(dialer, link, mirror.url()), mirror, scheduler, store,
                workers, timer, events);
        channels.add(c);
        return c;
    }

    /** Waits for every piece, finishes the store against the file's SHA-256, and reads the output back. */
    byte[] finish() throws Exception {
        store.allVerified().get(60, TimeUnit.SECONDS);
        byte[] sha = Digests.sha256().digest(file);
        if (!java.util.Arrays.equals(store.finishUnhashed(sha), sha)) {
            throw new AssertionError("the store's SHA-256 is not the file's");
        }
        closeStore();
        return Files.readAllBytes(out);
    }

    private void closeStore() throws IOException {
        if (!storeClosed) {
            storeClosed = true;
            store.close();
        }
    }

    @Override
    public void close() throws Exception {
        channels.forEach(MirrorChannel::stop);
        closeStore();
        nginx.close();
        workers.shutdownNow();
        timer.shutdownNow();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
}
