package dev.biternet.common.wire;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.PieceHeader;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the byte stream into {@link Envelope}s, {@link PieceHeader}s and the raw
 * {@link PieceData} runs that follow each header (see {@link Frames} for the layout).
 *
 * <p>Every length is hostile until checked: a frame length outside {@code [1, MAX_FRAME_LENGTH]},
 * an unknown type, a message that does not parse, a piece frame where none is allowed, or a
 * piece longer than {@code maxPieceSize} raises a {@link ProtocolException}; after one, all
 * further input is discarded so the handler can answer with an error and close.
 *
 * <p>Piece bodies are passed on as retained slices of the received buffers, so a piece is never
 * copied or gathered in memory.
 */
public final class FrameDecoder extends ByteToMessageDecoder {
    private final boolean piecesAllowed;
    private final int maxPieceSize;
    private long bodyRemaining = -1;
    private boolean failed;

    public FrameDecoder(boolean piecesAllowed, int maxPieceSize) {
        this.piecesAllowed = piecesAllowed;
        this.maxPieceSize = maxPieceSize;
    }

    /** A decoder for the server side: clients never send pieces. */
    public static FrameDecoder forServer() {
        return new FrameDecoder(false, 0);
    }

    public static FrameDecoder forClient() {
        return new FrameDecoder(true, Frames.MAX_PIECE_SIZE);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed || !ctx.channel().isActive()) {
            // Broken, or closed by a handler while this read is decoded (a frame it refused):
            // nothing after that point is passed on, such as the body of a refused header.
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            decodeOne(in, out);
        } catch (ProtocolException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }

    private void decodeOne(ByteBuf in, List<Object> out) {
        if (bodyRemaining > 0) {
            int n = (int) Math.min(in.readableBytes(), bodyRemaining);
            if (n == 0) {
                return;
            }
            bodyRemaining -= n;
            boolean last = bodyRemaining == 0;
            out.add(new PieceData(in.readRetainedSlice(n), last));
            if (last) {
                bodyRemaining = -1;
            }
            return;
        }
        if (in.readableBytes() < Frames.HEADER_BYTES) {
            return;
        }
        int start = in.readerIndex();
        long length = in.getUnsignedInt(start);
        if (length < 1 || length > Frames.MAX_FRAME_LENGTH) {
            throw new ProtocolException(Error.Code.BAD_FRAME,
                    "frame length " + length + " outside 1.." + Frames.MAX_FRAME_LENGTH);
        }
        byte type = in.getByte(start + 4);
        if (type != Frames.TYPE_CONTROL && type != Frames.TYPE_PIECE) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "unknown frame type " + Byte.toUnsignedInt(type));
        }
        if (type == Frames.TYPE_PIECE && !piecesAllowed) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "piece frames are not accepted here");
        }
        if (in.readableBytes() < 4 + length) {
            return;
        }
        int messageLength = (int) length - 1;
        java.nio.ByteBuffer message = in.nioBuffer(start + Frames.HEADER_BYTES, messageLength);
        in.skipBytes(4 + (int) length);
        try {
            if (type == Frames.TYPE_CONTROL) {
                Envelope envelope = Envelope.parseFrom(message);
                if (envelope.getBodyCase() == Envelope.BodyCase.BODY_NOT_SET) {
                    throw new ProtocolException(Error.Code.BAD_FRAME, "control frame without a known message");
                }
                out.add(envelope);
            } else {
                PieceHeader header = PieceHeader.parseFrom(message);
                if (header.getLength() == 0) {
                    // A file's pieces are never empty (an empty file has none).
                    throw new ProtocolException(Error.Code.BAD_FRAME, "empty piece " + Integer.toUnsignedString(header.getIndex()));
                }
                if (Integer.compareUnsigned(header.getLength(), maxPieceSize) > 0) {
                    throw new ProtocolException(Error.Code.BAD_FRAME,
                            "piece of " + Integer.toUnsignedString(header.getLength()) + " bytes exceeds " + maxPieceSize);
                }
                bodyRemaining = Integer.toUnsignedLong(header.getLength());
                out.add(header);
            }
        } catch (InvalidProtocolBufferException e) {
            throw new ProtocolException(Error.Code.BAD_FRAME, "malformed message: " + e.getMessage());
        }
    }
}
