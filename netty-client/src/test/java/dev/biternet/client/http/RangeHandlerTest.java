package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** The answers a mirror may give to a range request, fed to the handler as bytes off the wire. */
class RangeHandlerTest {
    private static final MirrorUrl URL = MirrorUrl.parse("http://mirror.test/data/f.bin");

    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final EmbeddedChannel ch = new EmbeddedChannel(new HttpClientCodec(), new RangeHandler(5));

    private RangeRequest ask(long first, long length, long size, Validators expected) {
        long[] next = {first};
        RangeRequest r = RangeRequest.range(URL, first, length, size, expected, (offset, data) -> {
            assertThat(offset).isEqualTo(next[0]);
            next[0] += data.readableBytes();
            collect(offset, data);
        });
        return sent(send(r), first, length);
    }

    /** A body: its bytes appended to {@link #body}. */
    private void collect(long offset, ByteBuf data) {
        byte[] b = new byte[data.readableBytes()];
        data.getBytes(data.readerIndex(), b);
        body.writeBytes(b);
    }

    /** Hands {@code r} to the handler (it goes on the wire, or waits behind an answer). */
    private RangeRequest send(RangeRequest r) {
        ch.pipeline().get(RangeHandler.class).send(r);
        ch.runPendingTasks();
        return r;
    }

    /** Reads the request {@code r} off the wire. */
    private RangeRequest sent(RangeRequest r, long first, long length) {
        ByteBuf sent = ch.readOutbound();
        String request = sent.toString(StandardCharsets.US_ASCII);
        sent.release();
        assertThat(request).startsWith("GET /data/f.bin HTTP/1.1\r\n").contains("range: bytes=" + first + "-"
                + (first + length - 1)).contains("accept-encoding: identity");
        return r;
    }

    private void answer(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
    }

    private static String failure(RangeRequest r) {
        assertThat(r.done()).isCompletedExceptionally();
        try {
            r.done().get();
            return "";
        } catch (ExecutionException | InterruptedException e) {
            return ((HttpFailure) e.getCause()).kind() + ": " + e.getCause().getMessage();
        }
    }

    @Test
    void partialContentOfTheRangeAskedForIsTheBody() throws Exception {
        RangeRequest r = ask(10, 5, 100, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-14/100\r\nContent-Length: 5\r\n"
                + "ETag: \"abc\"\r\n\r\nhel");
        assertThat(r.done()).isNotDone();
        answer("lo");
        assertThat(r.done().get()).isEqualTo(new RangeRequest.Answer(100, new Validators("\"abc\"", "")));
        assertThat(body.toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
        assertThat(ch.isActive()).isTrue(); // kept alive for the next request
    }

    /** The probe's request: the file's first {@code length} bytes, or all of it if shorter. */
    private RangeRequest askHead(long length, java.util.concurrent.CompletableFuture<RangeRequest.Answer> heard) {
        return sent(send(RangeRequest.head(URL, length, this::collect, heard)), 0, length);
    }

    @Test
    void theProbesHeaderIsHeardBeforeItsBodyAndAShorterFileIsItsWholeBody() throws Exception {
        var heard = new java.util.concurrent.CompletableFuture<RangeRequest.Answer>();
        RangeRequest r = askHead(8, heard);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/5\r\nContent-Length: 5\r\n"
                + "ETag: \"e\"\r\n\r\nhel");
        assertThat(heard).as("the size is known from the header").isCompletedWithValue(
                new RangeRequest.Answer(5, new Validators("\"e\"", "")));
        assertThat(r.done()).isNotDone();
        answer("lo");
        assertThat(r.done().get().size()).isEqualTo(5);
        assertThat(body.toString(StandardCharsets.US_ASCII)).isEqualTo("hello");
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void aShortAnswerThatDoesNotEndTheFileIsRefusedEvenForTheProbe() {
        RangeRequest r = askHead(8, new java.util.concurrent.CompletableFuture<>());
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror sent bytes 0-4 for the range 0-7");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aRangeRequestTakesNoShorterAnswerAtTheEndOfTheFile() {
        RangeRequest r = ask(0, 8, -1, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/5\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror sent bytes 0-4 for the range 0-7");
    }

    /** A second request, sent behind {@code first}'s only once an answer said the connection persists. */
    private RangeRequest pipelined(long first, long length) {
        return send(RangeRequest.range(URL, first, length, 4, Validators.NONE, this::collect));
    }

    @Test
    void requestsArePipelinedOnceTheConnectionPersistsAndAnsweredInOrder() throws Exception {
        RangeRequest a = ask(0, 2, 4, Validators.NONE);
        RangeRequest b = pipelined(2, 2);
        assertThat((Object) ch.readOutbound()).as("held until the connection is known to persist").isNull();
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/4\r\nContent-Length: 2\r\n\r\na");
        sent(b, 2, 2);
        RangeRequest c = pipelined(0, 1);
        sent(c, 0, 1); // persistent now: straight on the wire
        answer("b" + "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 2-3/4\r\nContent-Length: 2\r\n\r\ncd"
                + "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-0/4\r\nContent-Length: 1\r\n\r\na");
        assertThat(a.done().get().size()).isEqualTo(4);
        assertThat(b.done().get().size()).isEqualTo(4);
        assertThat(c.done().get().size()).isEqualTo(4);
        assertThat(body.toString(StandardCharsets.US_ASCII)).isEqualTo("abcda");
    }

    @Test
    void theWholeFileToARangeRequestMeansTheMirrorIgnoresRange() {
        RangeRequest r = ask(0, 4, -1, Validators.NONE);
        answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789");
        assertThat(failure(r)).isEqualTo("IGNORES_RANGE: the mirror ignores Range requests (it sent the whole file)");
        assertThat(body.size()).isZero();
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aRangePastTheEndIsRefusedWithTheSize() {
        RangeRequest r = ask(100, 10, -1, Validators.NONE);
        answer("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */50\r\nContent-Length: 0\r\n\r\n");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror's file is shorter than the range 100-109"
                + " (HTTP 416 Range Not Satisfiable, bytes */50)");
    }

    @Test
    void aRedirectCarriesItsLocation() throws Exception {
        RangeRequest r = ask(0, 10, -1, Validators.NONE);
        answer("HTTP/1.1 302 Found\r\nLocation: /elsewhere/f.bin\r\nContent-Length: 0\r\n\r\n");
        try {
            r.done().get();
        } catch (ExecutionException e) {
            HttpFailure f = (HttpFailure) e.getCause();
            assertThat(f.kind()).isEqualTo(HttpFailure.Kind.REDIRECT);
            assertThat(URL.resolve(f.location())).hasToString("http://mirror.test/elsewhere/f.bin");
        }
        assertThat(r.done()).isCompletedExceptionally();
    }

    @Test
    void aContentRangeThatIsNotTheRangeAskedForIsRefused() {
        RangeRequest r = ask(10, 5, -1, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror sent bytes 0-4 for the range 10-14");
        assertThat(body.size()).isZero();
    }

    @Test
    void anUnreadableContentRangeIsRefused() {
        RangeRequest r = ask(0, 5, -1, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/*\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror sent a bad Content-Range: 'bytes 0-4/*'");
    }

    @Test
    void anotherETagMeansTheFileChanged() {
        RangeRequest r = ask(0, 5, 100, new Validators("\"v1\"", ""));
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nETag: \"v2\"\r\nContent-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("CHANGED: the file changed on the mirror (ETag \"v1\", now ETag \"v2\")");
    }

    @Test
    void aCutBodyLosesTheConnectionAndEveryPipelinedRequest() {
        RangeRequest a = ask(0, 5, 100, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhel");
        RangeRequest b = ask(5, 5, 100, Validators.NONE);
        ch.close();
        assertThat(failure(a)).isEqualTo("LOST: the mirror closed the connection");
        assertThat(failure(b)).isEqualTo("LOST: the mirror closed the connection");
    }

    @Test
    void aServerErrorIsPassingAndNotFoundIsFinal() {
        RangeRequest a = ask(0, 5, 100, Validators.NONE);
        answer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        assertThat(failure(a)).isEqualTo("LOST: the mirror answered HTTP 503 Service Unavailable");
        EmbeddedChannel again = new EmbeddedChannel(new HttpClientCodec(), new RangeHandler(5));
        RangeRequest b = RangeRequest.range(URL, 0, 5, 100, Validators.NONE, (o, d) -> { });
        again.pipeline().get(RangeHandler.class).send(b);
        again.runPendingTasks();
        ((ByteBuf) again.readOutbound()).release();
        again.writeInbound(Unpooled.copiedBuffer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", StandardCharsets.US_ASCII));
        assertThat(failure(b)).isEqualTo("REFUSED: the mirror answered HTTP 404 Not Found");
    }

    @Test
    void aStallWhileARequestWaitsLosesTheConnectionAndAnIdleConnectionStays() {
        ch.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.FIRST_READER_IDLE_STATE_EVENT);
        assertThat(ch.isActive()).isTrue(); // nothing asked: an idle keep-alive connection is fine
        RangeRequest r = ask(0, 5, 100, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Length: 5\r\n\r\nhe");
        ch.pipeline().fireUserEventTriggered(io.netty.handler.timeout.IdleStateEvent.READER_IDLE_STATE_EVENT);
        assertThat(failure(r)).isEqualTo("LOST: the mirror sent nothing for 5 s");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aRequestHeldBehindAClosingAnswerIsNeverSentAndAskedAgain() throws Exception {
        RangeRequest a = ask(0, 2, 4, Validators.NONE);
        RangeRequest b = pipelined(2, 2);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/4\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab");
        assertThat(a.done().get().size()).isEqualTo(4);
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(failure(b)).isEqualTo("CLOSED: the connection to the mirror ended before this request was sent");
    }

    @Test
    void aCompressedBodyIsRefused() {
        RangeRequest r = ask(0, 5, 100, Validators.NONE);
        answer("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4/100\r\nContent-Encoding: gzip\r\n"
                + "Content-Length: 5\r\n\r\nhello");
        assertThat(failure(r)).isEqualTo("REFUSED: the mirror sent the file encoded (gzip) though asked for identity");
    }

    @Test
    void ifRangeCarriesAStrongETagElseTheDate() {
        assertThat(new Validators("\"x\"", "Sun, 06 Dec 2026 05:00:00 GMT").ifRange()).isEqualTo("\"x\"");
        assertThat(new Validators("W/\"x\"", "Sun, 06 Dec 2026 05:00:00 GMT").ifRange())
                .isEqualTo("Sun, 06 Dec 2026 05:00:00 GMT");
        assertThat(Validators.NONE.ifRange()).isNull();
    }

    @Test
    void redirectsFromHttpsToHttpAreRefused() {
        MirrorUrl secure = MirrorUrl.parse("https://mirror.test/f.bin");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> secure.resolve("http://mirror.test/f.bin"))
                .hasMessage("refused a redirect from https to plain http (http://mirror.test/f.bin)");
        assertThat(secure.resolve("https://other.test:8443/g.bin")).hasToString("https://other.test:8443/g.bin");
    }
}
