package dev.biternet.common.wire;

import dev.biternet.proto.Error;
import io.netty.handler.codec.CorruptedFrameException;

/** A peer broke the protocol; carries the error code to send back before closing. */
public final class ProtocolException extends CorruptedFrameException {
    private static final long serialVersionUID = 1L;
    private final Error.Code code;

    public ProtocolException(Error.Code code, String message) {
        super(message);
        this.code = code;
    }

    public Error.Code code() {
        return code;
    }
}
