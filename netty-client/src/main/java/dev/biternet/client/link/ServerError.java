package dev.biternet.client.link;

import dev.biternet.proto.Error;
import java.io.IOException;

/** The server answered with an Error frame; whether that is final is {@link ServerErrors}'s rule. */
public final class ServerError extends IOException {
    private static final long serialVersionUID = 1L;
    private final Error.Code code;

    public ServerError(Error error) {
        super(error.getMessage());
        this.code = error.getCode();
    }

    public Error.Code code() {
        return code;
    }
}
