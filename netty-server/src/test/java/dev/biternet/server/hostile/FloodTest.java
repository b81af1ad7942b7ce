package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.server.BiternetServer;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.Limits;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that floods the server with requests and never reads an answer (a small receive
 * buffer, no read at all), over a real socket against a real server: the server stops reading
 * it, closes it within a bound (the idle timeout and the bounded "Error, then close"), its
 * buffers stay bounded meanwhile, and a normal client is served all along.
 */
@Timeout(30)
class FloodTest extends ServerBase {
    private static final int PIECE = 16 << 10;
    /** What the flooder sends at most: enough answers to be far beyond any bound if all were queued. */
    private static final long FLOOD_BYTES = 96L << 20;

    @TempDir
    Path root;

    private static long allocated() {
        ByteBufAllocatorMetric m = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        return m.usedDirectMemory() + m.usedHeapMemory();
    }

    @Test
    void aPeerThatFloodsAndNeverReadsIsClosedWithinABoundAndCostsBoundedMemory() throws Exception {
        byte[] data = TestFiles.write(root.resolve("f.bin"), 7, 6 * PIECE);
        int idleSeconds = 2;
        server = BiternetServer.start(new BiternetServer.Config(root, "127.0.0.1", 0, PIECE, 1, 1, 60)
                .withAccess(Access.DEFAULT.withLimits(new Limits(64, 256, 5, idleSeconds))));
        long before = allocated();

        Socket flooder = new Socket();
        flooder.setReceiveBufferSize(4096); // before connecting: the window it offers stays small
        flooder.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.7"), 0));
        flooder.connect(server.address(), 5_000);
        Envelope request = Envelope.newBuilder().setOpenSession(OpenSession.newBuilder()
                .setPath("no-such-file-" + "n".repeat(100))).build();
        byte[] requests = Floods.batch(i -> request);
        AtomicLong sent = new AtomicLong();
        Thread writer = new Thread(() -> {
            try {
                OutputStream out = flooder.getOutputStream();
                out.write(WireClient.frame(Envelope.newBuilder().setHello(Hello.newBuilder()
                        .setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("flooder")).build()));
                while (sent.get() < FLOOD_BYTES) {
                    out.write(requests);
                    sent.addAndGet(requests.length);
                }
            } catch (IOException e) {
                // the server closed it: the flood ends
            }
        }, "flooder");
        writer.setDaemon(true);
        writer.start();
        try {
            long peak = 0;
            // Served meanwhile: a client that reads its answers.
            assertThat(Floods.fetchAsNormalClient(server.address(), "f.bin")).isEqualTo(data);
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (BoundsTest.meter(server, "biternet_channels_open") > 0 && System.nanoTime() < deadline) {
                peak = Math.max(peak, allocated() - before);
                Thread.sleep(10);
            }
            assertThat(BoundsTest.meter(server, "biternet_channels_open"))
                    .as("connections open 20 s after the flood began (idle timeout %d s); flooder sent %d bytes",
                            idleSeconds, sent.get()).isZero();
            assertThat(peak).as("server buffers held for the flood (bytes)").isLessThan(24L << 20);
            assertThat(sent.get()).as("requests the server read before it stopped reading").isLessThan(FLOOD_BYTES);
            // The flooder sees the server's end: end of stream or a reset, after at most the
            // Error the server wrote. Not its blocked write: with the server's window shut for
            // seconds, the flooder's zero-window probes back off, and its write learned of the
            // close only at the next probe (over 15 s once in CI under load).
            flooder.setSoTimeout(15_000);
            assertThat(endOfStream(flooder)).as("the flooder reads the server's end of the connection").isTrue();
        } finally {
            flooder.close();
            writer.join(5_000);
        }
    }

    /** True once {@code s} reads end of stream or is reset, within 1 MiB of what is left to read. */
    private static boolean endOfStream(Socket s) throws IOException {
        byte[] buf = new byte[8192];
        try {
            java.io.InputStream in = s.getInputStream();
            for (long read = 0; read < (1 << 20); ) {
                int n = in.read(buf);
                if (n < 0) {
                    return true;
                }
                read += n;
            }
            return false;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset by the server
        }
    }

    /**
     * Protocol 2's DigestRequest asked again and again on an attached channel by a peer that
     * reads nothing: each asks for every digest of a 2,048-piece file (a 64 KiB answer). The
     * server stops reading it (and answers none past 16 MiB unread), its buffers stay bounded and
     * another client is served. Without the bound the event loop answered the flood (gigabytes
     * of answers for the requests one 64 KiB write carries) and the other client timed out.
     */
    @Test
    void anAttachedPeerAskingForDigestsWithoutReadingIsStoppedAndCostsBoundedMemory() throws Exception {
        int pieces = 2048;
        TestFiles.write(root.resolve("d.bin"), 9, pieces * PIECE);
        start(root, PIECE, 1);
        long before = allocated();
        try (WireClient c = new WireClient(server.address())) {
            c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(2).setAgent("flooder")).build());
            c.expect(Envelope.BodyCase.WELCOME);
            c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("d.bin").setClientClaims(true)).build());
            dev.biternet.proto.SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            c.send(Envelope.newBuilder().setAttach(dev.biternet.proto.Attach.newBuilder().setSessionId(opened.getSessionId())
                    .setSecret(opened.getAttachSecret()).setWindow(2).setLinkName("flood")).build());
            Envelope ask = Envelope.newBuilder().setDigestRequest(dev.biternet.proto.DigestRequest.newBuilder()
                    .setFirst(0).setCount(pieces)).build();
            byte[] requests = Floods.batch(i -> ask);
            AtomicLong sent = new AtomicLong();
            Thread writer = Floods.flood("digest-flooder", c, requests, sent, () -> sent.get() < FLOOD_BYTES);
            long peak = 0;
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (System.nanoTime() < deadline) {
                peak = Math.max(peak, allocated() - before);
                Thread.sleep(10);
            }
            // Served meanwhile: a client that reads its answers.
            assertThat(Floods.fetchAsNormalClient(server.address(), "d.bin")).hasSize(pieces * PIECE);
            assertThat(peak).as("server buffers held for the flood (bytes)").isLessThan(48L << 20);
            assertThat(sent.get()).as("requests the server read before it stopped reading").isLessThan(FLOOD_BYTES);
        }
    }
}
