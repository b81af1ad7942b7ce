package dev.biternet.server.hostile;

import dev.biternet.proto.Envelope;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

/**
 * What the flood tests send and how: a batch of control frames, a writer thread that sends one
 * batch again and again, and the normal client that must be served meanwhile.
 */
final class Floods {
    private Floods() {}

    /** The frames of {@code envelope(0)}, {@code envelope(1)}, ... one after another, 64 KiB or a little more. */
    static byte[] batch(IntFunction<Envelope> envelope) throws IOException {
        ByteArrayOutputStream batch = new ByteArrayOutputStream();
        for (int i = 0; batch.size() < 64 << 10; i++) {
            batch.write(WireClient.frame(envelope.apply(i)));
        }
        return batch.toByteArray();
    }

    /**
     * Starts a daemon thread that sends {@code batch} to {@code peer} again and again while
     * {@code more} says so, adding each batch to {@code sent}; it ends quietly once the connection
     * is closed (by the server or at the end of the test).
     */
    static Thread flood(String name, WireClient peer, byte[] batch, AtomicLong sent, BooleanSupplier more) {
        Thread writer = new Thread(() -> {
            try {
                while (more.getAsBoolean()) {
                    peer.sendRaw(batch);
                    sent.addAndGet(batch.length);
                }
            } catch (IOException closed) {
                // closed by the server or at the end of the test
            }
        }, name);
        writer.setDaemon(true);
        writer.start();
        return writer;
    }

    /** What a client that reads its answers fetches of {@code path} from {@code server}, 8 pieces in flight. */
    static byte[] fetchAsNormalClient(InetSocketAddress server, String path) throws IOException {
        try (WireClient normal = new WireClient(server)) {
            normal.hello();
            normal.open(path);
            return normal.fetchAll(normal.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened(), 8);
        }
    }
}
