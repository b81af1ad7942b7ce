package dev.biternet.common.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.quicktheories.QuickTheory.qt;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class EnvelopeEncoderTest {

    @Test
    void envelopeBecomesLengthTypeAndMessageBytes() {
        Envelope hello = Envelope.newBuilder()
                .setHello(Hello.newBuilder().setProtocolVersion(Frames.PROTOCOL_VERSION).setAgent("biternet/0.1"))
                .build();
        byte[] message = hello.toByteArray();

        assertThat(encode(hello)).isEqualTo(ByteBuffer.allocate(Frames.HEADER_BYTES + message.length)
                .putInt(1 + message.length)
                .put(Frames.TYPE_CONTROL)
                .put(message)
                .array());
    }

    @Test
    void anyEnvelopeIsFramedExactly() {
        qt().withExamples(300).forAll(FrameDecoderTest.envelopes()).checkAssert(envelope -> {
            byte[] message = envelope.toByteArray();
            byte[] wire = encode(envelope);
            assertThat(wire).hasSize(Frames.HEADER_BYTES + message.length);
            assertThat(ByteBuffer.wrap(wire).getInt()).isEqualTo(1 + message.length);
            assertThat(wire[4]).isEqualTo(Frames.TYPE_CONTROL);
            assertThat(Arrays.copyOfRange(wire, Frames.HEADER_BYTES, wire.length)).isEqualTo(message);
        });
    }

    @Test
    void encodedEnvelopeDecodesBackToItself() {
        Envelope error = Frames.error(Error.Code.NOT_FOUND, "no such file: a/b.iso");
        try (DecoderHarness h = new DecoderHarness(FrameDecoder.forClient())) {
            assertThat(h.feed(encode(error))).isNull();
            assertThat(h.events()).containsExactly(error);
        }
    }

    @Test
    void byteBufPassesThroughUntouched() {
        EmbeddedChannel channel = new EmbeddedChannel(EnvelopeEncoder.INSTANCE);
        ByteBuf raw = Unpooled.copiedBuffer("raw piece bytes", StandardCharsets.US_ASCII);
        try {
            assertThat(channel.writeOutbound(raw)).isTrue();
            ByteBuf out = channel.readOutbound();
            assertThat(out).isSameAs(raw);
            assertThat(out.refCnt()).isEqualTo(1);
            assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("raw piece bytes");
        } finally {
            raw.release();
            assertThat(channel.finishAndReleaseAll()).isFalse();
        }
    }

    @Test
    void otherMessagesPassThroughUntouched() {
        EmbeddedChannel channel = new EmbeddedChannel(EnvelopeEncoder.INSTANCE);
        PieceHeader header = PieceHeader.newBuilder().setIndex(1).setLength(10).build();
        assertThat(channel.writeOutbound(header)).isTrue();
        Object out = channel.readOutbound();
        assertThat(out).isSameAs(header);
        assertThat(channel.finishAndReleaseAll()).isFalse();
    }

    @Test
    void envelopeTooLargeForAFrameFailsTheWrite() {
        Envelope tooLarge = FrameDecoderTest.envelopeOfSerializedSize(Frames.MAX_FRAME_LENGTH);
        EmbeddedChannel channel = new EmbeddedChannel(EnvelopeEncoder.INSTANCE);
        assertThatThrownBy(() -> channel.writeOutbound(tooLarge))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("frame of 1048577 bytes exceeds 1048576");
        assertThat(channel.finishAndReleaseAll()).isFalse();
    }

    @Test
    void framesRejectsOversizeMessagesBeforeAllocating() {
        Envelope tooLarge = FrameDecoderTest.envelopeOfSerializedSize(Frames.MAX_FRAME_LENGTH);
        assertThatThrownBy(() -> Frames.control(UnpooledByteBufAllocator.DEFAULT, tooLarge))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exceeds " + Frames.MAX_FRAME_LENGTH);
    }

    @Test
    void pieceHeaderFrameHasThePieceType() {
        PieceHeader header = PieceHeader.newBuilder().setIndex(5).setOffset(5L << 20).setLength(1 << 20).build();
        ByteBuf buf = Frames.pieceHeader(UnpooledByteBufAllocator.DEFAULT, header);
        try {
            byte[] message = header.toByteArray();
            assertThat(ByteBufUtil.getBytes(buf)).isEqualTo(ByteBuffer.allocate(Frames.HEADER_BYTES + message.length)
                    .putInt(1 + message.length)
                    .put(Frames.TYPE_PIECE)
                    .put(message)
                    .array());
        } finally {
            buf.release();
        }
    }

    private static byte[] encode(Envelope envelope) {
        EmbeddedChannel channel = new EmbeddedChannel(EnvelopeEncoder.INSTANCE);
        assertThat(channel.writeOutbound(envelope)).isTrue();
        ByteBuf out = channel.readOutbound();
        try {
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
            assertThat(channel.finishAndReleaseAll()).isFalse();
        }
    }
}
