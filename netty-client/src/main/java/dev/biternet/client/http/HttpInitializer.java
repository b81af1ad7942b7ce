package dev.biternet.client.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;

/**
 * A mirror connection's pipeline, in order: the read pacer (a link with a rate), TLS (https),
 * the HTTP codec, the stall watch, the range handler. No decompressor: the client asks for identity and refuses anything else.
 * Stage names are stable.
 */
public final class HttpInitializer extends ChannelInitializer<Channel> {
    public static final String PACER = "pacer";
    public static final String TLS = "tls";
    public static final String HTTP_CODEC = "http-codec";
    public static final String STALL_WATCH = "stall-watch";
    public static final String RANGES = "ranges";
    /** Response headers larger than this are refused (nginx sends a few hundred bytes). */
    static final int MAX_HEADER_BYTES = 16 * 1024;

    private final SslContext tls;
    private final MirrorUrl url;
    private final RangeHandler handler;
    private final LinkAllowance link;

    /**
     * @param tls the context for https (its certificate and host name checks), null for http
     * @param link the link the connection goes out of (its rate)
     */
    public HttpInitializer(SslContext tls, MirrorUrl url, RangeHandler handler, LinkAllowance link) {
        this.tls = tls;
        this.url = url;
        this.handler = handler;
        this.link = link;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        if (link.paced()) {
            ch.config().setRecvByteBufAllocator(ReadPacer.reads(link.rateLimit()));
            p.addLast(PACER, new ReadPacer(link));
        }
        if (url.tls()) {
            p.addLast(TLS, tls.newHandler(ch.alloc(), url.host(), url.port()));
        }
        p.addLast(HTTP_CODEC, new HttpClientCodec(4096, MAX_HEADER_BYTES, 1 << 20));
        p.addLast(STALL_WATCH, new IdleStateHandler(handler.stallSeconds(), 0, 0));
        p.addLast(RANGES, handler);
    }
}
