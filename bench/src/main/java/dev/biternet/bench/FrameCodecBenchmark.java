package dev.biternet.bench;

import dev.biternet.common.wire.FrameDecoder;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.PieceData;
import dev.biternet.proto.Ack;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Guards the per-frame cost of the wire codec ({@link Frames} and {@link FrameDecoder}):
 * encoding and decoding one control frame (an Ack, the most frequent one: one per piece) and
 * one piece header frame, against the cheapest thing a receiver can do with the 1 MiB piece
 * that follows a header, copying it once ({@link #pieceCopyBaseline}). Every piece costs one
 * header and one ack; as long as those stay a small fraction of one piece copy, framing is not
 * where throughput goes and the piece size can stay at 1 MiB.
 *
 * <p>{@link #decodePiece} feeds a header and its 1 MiB body the way a socket delivers them, in
 * 64 KiB reads, so it also measures the decoder's per-read cost of slicing bodies out (no body
 * byte is copied). Decoding runs through an {@link EmbeddedChannel}, whose own per-write
 * overhead is included: the numbers are an upper bound for the pipeline stage.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class FrameCodecBenchmark extends BenchBase {
    private static final int PIECE_SIZE = 1 << 20;
    private static final int READ_SIZE = 64 << 10;

    private final ByteBufAllocator alloc = PooledByteBufAllocator.DEFAULT;
    private EmbeddedChannel serverSide;
    private EmbeddedChannel clientSide;
    private ByteBuf controlFrame;
    /** A piece header frame followed by its 1 MiB body, as one piece looks on the wire. */
    private ByteBuf pieceOnWire;
    private int[] readOffsets;
    private ByteBuf copySource;
    private ByteBuf copyTarget;
    private int index;

    @Setup(Level.Trial)
    public void setUp() {
        serverSide = new EmbeddedChannel(FrameDecoder.forServer());
        clientSide = new EmbeddedChannel(FrameDecoder.forClient());
        controlFrame = Frames.control(alloc, ack(1234));

        byte[] body = new byte[PIECE_SIZE];
        ThreadLocalRandom.current().nextBytes(body);
        ByteBuf header = Frames.pieceHeader(alloc, pieceHeader(1234));
        pieceOnWire = alloc.directBuffer(header.readableBytes() + PIECE_SIZE);
        pieceOnWire.writeBytes(header).writeBytes(body);
        header.release();
        int reads = (pieceOnWire.readableBytes() + READ_SIZE - 1) / READ_SIZE;
        readOffsets = new int[reads + 1];
        for (int i = 0; i < reads; i++) {
            readOffsets[i] = i * READ_SIZE;
        }
        readOffsets[reads] = pieceOnWire.readableBytes();

        copySource = alloc.directBuffer(PIECE_SIZE).writeBytes(body);
        copyTarget = alloc.directBuffer(PIECE_SIZE);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        serverSide.finishAndReleaseAll();
        clientSide.finishAndReleaseAll();
        controlFrame.release();
        pieceOnWire.release();
        copySource.release();
        copyTarget.release();
    }

    /** Built per call, as the client builds one Ack per piece. */
    private static Envelope ack(int index) {
        return Envelope.newBuilder().setAck(Ack.newBuilder().setIndex(index).setOk(true)).build();
    }

    /** Built per call, as the server builds one header per piece. */
    private static PieceHeader pieceHeader(int index) {
        return PieceHeader.newBuilder().setIndex(index).setOffset((long) index * PIECE_SIZE).setLength(PIECE_SIZE).build();
    }

    @Benchmark
    public int encodeControl() {
        ByteBuf frame = Frames.control(alloc, ack(index++ & 0xffff));
        int n = frame.readableBytes();
        frame.release();
        return n;
    }

    @Benchmark
    public int encodePieceHeader() {
        ByteBuf frame = Frames.pieceHeader(alloc, pieceHeader(index++ & 0xffff));
        int n = frame.readableBytes();
        frame.release();
        return n;
    }

    /** The server decoding one Ack. */
    @Benchmark
    public Object decodeControl() {
        serverSide.writeInbound(controlFrame.retainedDuplicate());
        return serverSide.readInbound();
    }

    /** The client decoding one piece frame and its body, arriving in 64 KiB reads. */
    @Benchmark
    public void decodePiece(Blackhole bh) {
        for (int i = 0; i + 1 < readOffsets.length; i++) {
            int from = readOffsets[i];
            clientSide.writeInbound(pieceOnWire.retainedSlice(from, readOffsets[i + 1] - from));
            Object msg;
            while ((msg = clientSide.readInbound()) != null) {
                if (msg instanceof PieceData data) {
                    bh.consume(data.content().readableBytes());
                } else {
                    bh.consume(msg);
                }
                ReferenceCountUtil.release(msg);
            }
        }
    }

    /** Baseline: one copy of a 1 MiB piece between direct buffers. */
    @Benchmark
    public ByteBuf pieceCopyBaseline() {
        copyTarget.clear();
        return copyTarget.writeBytes(copySource, 0, PIECE_SIZE);
    }
}
