package dev.biternet.client.http;

import dev.biternet.client.http.HttpFailure.Kind;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import java.io.IOException;
import java.util.ArrayDeque;

/**
 * One keep-alive connection's requests and their answers, in order (HTTP/1.1 pipelining: a
 * request may be sent while the one before is still answered, once an answer said the
 * connection persists). An answer is judged before its
 * body is read: a 206 whose Content-Range is exactly the range asked for, of a file of the
 * expected size and validators; a 200 only for a whole-file request; a redirect, a 416, any
 * other status, a compressed body, a short body, a reset or a stall fails every request still
 * waiting on the connection and closes it ({@link HttpFailure} says what it means for the
 * mirror). State belongs to the channel's event loop.
 */
public final class RangeHandler extends SimpleChannelInboundHandler<HttpObject> {
    private final ArrayDeque<RangeRequest> waiting = new ArrayDeque<>();
    /** Requests not sent yet: pipelined only once an answer said the connection persists. */
    private final ArrayDeque<RangeRequest> held = new ArrayDeque<>();
    /** An answer on this connection said keep-alive. */
    private boolean persistent;
    private final int stallSeconds;
    private ChannelHandlerContext ctx;
    /** The request whose body is being read, null between answers. */
    private RangeRequest reading;
    private long received;
    /** The body's length: what the request asked for, or (a range that may end early) what the answer says. */
    private long expect;
    private boolean keepAlive;
    private RangeRequest.Answer answer;
    /** The mirror said this connection ends after its answer: nothing more is sent on it. */
    private volatile boolean ending;

    /** @param stallSeconds how long a request may go without a byte before the connection counts as lost */
    public RangeHandler(int stallSeconds) {
        this.stallSeconds = stallSeconds;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /** Sends {@code r} on this connection; its answer comes after those already asked. Any thread. */
    public void send(RangeRequest r) {
        ctx.executor().execute(() -> {
            if (!ctx.channel().isActive() || ending) {
                // Nothing was sent: not a fault of the mirror's, the request goes on a new connection.
                r.done().completeExceptionally(new HttpFailure(Kind.CLOSED, "the connection to the mirror is closed"));
                return;
            }
            if (!persistent && !waiting.isEmpty()) {
                // RFC 9112 9.3.2: no pipelining before the connection is known to persist (a mirror
                // that closes after each answer would reset the connection under the second request).
                held.add(r);
                return;
            }
            write(r);
        });
    }

    private void write(RangeRequest r) {
        waiting.add(r);
        ctx.writeAndFlush(request(r)).addListener(f -> {
            if (!f.isSuccess()) {
                failAll(new HttpFailure(Kind.LOST, "cannot send to the mirror: " + f.cause().getMessage()));
            }
        });
    }

    /** True while new requests may go on this connection: open, and the mirror did not say it ends. */
    boolean usable() {
        return ctx != null && ctx.channel().isActive() && !ending;
    }

    /** The connection, once the handler is in its pipeline. */
    io.netty.channel.Channel channel() {
        return ctx == null ? null : ctx.channel();
    }

    int stallSeconds() {
        return stallSeconds;
    }

    /** Requests sent and not yet answered in full. Event loop only. */
    public int pending() {
        return waiting.size();
    }

    static FullHttpRequest request(RangeRequest r) {
        FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, r.url().target());
        req.headers().set(HttpHeaderNames.HOST, r.url().hostHeader())
                .set(HttpHeaderNames.USER_AGENT, "biternet-get")
                // Identity only: a compressed body's bytes are not the file's bytes at the range's offsets.
                .set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        if (!r.whole()) {
            req.headers().set(HttpHeaderNames.RANGE, r.rangeHeader());
            String ifRange = r.expected().ifRange();
            if (ifRange != null) {
                req.headers().set(HttpHeaderNames.IF_RANGE, ifRange);
            }
        }
        return req;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
        try {
            if (msg.decoderResult().isFailure()) {
                throw new HttpFailure(Kind.LOST, "the mirror's answer is not HTTP: " + msg.decoderResult().cause().getMessage());
            }
            if (msg instanceof HttpResponse response) {
                RangeRequest r = waiting.peek();
                if (r == null || reading != null) {
                    throw new HttpFailure(Kind.LOST, "the mirror answered a request it was not sent");
                }
                answer = judge(r, response);
                reading = r;
                received = 0;
                expect = r.upTo() ? Math.min(r.length(), answer.size() - r.first()) : r.length();
                if (r.heard() != null) {
                    r.heard().complete(answer);
                }
                keepAlive = HttpUtil.isKeepAlive(response);
                ending |= !keepAlive;
                if (keepAlive && !persistent) {
                    persistent = true;
                    for (RangeRequest h; (h = held.poll()) != null; ) {
                        write(h);
                    }
                }
            }
            if (msg instanceof HttpContent content && reading != null) {
                int n = content.content().readableBytes();
                if (received + n > expect) {
                    throw new HttpFailure(Kind.REFUSED, "the mirror sent more bytes than the range asked for");
                }
                if (n > 0) {
                    reading.body().accept(reading.first() + received, content.content());
                }
                received += n;
                if (content instanceof LastHttpContent) {
                    if (received != expect) {
                        throw new HttpFailure(Kind.LOST, "the mirror's answer ended after " + received + " of "
                                + expect + " bytes");
                    }
                    RangeRequest done = waiting.poll();
                    reading = null;
                    done.done().complete(answer);
                    if (!keepAlive) {
                        failAll(new HttpFailure(Kind.CLOSED, "the mirror ended the connection after an answer"));
                        ctx.close();
                    }
                }
            }
        } catch (HttpFailure e) {
            failAll(e);
            ctx.close();
        } catch (IOException e) {
            failAll(new HttpFailure(Kind.LOST, e.getMessage()));
            ctx.close();
        }
    }

    /**
     * The answer's verdict before its body: what it says of the file, or why it is refused.
     * Validators first: a mirror that sends another version of the file (a 200 to If-Range) has
     * changed it, it did not ignore the range.
     */
    static RangeRequest.Answer judge(RangeRequest r, HttpResponse response) throws HttpFailure {
        int status = response.status().code();
        Validators seen = Validators.of(response.headers());
        if (status == 200 || status == 206) {
            if (!r.expected().admits(seen)) {
                throw new HttpFailure(Kind.CHANGED, "the file changed on the mirror (" + r.expected() + ", now " + seen + ")");
            }
            String encoding = response.headers().get(HttpHeaderNames.CONTENT_ENCODING, "identity");
            if (!encoding.equalsIgnoreCase("identity")) {
                throw new HttpFailure(Kind.REFUSED, "the mirror sent the file encoded (" + encoding + ") though asked for identity");
            }
        }
        if (status == 206 && !r.whole()) {
            ContentRange range = ContentRange.parse(response.headers().get(HttpHeaderNames.CONTENT_RANGE));
            boolean shortAtEnd = r.upTo() && range.length() < r.length() && range.last() == range.total() - 1;
            if (range.first() != r.first() || range.length() != r.length() && !shortAtEnd) {
                throw new HttpFailure(Kind.REFUSED, "the mirror sent bytes " + range.first() + "-" + range.last()
                        + " for the range " + r.rangeHeader().substring(6));
            }
            checkSize(r, range.total());
            return new RangeRequest.Answer(range.total(), seen);
        }
        if (status == 200) {
            long size = HttpUtil.getContentLength(response, -1L);
            if (!r.whole()) {
                throw new HttpFailure(Kind.IGNORES_RANGE, "the mirror ignores Range requests (it sent the whole file)",
                        "", size);
            }
            if (size < 0) {
                throw new HttpFailure(Kind.REFUSED, "the mirror sent no Content-Length");
            }
            checkSize(r, size);
            return new RangeRequest.Answer(size, seen);
        }
        String line = "HTTP " + response.status();
        if (status >= 300 && status < 400 && response.headers().contains(HttpHeaderNames.LOCATION)) {
            throw new HttpFailure(Kind.REDIRECT, line, response.headers().get(HttpHeaderNames.LOCATION), -1);
        }
        if (status == 416) {
            throw new HttpFailure(Kind.REFUSED, "the mirror's file is shorter than the range " + r.rangeHeader().substring(6)
                    + " (" + line + ", " + response.headers().get(HttpHeaderNames.CONTENT_RANGE, "no size given") + ")");
        }
        // 5xx and 408/429 are a server's bad moment: lost, asked again; other 4xx will not change.
        boolean passing = status >= 500 || status == 408 || status == 429;
        throw new HttpFailure(passing ? Kind.LOST : Kind.REFUSED, "the mirror answered " + line);
    }

    private static void checkSize(RangeRequest r, long size) throws HttpFailure {
        if (r.expectedSize() >= 0 && size != r.expectedSize()) {
            throw new HttpFailure(Kind.CHANGED, "the mirror's file is " + size + " bytes, not " + r.expectedSize(), "", size);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent && !waiting.isEmpty()) {
            failAll(new HttpFailure(Kind.LOST, "the mirror sent nothing for " + stallSeconds + " s"));
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        failAll(new HttpFailure(Kind.LOST, "the mirror closed the connection"));
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failAll(cause instanceof HttpFailure f ? f : new HttpFailure(Kind.LOST, "connection to the mirror failed: "
                + dev.biternet.common.cli.Causes.rootMessage(cause)));
        ctx.close();
    }

    private void failAll(HttpFailure why) {
        reading = null;
        for (RangeRequest r; (r = waiting.poll()) != null; ) {
            r.done().completeExceptionally(why);
        }
        // Requests never sent are no one's fault: asked again on a new connection at once.
        for (RangeRequest r; (r = held.poll()) != null; ) {
            r.done().completeExceptionally(new HttpFailure(Kind.CLOSED, "the connection to the mirror ended before"
                    + " this request was sent"));
        }
    }
}
