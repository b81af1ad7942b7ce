package dev.biternet.client.http;

import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSpec;
import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * One {@code --iface} of an HTTP download over its whole life: how it is bound now (a named
 * interface's address changes with {@link #check}), its cap and rate over all its channels to
 * every mirror ({@link LinkAllowance}), and its flows to each mirror ({@link MirrorFlows}),
 * started once it has an address. When its interface goes, its connections are closed and its
 * channels park (they do not retry while the link waits: {@link MirrorChannel}); when it has an
 * address again, they connect from it at once.
 */
public final class HttpLink {
    private volatile LinkSpec spec;
    private final LinkAllowance allowance;
    /** Connections opened ahead of the first requests ({@link #connectNow}), by mirror. */
    private final Map<MirrorUrl, MirrorConnection> opened = new ConcurrentHashMap<>();
    private final List<MirrorFlows> flows = new CopyOnWriteArrayList<>();
    /** Makes the link's flows to each mirror once it may start; null before {@link #start}. */
    private Function<HttpLink, List<MirrorFlows>> starter;
    private boolean started;

    /** A link with its options' cap and rate. */
    public HttpLink(LinkSpec spec) {
        this(spec, new LinkAllowance(spec.options()));
    }

    private HttpLink(LinkSpec spec, LinkAllowance allowance) {
        this.spec = spec;
        this.allowance = allowance;
    }

    /** A link without cap or rate, whatever its options say. */
    public static HttpLink unlimited(LinkSpec spec) {
        return new HttpLink(spec, LinkAllowance.unlimited());
    }

    /** The link as bound now. */
    public LinkSpec spec() {
        return spec;
    }

    public LinkAllowance allowance() {
        return allowance;
    }

    /** True while its named interface has no usable address: it waits for one. */
    public boolean waiting() {
        return spec.waiting();
    }

    /**
     * Connects to each of {@code urls} now, ahead of the first requests (the handshakes then
     * overlap the probe of the mirrors); nothing while the link waits.
     */
    public void connectNow(HttpDialer dialer, List<MirrorUrl> urls) {
        if (waiting()) {
            return;
        }
        for (MirrorUrl url : urls) {
            MirrorConnection c = new MirrorConnection(dialer, this, url);
            c.connectNow();
            opened.put(url, c);
        }
    }

    /** The connection {@link #connectNow} opened to {@code url}, or a new one. */
    public MirrorConnection connection(HttpDialer dialer, MirrorUrl url) {
        MirrorConnection c = opened.remove(url);
        return c != null ? c : new MirrorConnection(dialer, this, url);
    }

    /** The connection {@link #connectNow} opened to {@code url}, kept for a channel, or null. */
    public MirrorConnection opened(MirrorUrl url) {
        return opened.get(url);
    }

    /** Closes what {@link #connectNow} opened and no channel took. */
    public void closeUnused() {
        opened.values().forEach(MirrorConnection::close);
        opened.clear();
    }

    /**
     * Gives the link its flows ({@code make}: one {@link MirrorFlows} per mirror, not started)
     * and starts them now if it has an address, else once {@link #check} finds one.
     */
    public synchronized void start(Function<HttpLink, List<MirrorFlows>> make) {
        starter = make;
        if (!waiting()) {
            startFlows();
        }
    }

    private void startFlows() {
        started = true;
        List<MirrorFlows> made = starter.apply(this);
        flows.addAll(made);
        made.forEach(MirrorFlows::start);
    }

    /** Its flows to each mirror (none before it first had an address). */
    public List<MirrorFlows> flows() {
        return flows;
    }

    /**
     * Looks at the link's interface again (a named one; others never change): when its address
     * changed, the link binds to the new one and its connections, bound to the old one, are
     * closed at once; when it has none (gone, down), its channels park until it has one; when it
     * has one again (or for the first time), its channels connect from it now. Any thread.
     *
     * @return what users are told, or null if nothing changed
     */
    public synchronized LinkEvent check(InetAddress server) {
        if (spec.device() == null) {
            return null;
        }
        InetAddress now;
        try {
            now = LinkResolver.address(spec.device(), server);
        } catch (LinkResolver.LinkException e) {
            now = null;
        }
        return moved(now);
    }

    /** As {@link #check} once the interface's address is known: {@code now}, null if it has none. */
    synchronized LinkEvent moved(InetAddress now) {
        LinkSpec was = spec;
        if (Objects.equals(now, was.localAddress())) {
            return null;
        }
        spec = was.at(now);
        if (was.localAddress() != null) {
            channels().forEach(c -> c.connection().drop());
        }
        if (now != null) {
            if (!started && starter != null) {
                startFlows();
            } else {
                channels().forEach(MirrorChannel::wake);
            }
        }
        return LinkEvent.changed(was, spec);
    }

    private List<MirrorChannel> channels() {
        return flows.stream().flatMap(f -> f.channels().stream()).toList();
    }
}
