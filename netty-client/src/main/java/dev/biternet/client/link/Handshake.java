package dev.biternet.client.link;

import com.google.protobuf.ByteString;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.ProtocolException;
import dev.biternet.proto.Attach;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.Hello;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Welcome;
import java.util.concurrent.CompletableFuture;

/**
 * What one connection says and hears before it carries pieces: its Hello (the protocol version,
 * the agent, the access token), the server's Welcome (refused unless it speaks this client's
 * protocol; what it offers: flow groups, attaching on open, its congestion control), and the
 * Attach it asks with (its window and standing, its link's name, what is left of the link's cap,
 * its rate, its flow group), alone or inside OpenSession. No Netty in it; what Welcome said is
 * read from other threads.
 */
final class Handshake {
    private final LinkSpec spec;
    private final ByteString token;
    /** The protocol this connection speaks: 1 with one server, 2 with several (client claims). */
    private final int version;
    private volatile boolean welcomed;
    private volatile boolean flowGroups;
    private volatile String congestionControl = "";
    /** Welcome said the server honours OpenSession.attach and join_key. */
    private volatile boolean openAttaches;
    /** Welcome said the server answers DigestRequest. */
    private volatile boolean digestsOnRequest;
    /** Welcome said the server honours LinkLimits. */
    private volatile boolean linkLimits;
    /** This connection sent OpenSession with an attach: the server attaches it as it opens. */
    private boolean openAttach;

    /** @param token the server's access token, sent in Hello (empty: none) */
    Handshake(LinkSpec spec, ByteString token) {
        this(spec, token, Frames.OLDEST_PROTOCOL_VERSION);
    }

    Handshake(LinkSpec spec, ByteString token, int version) {
        this.spec = spec;
        this.token = token;
        this.version = version;
    }

    Envelope hello() {
        return Envelope.newBuilder().setHello(Hello.newBuilder().setProtocolVersion(version)
                .setAgent("biternet-get").setToken(token)).build();
    }

    /** The server's Welcome: what it offers, once it is known to speak this client's protocol. */
    void welcome(Welcome w) throws ProtocolException {
        if (w.getProtocolVersion() != version) {
            throw new ProtocolException(Error.Code.UNSUPPORTED_VERSION, "server speaks protocol "
                    + w.getProtocolVersion() + ", this client speaks " + version);
        }
        welcomed = true;
        flowGroups = w.getFlowGroups();
        openAttaches = w.getOpenAttaches();
        digestsOnRequest = w.getDigestsOnRequest();
        linkLimits = w.getLinkLimits();
        congestionControl = w.getCongestionControl();
    }

    /** True once a Welcome in this client's protocol came. */
    boolean welcomed() {
        return welcomed;
    }

    /** True once the server said it holds a link's flows to one cap and rate (Welcome.flow_groups). */
    boolean flowGroups() {
        return flowGroups;
    }

    /** True once the server said it answers DigestRequest (Welcome.digests_on_request). */
    boolean digestsOnRequest() {
        return digestsOnRequest;
    }

    /** True once the server said it takes a link's new cap and rate while attached (Welcome.link_limits). */
    boolean linkLimits() {
        return linkLimits;
    }

    /** Welcome.congestion_control ("" until then or if the server did not say). */
    String congestionControl() {
        return congestionControl;
    }

    /** OpenSession asking the server to attach this connection too, as {@link #attach} describes it. */
    Envelope openAndAttach(OpenSession request, int window, boolean standby, long linkBytes, int flowGroup) {
        return openAndAttach(request, window, standby, linkBytes, flowGroup, userLimit());
    }

    Envelope openAndAttach(OpenSession request, int window, boolean standby, long linkBytes, int flowGroup, LinkLimit.Now limit) {
        openAttach = true;
        return Envelope.newBuilder().setOpenSession(request.toBuilder().setAttach(
                attach(ByteString.EMPTY, ByteString.EMPTY, window, standby, linkBytes, flowGroup, limit))).build();
    }

    /** The link's limits as the user gave them. */
    private LinkLimit.Now userLimit() {
        return new LinkLimit.Now(spec.options().capBytes(), spec.options().rateLimit(), 0);
    }

    /** True if this connection asked to be attached as it opened the session. */
    boolean askedOpenAttach() {
        return openAttach;
    }

    /** True if the server, which said it honours that, attached this connection as it opened the session. */
    boolean attachedByOpen(boolean openFailed) {
        return openAttach && openAttaches && !openFailed;
    }

    /** How a connection attaches to the download's session. */
    enum Attachment {
        /** Its own answer to OpenSession is still on the way: attached or not, that answer says. */
        AWAIT_OPEN,
        /** The server attached it to a session of its own (it did not join): it connects again. */
        OTHER_SESSION,
        /** The server attached it as it opened the session: nothing to send. */
        BY_OPEN,
        /** It asks with an Attach. */
        ASK
    }

    /** How this connection attaches to session {@code sessionId}, given its own OpenSession's answer so far. */
    Attachment attachment(CompletableFuture<SessionOpened> opened, ByteString sessionId) {
        if (openAttach && !opened.isDone()) {
            return Attachment.AWAIT_OPEN;
        }
        if (!attachedByOpen(opened.isCompletedExceptionally())) {
            return Attachment.ASK;
        }
        return opened.join().getSessionId().equals(sessionId) ? Attachment.BY_OPEN : Attachment.OTHER_SESSION;
    }

    /**
     * Attach for this connection.
     *
     * @param linkBytes what the link carried so far over all its connections (its cap counts them all)
     * @param flowGroup the link's number among the download's links (0: a link of one flow)
     */
    Attach attach(ByteString sessionId, ByteString secret, int window, boolean standby, long linkBytes, int flowGroup) {
        return attach(sessionId, secret, window, standby, linkBytes, flowGroup, userLimit());
    }

    /** As above, with the link's limits at this server now ({@link LinkLimit}). */
    Attach attach(ByteString sessionId, ByteString secret, int window, boolean standby, long linkBytes, int flowGroup,
                  LinkLimit.Now limit) {
        // A cap counts every connection of the link; 1 byte left lets no piece through.
        long cap = limit.capBytes() == 0 ? 0 : Math.max(1, limit.capBytes() - linkBytes);
        return Attach.newBuilder().setSessionId(sessionId).setSecret(secret).setWindow(window).setStandby(standby)
                .setLinkName(spec.name()).setCapBytes(cap).setRateLimit(limit.rateLimit()).setCapAdded(limit.capAdded())
                .setFlowGroup(flowGroup).build();
    }
}
