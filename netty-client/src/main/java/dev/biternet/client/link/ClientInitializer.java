package dev.biternet.client.link;

import dev.biternet.common.wire.EnvelopeEncoder;
import dev.biternet.common.wire.FrameDecoder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;

/** The client pipeline, in order: framing, codec, dispatcher. Stage names are stable. */
public final class ClientInitializer extends ChannelInitializer<Channel> {
    public static final String FRAME_DECODER = "frame-decoder";
    public static final String ENVELOPE_ENCODER = "envelope-encoder";
    public static final String DISPATCHER = "dispatcher";

    private final LinkHandler handler;

    public ClientInitializer(LinkHandler handler) {
        this.handler = handler;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelPipeline p = ch.pipeline();
        p.addLast(FRAME_DECODER, FrameDecoder.forClient());
        p.addLast(ENVELOPE_ENCODER, EnvelopeEncoder.INSTANCE);
        p.addLast(DISPATCHER, handler);
    }
}
