package dev.biternet.client.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

/**
 * What identifies one version of a mirror's file: its ETag and Last-Modified, as the mirror
 * sent them (either may be empty). Recorded from the first answer and in the resume state; every
 * later answer must carry the same, and {@link #ifRange} asks the mirror to send the whole
 * (new) file rather than a range of another version.
 */
public record Validators(String etag, String lastModified) {
    public static final Validators NONE = new Validators("", "");

    public static Validators of(HttpHeaders headers) {
        return new Validators(headers.get(HttpHeaderNames.ETAG, ""), headers.get(HttpHeaderNames.LAST_MODIFIED, ""));
    }

    /**
     * The If-Range value: a strong ETag, else the Last-Modified date (RFC 9110 13.1.5: a weak
     * ETag may not be used), else null.
     */
    public String ifRange() {
        if (!etag.isEmpty() && !etag.startsWith("W/")) {
            return etag;
        }
        return lastModified.isEmpty() ? null : lastModified;
    }

    /** True if {@code answer} may be the same version: every validator both carry is equal. */
    public boolean admits(Validators answer) {
        return (etag.isEmpty() || answer.etag.isEmpty() || etag.equals(answer.etag))
                && (lastModified.isEmpty() || answer.lastModified.isEmpty() || lastModified.equals(answer.lastModified));
    }

    @Override
    public String toString() {
        return !etag.isEmpty() ? "ETag " + etag : !lastModified.isEmpty() ? "Last-Modified " + lastModified : "no validators";
    }
}
