package dev.biternet.common.wire;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Frame layout shared by both sides.
 *
 * <pre>
 *  0               4       5                         4 + length
 *  +---------------+-------+--------------------------+
 *  | length (u32)  | type  | protobuf message         |   length = 1 + message bytes
 *  +---------------+-------+--------------------------+
 *
 *  type 1 CONTROL: the message is an Envelope.
 *  type 2 PIECE:   the message is a PieceHeader, and exactly header.length raw file bytes
 *                  follow the frame (they are not counted in `length`).
 * </pre>
 *
 * The length is big-endian and bounded by {@link #MAX_FRAME_LENGTH}; raw piece bodies are
 * bounded by {@link #MAX_PIECE_SIZE}.
 */
public final class Frames {
    /** The newest protocol: 2 adds client claims (Claim, Unclaim, OpenSession.client_claims) for several servers. */
    public static final int PROTOCOL_VERSION = 2;
    /** The oldest protocol either side still speaks; a client fetching from one server says this one. */
    public static final int OLDEST_PROTOCOL_VERSION = 1;
    public static final byte TYPE_CONTROL = 1;
    public static final byte TYPE_PIECE = 2;
    public static final int HEADER_BYTES = 5;
    /** Largest control frame either side accepts. */
    public static final int MAX_FRAME_LENGTH = 1 << 20;
    /** Largest piece the protocol carries (the largest piece size a server uses). */
    public static final int MAX_PIECE_SIZE = dev.biternet.common.piece.PieceLayout.MAX_PIECE_SIZE;

    private Frames() {}

    public static ByteBuf control(ByteBufAllocator alloc, Envelope envelope) {
        return frame(alloc, TYPE_CONTROL, envelope);
    }

    public static ByteBuf pieceHeader(ByteBufAllocator alloc, PieceHeader header) {
        return frame(alloc, TYPE_PIECE, header);
    }

    public static Envelope error(Error.Code code, String message) {
        return Envelope.newBuilder().setError(Error.newBuilder().setCode(code).setMessage(message)).build();
    }

    private static ByteBuf frame(ByteBufAllocator alloc, byte type, MessageLite message) {
        int size = message.getSerializedSize();
        if (size + 1 > MAX_FRAME_LENGTH) {
            throw new IllegalArgumentException("frame of " + (size + 1) + " bytes exceeds " + MAX_FRAME_LENGTH);
        }
        ByteBuf buf = alloc.buffer(HEADER_BYTES + size);
        boolean ok = false;
        try {
            buf.writeInt(size + 1);
            buf.writeByte(type);
            CodedOutputStream out = CodedOutputStream.newInstance(buf.nioBuffer(buf.writerIndex(), size));
            message.writeTo(out);
            out.checkNoSpaceLeft();
            buf.writerIndex(buf.writerIndex() + size);
            ok = true;
            return buf;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (!ok) {
                buf.release();
            }
        }
    }
}
