package dev.biternet.server.files;

import dev.biternet.proto.Error;

/** A request the server refuses, with the code and one-line reason the client is told. */
public final class RequestException extends Exception {
    private static final long serialVersionUID = 1L;
    private final Error.Code code;

    public RequestException(Error.Code code, String message) {
        super(message);
        this.code = code;
    }

    public Error.Code code() {
        return code;
    }
}
