package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.PieceStore;
import dev.biternet.common.piece.Digests;
import dev.biternet.common.piece.PieceLayout;
import dev.biternet.common.wire.Frames;
import dev.biternet.common.wire.PieceData;
import dev.biternet.proto.Attached;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.OpenSession;
import dev.biternet.proto.PieceHashes;
import dev.biternet.proto.PieceHeader;
import dev.biternet.proto.SessionOpened;
import dev.biternet.proto.Welcome;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import java.net.ConnectException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A link's flows over Netty's in-process channels, against a small scripted server: a
 * connector of the test's own ({@link FakeConnector}) that can refuse connections, and a server
 * that answers Hello, OpenSession and Attach and can lose a connection or send an Error.
 */
class LinkTest {
    private static final int PIECE = 1000;
    private static final int PIECES = 6;

    @TempDir
    Path dir;
    private final byte[] file = new byte[PIECES * PIECE];
    private final PieceLayout layout = new PieceLayout(file.length, PIECE);
    private final DefaultEventLoopGroup loops = new DefaultEventLoopGroup(2);
    private final FakeServer server = new FakeServer();
    private final FakeConnector connector = new FakeConnector();
    private final Owner owner = new Owner();
    private final List<Link> links = new CopyOnWriteArrayList<>();
    private LocalAddress address;
    private Channel serverChannel;
    private PieceStore store;
    private SessionKeeper keeper;

    @BeforeEach
    void setUp() throws Exception {
        new Random(3).nextBytes(file);
        address = new LocalAddress("link-test-" + System.nanoTime());
        serverChannel = new ServerBootstrap().group(loops).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(server.connection());
                    }
                }).bind(address).sync().channel();
        store = new PieceStore(dir.resolve("f.bin"), layout);
        keeper = new SessionKeeper("f.bin", server.session(1), store);
        SessionKeeper.takeHashes(store, server.session(1).getHashes());
    }

    @AfterEach
    void tearDown() throws Exception {
        owner.over = true;
        links.forEach(Link::stop);
        serverChannel.close().sync();
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        store.close();
    }

    @Test
    void aLostFlowReconnectsWithGrowingBackoff() throws Exception {
        Link link = started(1, 0);
        Conn first = server.attached(0);
        connector.refuseNext(3);

        first.channel.close();

        Conn second = server.attached(1);
        assertThat(second.attach().getSessionId()).isEqualTo(first.attach().getSessionId());
        List<Long> at = connector.calls;
        assertThat(at).hasSize(5); // the first connection, three refused, the one that attached
        long lost = first.closedNanos;
        long[] waits = {at.get(1) - lost, at.get(2) - at.get(1), at.get(3) - at.get(2), at.get(4) - at.get(3)};
        for (int i = 0; i < waits.length; i++) {
            // 0.25 s doubling, less at most 20 % jitter: each wait at least 0.8 x 0.25 s x 2^i
            assertThat(waits[i]).as("wait %d", i).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(200L << i));
        }
        assertThat(link.up()).isTrue();
    }

    @Test
    void aRetiredFlowIsNotReconnected() throws Exception {
        Link link = started(2, 0);
        server.attached(0);
        Conn second = server.attached(1);
        Flow retiring = link.flows().get(1);

        retiring.retire();
        await(() -> second.received.stream().anyMatch(e -> e.hasCredit() && e.getCredit().getWindow() == 0),
                "the server is told to send no new piece");
        second.channel.close();
        retiring.awaitEnd(10_000);

        assertThat(connector.calls).hasSize(2);
        assertThat(server.conns).hasSize(2);
        assertThat(link.up()).isTrue();
    }

    @Test
    void aLinkDroppedForBadPiecesStopsAllItsFlows() throws Exception {
        Link link = started(2, 0);
        Conn first = server.attached(0);
        Conn second = server.attached(1);

        for (int i = 0; i < PieceReceiver.MAX_BAD_PIECES; i++) {
            first.sendPiece(i, true);
        }

        await(() -> !second.channel.isActive(), "the link's other flow is closed");
        for (Flow f : link.flows()) {
            f.awaitEnd(10_000);
        }
        assertThat(link.dropped()).isTrue();
        assertThat(link.up()).isFalse();
        assertThat(owner.warnings).containsExactly("link flows dropped: " + PieceReceiver.MAX_BAD_PIECES
                + " pieces failed their hash; the other links finish the file");
        assertThat(connector.calls).hasSize(2);
    }

    @Test
    void aLinksCapCountsEveryFlowAndConnection() throws Exception {
        long cap = 2L * PIECE + 1;
        Link link = started(2, cap);
        Conn first = server.attached(0);
        Conn second = server.attached(1);
        assertThat(first.attach().getCapBytes()).isEqualTo(cap);
        assertThat(second.attach().getCapBytes()).isEqualTo(cap);

        first.sendPiece(0, false);
        await(() -> link.carried() == PIECE, "one piece carried");
        second.channel.close();
        Conn third = server.attached(2);
        first.channel.close();
        Conn fourth = server.attached(3);

        // What the link carried on one flow counts for the other flow, and for a flow's next connection.
        assertThat(third.attach().getCapBytes()).isEqualTo(cap - PIECE);
        assertThat(fourth.attach().getCapBytes()).isEqualTo(cap - PIECE);
        assertThat(link.capReached()).isFalse();
        fourth.sendPiece(1, false);
        await(() -> link.carried() == 2L * PIECE, "two pieces carried");
        assertThat(link.capReached()).isTrue();
        assertThat(link.stats().bytes()).isEqualTo(2L * PIECE);
    }

    /**
     * What the server retransmitted counts over every flow and connection of the link, retired
     * and closed ones included: a count that fell when a flow retired read as a link that
     * loses nothing, and its flows were never tried again.
     */
    @Test
    void aLinksRetransmissionsCountEveryFlowAndConnection() throws Exception {
        Link link = started(2, 0);
        Conn first = server.attached(0);
        Conn second = server.attached(1);
        assertThat(link.retransmitted()).isEqualTo(-1);

        first.sendPiece(0, false, 1000);
        second.sendPiece(1, false, 500);
        await(() -> link.retransmitted() == 1500, "both flows' retransmissions counted");
        link.flows().get(1).retire();
        second.channel.close();
        link.flows().get(1).awaitEnd(10_000);
        first.channel.close();
        Conn third = server.attached(2);
        assertThat(link.retransmitted()).as("after a retirement and a reconnect").isEqualTo(1500);
        third.sendPiece(2, false, 10);

        await(() -> link.retransmitted() == 1510, "the new connection's retransmissions added");
    }

    /**
     * A server that attaches a connection as it opens the session sends pieces right after
     * SessionOpened, before the download has its store: they are held (the channel stops
     * reading) and handled once the link starts, with no Attach sent.
     */
    @Test
    void piecesSentWithSessionOpenedWaitForTheStoreAndVerify() throws Exception {
        server.openAttaches = true;
        Link link = unstarted();
        link.openAndAttach(OpenSession.newBuilder().setPath("f.bin").build());
        await(() -> link.handler().opened().isDone() && link.handler().heldCount() >= 1, "what follows SessionOpened held");

        link.start(keeper, store, true, "");

        await(() -> store.verifiedCount() == 1, "the held piece verified");
        assertThat(link.handler().heldCount()).isZero();
        assertThat(server.conns.get(0).attach()).as("no Attach: the open attached the connection").isNull();
        assertThat(link.up()).isTrue();
    }

    /** A server that does not say it attaches on open (Welcome.open_attaches) gets an Attach as before. */
    @Test
    void aServerThatDoesNotAttachOnOpenGetsAnAttach() throws Exception {
        Link link = unstarted();
        link.openAndAttach(OpenSession.newBuilder().setPath("f.bin").build());
        await(() -> link.handler().opened().isDone(), "SessionOpened");

        link.start(keeper, store, true, "");

        Conn c = server.attached(0);
        assertThat(c.attach().getSessionId()).isEqualTo(keeper.current().getSessionId());
        c.sendPiece(0, false);
        await(() -> store.verifiedCount() == 1, "piece 0 verified");
    }

    @Test
    void anUnknownSessionMakesExactlyOneFlowReopen() throws Exception {
        Link link = started(2, 0);
        server.attached(0);
        server.attached(1);
        store.write(0, 0, java.nio.ByteBuffer.wrap(file, 0, PIECE), this);
        assertThat(store.complete(0, digest(0), this)).isEqualTo(PieceStore.Outcome.VERIFIED);

        for (Conn c : List.copyOf(server.conns)) {
            c.channel.writeAndFlush(Frames.error(Error.Code.UNKNOWN_SESSION, "unknown session"));
            c.channel.close();
        }

        Conn a = server.attached(2);
        Conn b = server.attached(3);
        ByteString reopened = server.session(2).getSessionId();
        assertThat(a.attach().getSessionId()).isEqualTo(reopened);
        assertThat(b.attach().getSessionId()).isEqualTo(reopened);
        assertThat(server.opens).singleElement().satisfies(open -> {
            assertThat(open.getPath()).isEqualTo("f.bin");
            assertThat(open.getHave().byteAt(0) & 1).as("piece 0 is held").isEqualTo(1);
        });
        assertThat(link.up()).isTrue();
        assertThat(owner.failures).isEmpty();
    }

    /**
     * A link whose interface's address changed rebinds: its connection, bound to the old
     * address, is closed at once and the flow connects again from the new one, with no wait
     * for silence. (The interface is lo, its address 127.0.0.1; the link was bound to another.)
     */
    @Test
    void aLinkWhoseAddressChangedReconnectsFromTheNewOne() throws Exception {
        java.net.InetAddress old = java.net.InetAddress.getByName("127.0.0.9");
        Link link = new Link(new LinkSpec("lo", old, "lo", new LinkOptions(0, 0, 1)), 1, connector, ByteString.EMPTY, owner);
        links.add(link);
        assertThat(Connector.await(link.connect())).isNull();
        link.start(keeper, store, true, "");
        Conn first = server.attached(0);

        assertThat(link.check(java.net.InetAddress.getByName("127.0.0.1"))).isTrue();

        await(() -> !first.channel.isActive(), "the connection from the old address closed");
        Conn second = server.attached(1);
        assertThat(connector.specs.get(1).localAddress()).isEqualTo(java.net.InetAddress.getByName("127.0.0.1"));
        assertThat(owner.events).containsExactly("link lo rebound to 127.0.0.1 (was 127.0.0.9)");
        assertThat(link.check(java.net.InetAddress.getByName("127.0.0.1"))).as("no change the second time").isFalse();
        second.sendPiece(0, false);
        await(() -> store.verifiedCount() == 1, "the new connection carries pieces");
    }

    /** A link whose interface is gone is parked: no connection is tried until it has an address again. */
    @Test
    void aLinkWhoseInterfaceIsGoneIsParked() throws Exception {
        Link link = new Link(new LinkSpec("gone0", java.net.InetAddress.getByName("127.0.0.1"), "nosuch0",
                new LinkOptions(0, 0, 1)), 1, connector, ByteString.EMPTY, owner);
        links.add(link);
        assertThat(Connector.await(link.connect())).isNull();
        link.start(keeper, store, true, "");
        Conn first = server.attached(0);

        assertThat(link.check(java.net.InetAddress.getByName("127.0.0.1"))).isTrue();

        await(() -> !first.channel.isActive(), "the connection closed");
        assertThat(link.waiting()).isTrue();
        assertThat(owner.events).singleElement().asString().startsWith("link gone0 left");
        Thread.sleep(2 * Backoff.FIRST_MILLIS + 200);
        assertThat(connector.calls).as("no connection tried while parked").hasSize(1);
    }

    /**
     * A backup link attaches standing by, and taking over opens its window with a Credit that
     * carries its round trip (one without left the server's round trip for the link at 0).
     */
    @Test
    void aBackupLinkAttachesStandingByAndTakesOverWithItsRoundTrip() throws Exception {
        Link link = new Link(new LinkSpec("usb0", null, null, new LinkOptions(0, 0, 1, true)), 1, connector,
                ByteString.EMPTY, owner);
        links.add(link);
        assertThat(Connector.await(link.connect())).isNull();
        link.start(keeper, store, true, "");
        Conn c = server.attached(0);
        assertThat(c.attach().getStandby()).isTrue();
        assertThat(link.standingBy()).isTrue();
        await(() -> link.handler().minRttSeconds() > 0, "the handshake's round trip measured");

        link.standBy(false);

        await(() -> c.received.stream().anyMatch(e -> e.hasCredit() && e.getCredit().getWindow() > 0), "a Credit opening the window");
        dev.biternet.proto.Credit open = c.received.stream().filter(e -> e.hasCredit() && e.getCredit().getWindow() > 0)
                .findFirst().orElseThrow().getCredit();
        assertThat(open.getRttUs()).as("the round trip in the Credit that opens the window").isPositive();
        c.sendPiece(0, false);
        await(() -> store.verifiedCount() == 1, "a piece over the backup link once it took over");
    }

    /**
     * A download's {@link LinkSet} at its looks (their clock given): the backup link takes over
     * once the normal link has delivered nothing for more than 2 s, and stands by again at the
     * first look after the normal link delivers; each change is one event, stamped and kept.
     */
    @Test
    void aLinkSetsBackupTakesOverFromAQuietLinkAndStandsByWhenItDelivers() throws Exception {
        LinkSet set = new LinkSet(connector, ByteString.EMPTY, owner, System.nanoTime());
        Link normal = set.add(new LinkSpec("eth0", null, null, new LinkOptions(0, 0, 1)));
        Link backup = set.add(new LinkSpec("usb0", null, null, new LinkOptions(0, 0, 1, true)));
        links.addAll(List.of(normal, backup));
        assertThat(Connector.await(normal.connect())).isNull();
        assertThat(Connector.await(backup.connect())).isNull();
        set.publish();
        CompletableFuture<Void> ready = CompletableFuture.completedFuture(null);
        set.start(keeper, store, true, "", List.of(ready, ready));
        Conn n = server.attached(0);
        Conn b = server.attached(1);
        assertThat(b.attach().getLinkName()).isEqualTo("usb0");
        assertThat(b.attach().getStandby()).isTrue();
        await(normal::up, "the normal link up");
        long t0 = System.nanoTime();
        long ms = TimeUnit.MILLISECONDS.toNanos(1);

        set.look(t0, 0, Long.MAX_VALUE);
        set.look(t0 + 2000 * ms, 2, Long.MAX_VALUE);
        assertThat(backup.standingBy()).as("2 s quiet: not yet").isTrue();
        set.look(t0 + 2000 * ms + 1, 2, Long.MAX_VALUE);
        assertThat(backup.standingBy()).as("past 2 s quiet: taken over").isFalse();
        await(() -> b.received.stream().anyMatch(e -> e.hasCredit() && e.getCredit().getWindow() > 0),
                "the backup's window opened");

        n.sendPiece(0, false);
        await(() -> normal.carried() == PIECE, "the normal link delivers");
        set.look(t0 + 2200 * ms, 2.2, Long.MAX_VALUE);

        assertThat(backup.standingBy()).isTrue();
        assertThat(owner.events).containsExactly("link usb0 took over (no other link delivered for 2 s)",
                "link usb0 stands by again (another link delivers)");
        assertThat(set.events()).extracting(LinkEvent::kind).containsExactly("took_over", "stood_by");
        assertThat(set.stats()).extracting(LinkStats::iface).containsExactly("eth0", "usb0");
    }

    /** A link of one flow, connected, not started. */
    private Link unstarted() throws Exception {
        Link link = new Link(new LinkSpec("one", null, null, new LinkOptions(0, 0, 1)), 1, connector, ByteString.EMPTY, owner);
        links.add(link);
        assertThat(Connector.await(link.connect())).isNull();
        return link;
    }

    /** A link of {@code flows} flows (fixed) and cap, connected and started with a server that shares caps over flows. */
    private Link started(int flows, long cap) throws Exception {
        Link link = new Link(new LinkSpec("flows", null, null, new LinkOptions(cap, 0, flows)), 1, connector, ByteString.EMPTY, owner);
        links.add(link);
        assertThat(Connector.await(link.connect())).isNull();
        link.start(keeper, store, true, "");
        return link;
    }

    private byte[] digest(int index) {
        var md = Digests.sha256();
        md.update(file, (int) layout.offset(index), layout.length(index));
        return md.digest();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within 20 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    /** Connects over the in-process transport; refuses the next n connections when told to. */
    private final class FakeConnector implements Connector {
        final List<Long> calls = new CopyOnWriteArrayList<>();
        final List<LinkSpec> specs = new CopyOnWriteArrayList<>();
        private final AtomicInteger refuse = new AtomicInteger();

        void refuseNext(int n) {
            refuse.set(n);
        }

        @Override
        public CompletableFuture<Void> connect(LinkSpec spec, int turn, LinkHandler handler) {
            calls.add(System.nanoTime());
            specs.add(spec);
            if (refuse.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                return CompletableFuture.failedFuture(new ConnectException("refused by the test"));
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            new Bootstrap().group(loops).channel(LocalChannel.class).handler(handler).connect(address)
                    .addListener(f -> {
                        if (f.isSuccess()) {
                            done.complete(null);
                        } else {
                            done.completeExceptionally(f.cause());
                        }
                    });
            return done;
        }
    }

    /** The server's side: answers as biternet-serve would, and records what each connection received. */
    private final class FakeServer {
        final List<Conn> conns = new CopyOnWriteArrayList<>();
        final List<dev.biternet.proto.OpenSession> opens = new CopyOnWriteArrayList<>();
        /** Says so in Welcome, and attaches a connection whose OpenSession asks it (session 1), sending piece 0 at once. */
        volatile boolean openAttaches;

        Conn connection() {
            Conn c = new Conn();
            conns.add(c);
            return c;
        }

        /** The session as opened the n-th time (same file, its own id). */
        SessionOpened session(int n) {
            ByteString digests = ByteString.EMPTY;
            for (int i = 0; i < PIECES; i++) {
                digests = digests.concat(ByteString.copyFrom(digest(i)));
            }
            return SessionOpened.newBuilder().setSessionId(ByteString.copyFromUtf8("s" + n))
                    .setAttachSecret(ByteString.copyFromUtf8("secret")).setFileSize(file.length)
                    .setPieceSize(PIECE).setPieceCount(PIECES).setFileVersion(7)
                    .setHashes(PieceHashes.newBuilder().setFirstIndex(0).setDigests(digests)).build();
        }

        /** The n-th connection (from 0), once it has attached. */
        Conn attached(int n) throws InterruptedException {
            await(() -> conns.size() > n && conns.get(n).attach() != null, "connection " + n + " attached");
            return conns.get(n);
        }
    }

    private final class Conn extends ChannelInboundHandlerAdapter {
        final List<Envelope> received = new CopyOnWriteArrayList<>();
        volatile Channel channel;
        volatile long closedNanos;

        dev.biternet.proto.Attach attach() {
            return received.stream().filter(Envelope::hasAttach).map(Envelope::getAttach).findFirst().orElse(null);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            ctx.channel().closeFuture().addListener(f -> closedNanos = System.nanoTime());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            Envelope e = (Envelope) msg;
            received.add(e);
            switch (e.getBodyCase()) {
                case HELLO -> ctx.writeAndFlush(Envelope.newBuilder().setWelcome(Welcome.newBuilder()
                        .setProtocolVersion(Frames.OLDEST_PROTOCOL_VERSION).setFlowGroups(true)
                        .setOpenAttaches(server.openAttaches)).build());
                case OPEN_SESSION -> {
                    if (server.openAttaches && e.getOpenSession().hasAttach()) {
                        ctx.write(Envelope.newBuilder().setSessionOpened(server.session(1)).build());
                        ctx.write(Envelope.newBuilder().setAttached(Attached.getDefaultInstance()).build());
                        sendPiece(0, false);
                        return;
                    }
                    server.opens.add(e.getOpenSession());
                    ctx.writeAndFlush(Envelope.newBuilder().setSessionOpened(server.session(1 + server.opens.size())).build());
                }
                case ATTACH -> ctx.writeAndFlush(Envelope.newBuilder().setAttached(Attached.getDefaultInstance()).build());
                default -> { }
            }
        }

        /** Piece {@code index} in one block, its bytes flipped if {@code corrupt}. */
        void sendPiece(int index, boolean corrupt) {
            sendPiece(index, corrupt, -1);
        }

        /** ... with what the server's TCP retransmitted on this connection so far (-1: not said). */
        void sendPiece(int index, boolean corrupt, long retransmitted) {
            byte[] bytes = java.util.Arrays.copyOfRange(file, (int) layout.offset(index),
                    (int) layout.offset(index) + layout.length(index));
            if (corrupt) {
                bytes[0] ^= 1;
            }
            PieceHeader.Builder header = PieceHeader.newBuilder().setIndex(index).setOffset(layout.offset(index))
                    .setLength(layout.length(index));
            if (retransmitted >= 0) {
                header.setRetransmittedBytes(retransmitted);
            }
            channel.write(header.build());
            channel.writeAndFlush(new PieceData(Unpooled.wrappedBuffer(bytes), true));
        }
    }

    /** The download's side: records what the link reports. */
    private static final class Owner implements LinkOwner {
        volatile boolean over;
        final List<String> failures = new CopyOnWriteArrayList<>();
        final List<String> warnings = new CopyOnWriteArrayList<>();
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public boolean over() {
            return over;
        }

        @Override
        public void localFailure(String reason) {
            failures.add("local: " + reason);
        }

        @Override
        public void refused(String reason) {
            failures.add("refused: " + reason);
        }

        @Override
        public void integrity(String reason) {
            failures.add("integrity: " + reason);
        }

        @Override
        public void warn(String message) {
            warnings.add(message);
        }

        @Override
        public void event(LinkEvent event) {
            events.add(event.text());
        }

        @Override
        public void trace(String event) {
        }
    }
}
