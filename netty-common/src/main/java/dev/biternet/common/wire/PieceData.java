package dev.biternet.common.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * A run of raw piece bytes as they came off the socket (a retained slice, never copied).
 * {@code last} marks the final run of the piece announced by the preceding header.
 */
public final class PieceData extends DefaultByteBufHolder {
    private final boolean last;

    public PieceData(ByteBuf data, boolean last) {
        super(data);
        this.last = last;
    }

    public boolean isLast() {
        return last;
    }
}
