package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.integers;
import static org.quicktheories.generators.SourceDSL.longs;

import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PieceFillTest {
    /**
     * Any piece, any split, any chunks on either side, the tail in at any point of the head:
     * the tail's buffer ends up the piece's bytes, made whole exactly once, when the head reaches
     * the split; the holder's fill keeps its own bytes whole as well.
     */
    @Test
    void aSplitPieceIsWholeOnceTheHeadReachesTheTailAndItsBytesAreThePiece() {
        qt().withExamples(300).forAll(integers().between(2, 4096), integers().between(1, 4095), longs().all(),
                integers().between(0, 4096)).checkAssert((length, at, seed, joinAfter) -> {
                    int from = Math.min(at, length - 1);
                    byte[] piece = new byte[length];
                    Random r = new Random(seed);
                    r.nextBytes(piece);
                    AtomicInteger wholes = new AtomicInteger();
                    PieceFill head = new PieceFill(0, length, 0, ByteBuffer.allocate(length), null);
                    PieceFill tail = new PieceFill(0, length, from, ByteBuffer.allocate(length), wholes::incrementAndGet);
                    arrive(tail, from, length, piece, r);
                    PieceFill.Join joined = null;
                    int pos = 0;
                    while (pos < length) {
                        if (joined == null && pos >= Math.min(joinAfter, length)) {
                            joined = head.joinTail(tail);
                            if (joined == PieceFill.Join.WHOLE) {
                                tail.whenWhole.run();
                            }
                        }
                        int n = 1 + r.nextInt(Math.min(512, length - pos));
                        PieceFill whole = head.arrive(pos, Unpooled.wrappedBuffer(piece, pos, n));
                        if (whole != null) {
                            assertThat(whole).isSameAs(tail);
                            assertThat(pos + n).as("whole when the head reaches the tail").isGreaterThanOrEqualTo(from);
                            whole.whenWhole.run();
                        }
                        pos += n;
                    }
                    if (joined == null) {
                        joined = head.joinTail(tail);
                        if (joined == PieceFill.Join.WHOLE) {
                            tail.whenWhole.run();
                        }
                    }
                    assertThat(joined).isNotEqualTo(PieceFill.Join.GONE);
                    assertThat(wholes.get()).isEqualTo(1);
                    assertThat(tail.buffer.array()).isEqualTo(piece);
                    assertThat(head.buffer.array()).isEqualTo(piece);
                    assertThat(head.headGiven()).isEqualTo(from);
                    assertThat(head.close()).as("nothing left waiting").isNull();
                });
    }

    @Test
    void aTailWaitingOnAHeadWhoseRequestEndedIsHandedBackAndALateTailIsGone() {
        int length = 1000;
        PieceFill head = new PieceFill(3, length, 0, ByteBuffer.allocate(length), null);
        AtomicInteger wholes = new AtomicInteger();
        PieceFill tail = new PieceFill(3, length, 600, ByteBuffer.allocate(length), wholes::incrementAndGet);
        head.arrive(0, Unpooled.wrappedBuffer(new byte[100]));
        assertThat(head.joinTail(tail)).isEqualTo(PieceFill.Join.WAITING);
        assertThat(head.close()).as("the waiting tail, its buffer to recycle").isSameAs(tail);
        assertThat(wholes.get()).isZero();
        assertThat(head.headGiven()).isEqualTo(-1);

        PieceFill ended = new PieceFill(4, length, 0, ByteBuffer.allocate(length), null);
        ended.arrive(0, Unpooled.wrappedBuffer(new byte[length]));
        ended.close();
        PieceFill late = new PieceFill(4, length, 600, ByteBuffer.allocate(length), wholes::incrementAndGet);
        assertThat(ended.joinTail(late)).as("the holder's request ended: the tail is not needed").isEqualTo(PieceFill.Join.GONE);
        assertThat(Arrays.equals(late.buffer.array(), new byte[length])).isTrue();
    }

    private static void arrive(PieceFill f, int from, int to, byte[] piece, Random r) {
        for (int pos = from; pos < to; ) {
            int n = 1 + r.nextInt(Math.min(512, to - pos));
            assertThat(f.arrive(pos, Unpooled.wrappedBuffer(piece, pos, n))).isNull();
            pos += n;
        }
    }
}
