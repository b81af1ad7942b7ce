package dev.biternet.client.http;

import dev.biternet.client.link.LinkEvent;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.route.LinkWatch;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;

/**
 * The links of an HTTP download (or of the mirrors beside biternet servers) as a set that
 * changes while it runs: those it starts with, a named interface missing at the start that
 * joins once it is up with an address, and those {@code --iface auto} takes mid-download
 * ({@link #join}), each an {@link HttpLink} with its flows to every mirror. The interface watch
 * ({@link LinkWatch}) calls {@link #check} and {@link #join}, and what changed reaches the
 * download as {@link LinkEvent}s (which it stamps with their time). Any thread may read it.
 */
public final class HttpLinks implements LinkWatch.Links {
    private final List<HttpLink> links = new CopyOnWriteArrayList<>();
    private final Consumer<LinkEvent> events;
    /** What a link {@code --iface auto} takes mid-download is given (its share of a cap, say). */
    private final UnaryOperator<LinkSpec> joining;
    /** Makes a link's flows to every mirror; null until {@link #start} (no link joins before). */
    private volatile Function<HttpLink, List<MirrorFlows>> flowsOf;

    /**
     * @param specs the links at the start, waiting ones ({@link LinkSpec#waiting}) included
     * @param events where each event goes, not stamped yet (watch threads)
     * @param joining what a link {@code --iface auto} takes mid-download becomes
     */
    public HttpLinks(List<LinkSpec> specs, Consumer<LinkEvent> events, UnaryOperator<LinkSpec> joining) {
        specs.forEach(s -> links.add(new HttpLink(s)));
        this.events = events;
        this.joining = joining;
    }

    /** Every link, waiting and joined ones included, in order. */
    public List<HttpLink> all() {
        return links;
    }

    /** The first link with an address now (the one to ask the mirrors on), or null. */
    public HttpLink firstUsable() {
        return links.stream().filter(l -> !l.waiting()).findFirst().orElse(null);
    }

    /**
     * Starts each link's flows ({@code flowsOf}: one {@link MirrorFlows} per mirror, not
     * started): now for a link with an address, once it has one for a waiting link; from now on
     * links join.
     */
    public void start(Function<HttpLink, List<MirrorFlows>> flowsOf) {
        start(null, flowsOf);
    }

    /** As {@link #start(Function)}, {@code first} (if one of them) before the others. */
    public void start(HttpLink first, Function<HttpLink, List<MirrorFlows>> flowsOf) {
        this.flowsOf = flowsOf;
        if (links.contains(first)) {
            first.start(flowsOf);
        }
        links.stream().filter(l -> l != first).forEach(l -> l.start(flowsOf));
    }

    @Override
    public void check(InetAddress server) {
        for (HttpLink l : links) {
            LinkEvent e = l.check(server);
            if (e != null) {
                events.accept(e);
            }
        }
    }

    @Override
    public boolean anyBound() {
        return links.stream().anyMatch(l -> l.spec().device() != null);
    }

    @Override
    public Set<String> names() {
        return links.stream().map(l -> l.spec().name()).collect(Collectors.toSet());
    }

    /** Adds a link for an interface {@code --iface auto} took mid-download and starts it; ignored before {@link #start}. */
    @Override
    public void join(LinkSpec spec) {
        Function<HttpLink, List<MirrorFlows>> f = flowsOf;
        if (f == null) {
            return;
        }
        HttpLink l = new HttpLink(joining.apply(spec));
        links.add(l);
        events.accept(LinkEvent.autoJoined(l.spec()));
        l.start(f);
    }

    /** Every link's flows to every mirror. */
    public List<MirrorFlows> flows() {
        return links.stream().flatMap(l -> l.flows().stream()).toList();
    }

    /** Every channel, retired ones included. */
    public List<MirrorChannel> channels() {
        return flows().stream().flatMap(f -> f.channels().stream()).toList();
    }

    /** Closes what the links opened ahead and no channel took. */
    public void closeUnused() {
        links.forEach(HttpLink::closeUnused);
    }
}
