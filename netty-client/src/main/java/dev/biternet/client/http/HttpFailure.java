package dev.biternet.client.http;

import java.io.IOException;

/**
 * Why a request to a mirror did not bring its bytes, and what that means for the mirror:
 * {@link Kind#LOST} is a lost connection (the piece goes back, the channel reconnects, as a
 * biternet link would); {@link Kind#REFUSED} and {@link Kind#CHANGED} end the mirror;
 * {@link Kind#CLOSED} is a request the mirror did not get to because it ended the connection
 * after an answer (no keep-alive, or its limit of requests per connection): asked again at once;
 * {@link Kind#REDIRECT} and {@link Kind#IGNORES_RANGE} are decided by the caller.
 */
public final class HttpFailure extends IOException {
    private static final long serialVersionUID = 1L;

    public enum Kind { LOST, CLOSED, REFUSED, CHANGED, REDIRECT, IGNORES_RANGE }

    private final Kind kind;
    /** A redirect's Location, else empty. */
    private final String location;
    /** The whole file's size if the answer said (IGNORES_RANGE, CHANGED), else -1. */
    private final long size;

    public HttpFailure(Kind kind, String message) {
        this(kind, message, "", -1);
    }

    public HttpFailure(Kind kind, String message, String location, long size) {
        super(message);
        this.kind = kind;
        this.location = location;
        this.size = size;
    }

    public Kind kind() {
        return kind;
    }

    public String location() {
        return location;
    }

    public long size() {
        return size;
    }
}
