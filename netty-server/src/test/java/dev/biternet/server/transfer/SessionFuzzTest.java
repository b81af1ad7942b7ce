package dev.biternet.server.transfer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Credit;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.transfer.ServerHarness.Conn;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the server's session state machine through its real pipeline: random sequences of
 * messages, valid and not, in any order and state (Hello with any version, opens of good and
 * hostile paths, attaches to real and made-up sessions, credits and acks for any piece), mixed
 * with garbage frames: connections of up to 80 inputs each (until the server closes one),
 * until at least 100,000 inputs have gone in (asserted). Whatever comes in, the server answers only with well-formed frames,
 * every Error has a known code and a one-line reason, nothing escapes the pipeline as an
 * exception, and nothing leaks (the leak-detection extension fails the test otherwise).
 */
class SessionFuzzTest {
    private static final int CONNECTIONS = 30_000;
    private static final int INPUTS = 80;
    private static final int MIN_INPUTS_PER_RUN = 100_000;
    private long inputs;
    private static final String[] PATHS = {"data.bin", "../data.bin", "/etc/passwd", "missing", "", "a\nb", "dir/../data.bin"};

    @TempDir
    Path dir;
    private ServerHarness server;

    @BeforeEach
    void setUp() throws Exception {
        server = new ServerHarness(dir);
        server.file("data.bin", 10 * ServerHarness.PIECE + 7);
    }

    @AfterEach
    void tearDown() {
        server.close();
    }

    @Test
    void anySequenceOfInputsGetsWellFormedAnswersAndNoEscapedErrors() {
        qt().withExamples(CONNECTIONS).forAll(org.quicktheories.generators.SourceDSL.longs().all())
                .checkAssert(seed -> {
                    if (inputs >= MIN_INPUTS_PER_RUN) {
                        return;
                    }
                    try {
                        oneConnection(new SplittableRandom(seed));
                    } catch (Exception e) {
                        throw new AssertionError("seed " + seed + ": " + e, e);
                    }
                });
        assertThat(inputs).as("inputs fed in this run").isGreaterThanOrEqualTo(MIN_INPUTS_PER_RUN);
    }

    private void oneConnection(SplittableRandom rnd) throws Exception {
        Conn c = server.connect();
        List<SessionOpened> sessions = new ArrayList<>();
        boolean helloed = false;
        boolean attached = false;
        try {
            for (int i = 0; i < INPUTS && c.ch.isOpen(); i++) {
                inputs++;
                int roll = rnd.nextInt(100);
                if (roll < 2) {
                    byte[] garbage = new byte[rnd.nextInt(1, 40)];
                    rnd.nextBytes(garbage);
                    c.ch.writeInbound(Unpooled.wrappedBuffer(garbage));
                } else {
                    Envelope m;
                    if (roll < 8) {
                        m = message(rnd.nextInt(1, 10), rnd, sessions); // anything, in any state
                    } else if (!helloed) {
                        m = hello(Frames.PROTOCOL_VERSION);
                    } else if (!attached && sessions.isEmpty()) {
                        m = Envelope.newBuilder().setOpenSession(OpenSession.newBuilder().setPath("data.bin")).build();
                    } else if (!attached) {
                        m = message(5, rnd, sessions);
                    } else {
                        m = message(7 + rnd.nextInt(3), rnd, sessions); // credits and acks
                    }
                    helloed |= m.hasHello() && m.getHello().getProtocolVersion() == Frames.PROTOCOL_VERSION;
                    c.ch.writeInbound(Frames.control(ByteBufAllocator.DEFAULT, m));
                }
                c.ch.runPendingTasks();
                c.ch.checkException();
                for (Envelope e : c.drain()) {
                    if (e.hasSessionOpened()) {
                        sessions.add(e.getSessionOpened());
                    }
                    attached |= e.hasAttached();
                    if (e.hasError()) {
                        assertThat(e.getError().getCode()).isNotEqualTo(dev.biternet.proto.Error.Code.UNRECOGNIZED);
                        assertThat(e.getError().getMessage()).isNotBlank().doesNotContain("\n");
                    }
                }
            }
        } finally {
            c.ch.close();
            c.ch.finishAndReleaseAll();
        }
    }

    private static Envelope hello(int version) {
        return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(version)).build();
    }

    private static Envelope message(int kind, SplittableRandom rnd, List<SessionOpened> sessions) {
        return switch (kind) {
            case 1, 2 -> hello(rnd.nextInt(4) == 0 ? rnd.nextInt() : Frames.PROTOCOL_VERSION);
            case 3, 4 -> Envelope.newBuilder().setOpenSession(OpenSession.newBuilder()
                    .setPath(PATHS[rnd.nextInt(PATHS.length)])).build();
            case 5, 6 -> {
                SessionOpened known = !sessions.isEmpty() && rnd.nextInt(8) != 0
                        ? sessions.get(rnd.nextInt(sessions.size())) : null;
                ByteString id = known != null ? known.getSessionId() : ByteString.copyFrom(randomBytes(rnd, rnd.nextInt(0, 20)));
                ByteString secret = known != null && rnd.nextInt(8) != 0 ? known.getAttachSecret()
                        : ByteString.copyFrom(randomBytes(rnd, rnd.nextInt(0, 20)));
                yield Envelope.newBuilder().setAttach(Attach.newBuilder().setSessionId(id).setSecret(secret)
                        .setWindow(rnd.nextInt(-2, 2000)).setCapBytes(rnd.nextInt(4) == 0 ? rnd.nextLong(0, 1 << 20) : 0)
                        .setRateLimit(rnd.nextInt(8) == 0 ? rnd.nextLong(1, 1 << 30) : 0)).build();
            }
            case 7 -> Envelope.newBuilder().setCredit(Credit.newBuilder().setWindow(rnd.nextInt())).build();
            default -> Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(rnd.nextInt(-1, 20))
                    .setOk(rnd.nextBoolean())).build();
        };
    }

    private static byte[] randomBytes(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }
}
