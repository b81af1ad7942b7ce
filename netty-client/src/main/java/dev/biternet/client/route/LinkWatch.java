package dev.biternet.client.route;

import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSet;
import dev.biternet.client.link.LinkSpec;
import java.net.InetAddress;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * Keeps a download's links in step with this machine's interfaces while it runs. At every
 * {@link InterfaceWatch} event or poll, each link bound to an interface looks at it again (a
 * new address rebinds it, none parks it, an address back rejoins it:
 * {@link dev.biternet.client.link.Link#check}); with {@code --iface auto}, an interface that is
 * up and reaches the server through itself ({@link AutoLinks}) joins as a link of its own
 * ({@link LinkSet#join}). Judging an interface's routes runs an {@code ip} process, so only
 * interfaces that are not links yet are judged, and only on a kernel event, a new set of them,
 * or every {@link #REJUDGE_NANOS}.
 */
public final class LinkWatch implements AutoCloseable {
    /** Without a kernel event, the same interfaces' routes are judged again this often. */
    static final long REJUDGE_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** What a watch asks of a download's links: a biternet download's {@link LinkSet}, or an HTTP download's. */
    public interface Links {
        /** Each link bound to a named interface looks at it again (any thread; one call at a time). */
        void check(InetAddress server);

        /** True if a link is bound to a named interface (whose address can change). */
        boolean anyBound();

        /** The links' names. */
        Set<String> names();

        /** Adds and starts a link for an interface {@code --iface auto} took mid-download. */
        void join(LinkSpec spec);
    }

    private final Links links;
    private final InetAddress server;
    private final AutoLinks auto;
    /** The --iface value for an interface auto takes; null without auto. */
    private final UnaryOperator<String> autoValue;
    /** The interfaces auto last judged the routes of, and when (the watch's thread only). */
    private List<String> judged = List.of();
    private long judgedNanos;
    private InterfaceWatch watch;

    private LinkWatch(Links links, InetAddress server, AutoLinks auto, UnaryOperator<String> autoValue) {
        this.links = links;
        this.server = server;
        this.auto = auto;
        this.autoValue = autoValue;
    }

    /**
     * Starts watching, if there is anything to watch: {@code --iface auto}, or a link bound to an
     * interface. Once the links are started: the {@code ip} process it runs would compete with
     * their connects for the cores, and a change since the start is seen at its first look.
     *
     * @param autoValue the --iface value for an interface {@code auto} takes, or null without auto
     * @return the watch to close when the download ends, or null if there is nothing to watch
     */
    public static LinkWatch start(LinkSet links, InetAddress server, AutoLinks auto, UnaryOperator<String> autoValue) {
        return start(new Links() {
            @Override
            public void check(InetAddress s) {
                links.check(s);
            }

            @Override
            public boolean anyBound() {
                return links.anyBound();
            }

            @Override
            public Set<String> names() {
                return links.names();
            }

            @Override
            public void join(LinkSpec spec) {
                links.join(spec);
            }
        }, server, auto, autoValue);
    }

    /** As {@link #start(LinkSet, InetAddress, AutoLinks, UnaryOperator)}, for any set of {@link Links}. */
    public static LinkWatch start(Links links, InetAddress server, AutoLinks auto, UnaryOperator<String> autoValue) {
        if (autoValue == null && !links.anyBound()) {
            return null;
        }
        LinkWatch w = new LinkWatch(links, server, auto, autoValue);
        w.watch = InterfaceWatch.start(w::changed);
        return w;
    }

    private void changed(boolean event) {
        links.check(server);
        if (autoValue != null) {
            joinAuto(event);
        }
    }

    /** The interfaces {@code auto} takes now that are not links yet, each joined. */
    private void joinAuto(boolean event) {
        List<String> chosen;
        try {
            List<String> candidates = auto.candidates(server, links.names());
            long now = System.nanoTime();
            if (!judgeAgain(candidates, judged, now - judgedNanos, event)) {
                return;
            }
            judged = candidates;
            judgedNanos = now;
            chosen = auto.chosen(server, candidates);
        } catch (SocketException e) {
            return; // looked at again at the next event or poll
        }
        for (String name : chosen) {
            if (!links.names().contains(name)) {
                try {
                    List<LinkSpec> spec = LinkResolver.resolveWaiting(List.of(autoValue.apply(name)), server, new ArrayList<>());
                    links.join(spec.get(0));
                } catch (LinkResolver.LinkException e) {
                    // gone again since: the next look decides
                }
            }
        }
    }

    /**
     * Whether the routes of {@code candidates} (interfaces not links yet) are to be judged now:
     * there are some, and a kernel event called, or they are not those judged last, or those
     * were judged {@link #REJUDGE_NANOS} ago or more.
     */
    static boolean judgeAgain(List<String> candidates, List<String> judged, long sinceNanos, boolean event) {
        return !candidates.isEmpty() && (event || !candidates.equals(judged) || sinceNanos >= REJUDGE_NANOS);
    }

    @Override
    public void close() {
        watch.close();
    }
}
