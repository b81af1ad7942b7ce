package dev.biternet.client.link;

import dev.biternet.common.wire.EnvelopeEncoder;
import dev.biternet.common.wire.FrameDecoder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;

/** The client pipeline, in order: TLS (optional), framing, codec, silence watch, dispatcher. Stage names are stable. */
public final class ClientInitializer extends ChannelInitializer<Channel> {
    public static final String FRAME_DECODER = "frame-decoder";
    public static final String ENVELOPE_ENCODER = "envelope-encoder";
    public static final String SILENCE_WATCH = "silence-watch";
    public static final String DISPATCHER = "dispatcher";

    public static final String TLS = "tls";

    private final LinkHandler handler;
    private final SslContext tls;
    private final String host;
    private final int port;

    public ClientInitializer(LinkHandler handler) {
        this(handler, null, null, 0);
    }

    /** @param tls the TLS context, or null for plain TCP; {@code host} is the name the certificate must carry */
    public ClientInitializer(LinkHandler handler, SslContext tls, String host, int port) {
        this.handler = handler;
        this.tls = tls;
        this.host = host;
        this.port = port;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        if (tls != null) {
            p.addLast(TLS, tls.newHandler(ch.alloc(), host, port));
        }
        p.addLast(FRAME_DECODER, FrameDecoder.forClient());
        p.addLast(ENVELOPE_ENCODER, EnvelopeEncoder.INSTANCE);
        p.addLast(SILENCE_WATCH, new SilenceWatch());
        p.addLast(DISPATCHER, handler);
    }
}
