package dev.biternet.client.http;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * One GET to a mirror: bytes [{@code first}, {@code first + length}) of the file, or with
 * {@code whole} the whole file without a Range header (a mirror that ignores Range, used alone).
 * The body's bytes go to {@code body} in order as they arrive; {@code done} completes with the
 * answer's {@link Answer} once the last byte is in, or fails with an {@link HttpFailure}.
 *
 * @param expectedSize the file's size if known (an answer of another size is refused), else -1
 * @param expected the validators the file must still have ({@link Validators#NONE}: any)
 * @param upTo the range may end early at the end of the file (a file shorter than asked for);
 *             the body is then what the answer's Content-Range says
 * @param heard completed with the answer's {@link Answer} as soon as its header is judged,
 *              before its body (null: not wanted); a refused answer leaves it to {@code done}
 */
public record RangeRequest(MirrorUrl url, long first, long length, boolean whole, long expectedSize,
                           Validators expected, Body body, CompletableFuture<Answer> done, boolean upTo,
                           CompletableFuture<Answer> heard) {
    /** Where a body's bytes go. */
    @FunctionalInterface
    public interface Body {
        /** {@code data} (not retained past the call) holds the bytes from {@code fileOffset} on. */
        void accept(long fileOffset, ByteBuf data) throws IOException;
    }

    /** What the answer said of the file: its size and validators. */
    public record Answer(long size, Validators validators) {}

    public static RangeRequest range(MirrorUrl url, long first, long length, long expectedSize, Validators expected,
                                     Body body) {
        return new RangeRequest(url, first, length, false, expectedSize, expected, body, new CompletableFuture<>(), false,
                null);
    }

    /**
     * The file's first {@code length} bytes, or all of it if it is shorter, of any size and
     * validators: what the size probe asks for, its header to {@code heard}.
     */
    public static RangeRequest head(MirrorUrl url, long length, Body body, CompletableFuture<Answer> heard) {
        return new RangeRequest(url, 0, length, false, -1, Validators.NONE, body, new CompletableFuture<>(), true, heard);
    }

    public static RangeRequest whole(MirrorUrl url, long expectedSize, Validators expected, Body body) {
        return new RangeRequest(url, 0, expectedSize, true, expectedSize, expected, body, new CompletableFuture<>(), false,
                null);
    }

    /** The Range header's value. */
    String rangeHeader() {
        return "bytes=" + first + "-" + (first + length - 1);
    }
}
