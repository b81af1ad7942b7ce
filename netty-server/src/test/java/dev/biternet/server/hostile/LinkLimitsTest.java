package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.DigestRequest;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.LinkLimits;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.Piece;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * LinkLimits over a real socket against a real server: a raise lets exactly that much more
 * through, once however often it is repeated, and a lower total takes nothing back; a client
 * flooding odd values (totals past 2^63, rates of 1 and of 2^64 - 1, zeros) costs the server
 * only reading them, and a normal client is served meanwhile.
 */
@Timeout(60)
class LinkLimitsTest extends ServerBase {
    private static final int PIECE = 16 << 10;

    @TempDir
    Path root;

    private SessionOpened attach(WireClient c, String path, long cap, long capAdded) throws IOException {
        c.send(Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("limits"))
                .build());
        assertThat(c.expect(Envelope.BodyCase.WELCOME).getWelcome().getLinkLimits()).as("Welcome.link_limits").isTrue();
        c.send(Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath(path)).build());
        SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
        c.send(Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(opened.getSessionId())
                .setSecret(opened.getAttachSecret()).setWindow(16).setLinkName("limits").setFlowGroup(1).setCapBytes(cap)
                .setCapAdded(capAdded)).build());
        c.expect(Envelope.BodyCase.ATTACHED);
        return opened;
    }

    private static Envelope limits(long capAdded, long rate) {
        return Envelope.newBuilder().setLinkLimits(LinkLimits.newBuilder().setCapAdded(capAdded).setRateLimit(rate)).build();
    }

    /** Receives {@code n} whole pieces (skipping control frames), acking each. */
    private static void receive(WireClient c, int n) throws IOException {
        for (int got = 0; got < n; ) {
            if (c.read() instanceof Piece p && p.header().getOffset() + p.bytes().length == (p.header().getIndex() + 1L) * PIECE) {
                c.send(Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(p.header().getIndex()).setOk(true)).build());
                got++;
            }
        }
    }

    /** Nothing more came: after a pause, the answer to a DigestRequest is the next frame. */
    private static void nothingMore(WireClient c) throws Exception {
        Thread.sleep(300); // any piece let through would be written by now, before the answer
        c.send(Envelope.newBuilder().setDigestRequest(DigestRequest.newBuilder().setFirst(0).setCount(1)).build());
        c.expect(Envelope.BodyCase.PIECE_HASHES);
    }

    @Test
    void aRaiseLetsExactlyThatMuchMoreThroughOnceAndALowerTotalTakesNothingBack() throws Exception {
        TestFiles.write(root.resolve("f.bin"), 3, 16 * PIECE);
        start(root, PIECE, 1);
        try (WireClient c = new WireClient(server.address())) {
            attach(c, "f.bin", 4L * PIECE, 1000);
            receive(c, 4);
            nothingMore(c);

            c.send(limits(1000, 0)); // what the Attach already included
            c.send(limits(500, 0)); // a lower total
            nothingMore(c);

            c.send(limits(1000 + 3L * PIECE, 0));
            receive(c, 3);
            c.send(limits(1000 + 3L * PIECE, 0)); // repeated, as on another flow of the link
            nothingMore(c);

            c.send(limits(-1L, 0)); // 2^64 - 1: the cap saturates, it does not wrap to nothing
            receive(c, 9);
        }
    }

    @Test
    void aFloodOfOddLimitsCostsOnlyReadingThemAndANormalClientIsServed() throws Exception {
        int pieces = 512;
        byte[] data = TestFiles.write(root.resolve("d.bin"), 9, pieces * PIECE);
        start(root, PIECE, 1);
        try (WireClient flooder = new WireClient(server.address())) {
            attach(flooder, "d.bin", 2L * PIECE, 0);
            long[][] odd = {{-1L, -1L}, {0, 1}, {Long.MAX_VALUE, 0}, {1, Long.MIN_VALUE}, {-2L, 1}, {0, 0}};
            byte[] flood = Floods.batch(i -> {
                long[] v = odd[i % odd.length];
                return limits(v[0] + (i & 7), v[1]);
            });
            AtomicLong sent = new AtomicLong();
            long end = System.nanoTime() + 4_000_000_000L;
            Thread writer = Floods.flood("limits-flooder", flooder, flood, sent, () -> System.nanoTime() < end);
            assertThat(Floods.fetchAsNormalClient(server.address(), "d.bin")).isEqualTo(data);
            writer.join(10_000);
            assertThat(sent.get()).as("LinkLimits the server read").isGreaterThan(1L << 20);
        }
    }
}
