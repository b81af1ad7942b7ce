package dev.biternet.common.wire;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Drives a {@link FrameDecoder} in an {@link EmbeddedChannel}: feeds chunks, copies every
 * {@link PieceData} out and releases it at once, and keeps what came out in order.
 */
final class DecoderHarness implements AutoCloseable {
    /** One {@link PieceData} as it came out of the decoder. */
    record Run(ByteString bytes, boolean last) {}

    /** A whole piece body: the runs after one header, joined. */
    record Body(ByteString bytes) {}

    private final EmbeddedChannel channel;
    private final List<Object> events = new ArrayList<>();

    DecoderHarness(FrameDecoder decoder) {
        channel = new EmbeddedChannel(decoder);
    }

    /** Writes {@code bytes[from, to)} as one read; returns what the pipeline raised, or null. */
    Throwable feed(byte[] bytes, int from, int to) {
        ByteBuf buf = channel.alloc().buffer(Math.max(1, to - from));
        buf.writeBytes(bytes, from, to - from);
        Throwable thrown = null;
        try {
            channel.writeInbound(buf);
        } catch (Throwable t) {
            thrown = t;
        }
        drain();
        return thrown;
    }

    Throwable feed(byte[] bytes) {
        return feed(bytes, 0, bytes.length);
    }

    /** Feeds {@code bytes} cut at {@code cuts} (sorted positions); fails on the first exception. */
    void feedAll(byte[] bytes, int[] cuts) {
        int from = 0;
        for (int cut : cuts) {
            assertThat(feed(bytes, from, cut)).as("exception after %d bytes", cut).isNull();
            from = cut;
        }
        assertThat(feed(bytes, from, bytes.length)).as("exception at the end").isNull();
    }

    /** Everything decoded so far: Envelopes, PieceHeaders and Runs, in order. */
    List<Object> events() {
        return events;
    }

    private void drain() {
        for (Object msg; (msg = channel.readInbound()) != null; ) {
            if (msg instanceof PieceData data) {
                try {
                    events.add(new Run(ByteString.copyFrom(data.content().nioBuffer()), data.isLast()));
                } finally {
                    data.release();
                }
            } else {
                events.add(msg);
            }
        }
    }

    /**
     * Joins each header's runs into one {@link Body}, checking that runs only follow a header,
     * that only the final run is marked last and that nothing interrupts a body.
     *
     * @param complete whether every announced body must have ended
     */
    static List<Object> assemble(List<Object> events, boolean complete) {
        List<Object> out = new ArrayList<>();
        ByteString body = null;
        long announced = 0;
        for (Object event : events) {
            if (event instanceof Run run) {
                assertThat(body).as("piece data without a header before it").isNotNull();
                body = body.concat(run.bytes());
                assertThat((long) body.size()).as("piece data beyond the announced length").isLessThanOrEqualTo(announced);
                if (run.last()) {
                    assertThat((long) body.size()).as("last run ends the piece early").isEqualTo(announced);
                    out.add(new Body(body));
                    body = null;
                }
            } else {
                assertThat(body).as("%s arrived inside a piece body", event.getClass().getSimpleName()).isNull();
                assertThat(event).isInstanceOfAny(Envelope.class, PieceHeader.class);
                out.add(event);
                if (event instanceof PieceHeader header) {
                    body = ByteString.EMPTY;
                    announced = Integer.toUnsignedLong(header.getLength());
                }
            }
        }
        if (complete) {
            assertThat(body).as("a piece body did not end").isNull();
        }
        return out;
    }

    /** Closes the channel (the decoder sees channelInactive); returns what that raised, or null. */
    Throwable finish() {
        Throwable thrown = null;
        try {
            channel.finish();
        } catch (Throwable t) {
            thrown = t;
        }
        drain();
        return thrown;
    }

    /** Closes the channel if still open, releases everything, and fails if closing raised. */
    @Override
    public void close() {
        Throwable thrown = finish();
        channel.finishAndReleaseAll();
        if (thrown != null) {
            throw new AssertionError("the decoder raised on close", thrown);
        }
    }

    // ---- encoding helpers ----

    static byte[] control(Envelope envelope) {
        ByteBuf buf = Frames.control(UnpooledByteBufAllocator.DEFAULT, envelope);
        try {
            return ByteBufUtil.getBytes(buf);
        } finally {
            buf.release();
        }
    }

    static byte[] piece(PieceHeader header, byte[] body) {
        ByteBuf buf = Frames.pieceHeader(UnpooledByteBufAllocator.DEFAULT, header);
        try {
            return concat(ByteBufUtil.getBytes(buf), body);
        } finally {
            buf.release();
        }
    }

    /** A frame with any length field and type, followed by {@code payload}. */
    static byte[] raw(long length, int type, byte... payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write((int) (length >>> 24));
        out.write((int) (length >>> 16));
        out.write((int) (length >>> 8));
        out.write((int) length);
        out.write(type);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
