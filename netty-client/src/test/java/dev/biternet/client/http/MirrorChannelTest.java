package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.client.link.LinkOptions;
import dev.biternet.client.link.LinkSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Channels over two loopback links to a real nginx, driven by the scheduler, into a real store. */
class MirrorChannelTest {
    @TempDir
    Path dir;

    @Test
    void twoLinksToOneMirrorAndADeadMirrorMakeTheFile() throws Exception {
        List<String> dropped = new CopyOnWriteArrayList<>();
        MirrorChannel.Events events = new MirrorChannel.Events() {
            @Override
            public void dropped(Mirror mirror, String why) {
                dropped.add(why);
            }

            @Override
            public void localFailure(String why) {
                dropped.add(why);
            }

            @Override
            public void trace(String event) {
            }
        };
        try (MirrorRig rig = new MirrorRig(dir, 5 * 1024 * 1024 + 3, 7, "", 5)) {
            Mirror good = rig.mirror("f.bin");
            Mirror gone = rig.mirror("missing.bin");
            for (String address : List.of("127.0.0.1", "127.0.0.2")) {
                LinkSpec link = MirrorRig.link(address);
                rig.channel(link, good, events);
                rig.channel(link, gone, events);
            }
            // A connection that fails at once (closed): its channel waits and retries, it does not
            // spin claiming and failing pieces on the thread that started it.
            MirrorConnection closed = new MirrorConnection(rig.dialer, MirrorRig.link("127.0.0.1"), good.url());
            closed.close();
            MirrorChannel failing = new MirrorChannel(closed, good, rig.scheduler, rig.store, rig.workers, rig.timer, events);
            org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(5), failing::start);
            rig.channels.forEach(MirrorChannel::start);
            assertThat(rig.finish()).isEqualTo(rig.file);
            assertThat(dropped).containsExactly(rig.nginx.url("missing.bin") + ": the mirror answered HTTP 404 Not Found");
            assertThat(rig.channels.get(0).bytes()).isPositive();
            assertThat(rig.channels.get(2).bytes()).isPositive();
        }
    }

    @Test
    void aRetiredChannelAsksForNothingMoreAndClosesOnceItsPiecesAreIn() throws Exception {
        // Below a piece a second (nginx sends a second's worth at once): the retire comes mid-download.
        try (MirrorRig rig = new MirrorRig(dir, 2 * 1024 * 1024, 8, "limit_rate 160k;", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            for (String address : List.of("127.0.0.1", "127.0.0.2")) {
                rig.channel(MirrorRig.link(address), mirror, QUIET);
            }
            rig.channels.forEach(MirrorChannel::start);
            MirrorChannel second = rig.channels.get(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (second.pieces() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            second.retire();
            int before = second.pieces();
            int asked = second.depth();
            assertThat(before).isPositive();
            assertThat(rig.finish()).isEqualTo(rig.file);
            // At most what it had asked for when retired came in after, and then it closed.
            assertThat(second.pieces()).isLessThanOrEqualTo(before + asked);
            assertThat(second.up()).isFalse();
            assertThat(second.state()).isEqualTo("retired");
            assertThat(rig.channels.get(0).pieces() + second.pieces()).isEqualTo(rig.layout.pieceCount());
        }
    }

    /**
     * A slow link (128 KiB/s, one request at a time) holds the last piece when the fast link (2 MiB/s) has
     * fetched every other: the fast one fetches the rest of it from where the two meet, and the
     * file is whole while the slow link's request is still coming in. Before splits, the fast
     * link copied the whole piece (or waited for the slow one).
     */
    @Test
    void aFastLinkFetchesTheTailOfThePieceASlowLinkHoldsAndTheFileIsWholeBeforeTheSlowOneEndsIt() throws Exception {
        int piece = 256 * 1024;
        try (MirrorRig rig = new MirrorRig(dir, 8 * piece, 11, "", 20)) {
            Mirror mirror = rig.mirror("f.bin");
            LinkSpec slowLink = MirrorRig.link("127.0.0.2").with(LinkOptions.NONE.withRate(piece / 2));
            MirrorChannel slow = new MirrorChannel(new MirrorConnection(rig.dialer, new HttpLink(slowLink), mirror.url()), mirror,
                    rig.scheduler, rig.store, rig.workers, rig.timer, QUIET, 1, () -> Integer.MAX_VALUE);
            rig.channels.add(slow);
            LinkSpec fastLink = MirrorRig.link("127.0.0.1").with(LinkOptions.NONE.withRate(8 * piece));
            MirrorChannel fast = new MirrorChannel(new MirrorConnection(rig.dialer, new HttpLink(fastLink), mirror.url()), mirror, rig.scheduler, rig.store, rig.workers, rig.timer, QUIET, 1, () -> Integer.MAX_VALUE);
            rig.channels.add(fast);
            slow.start();
            // The slow link's pace is known (piece 0 in) and it is a little way into piece 1.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (slow.arriving() < piece + piece / 8 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(slow.pieces()).isEqualTo(1);
            fast.start();
            assertThat(rig.finish()).isEqualTo(rig.file);
            assertThat(slow.pieces()).as("the slow link delivered piece 0 only").isEqualTo(1);
            assertThat(fast.pieces()).isEqualTo(7);
            long tail = fast.bytes() - 6L * piece;
            assertThat(tail).as("the fast link fetched only the tail of piece 1").isBetween(64L * 1024, piece - piece / 8L);
            assertThat(fast.duplicateBytes()).isZero();
            // The slow link's copy of piece 1 is not read to its end once the piece is whole:
            // its connection is closed (it would still have taken up to a second of the link).
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (slow.duplicates() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertThat(slow.duplicates()).as("its piece 1 ended as a late copy").isEqualTo(1);
            assertThat(slow.bytes()).as("piece 0 and the part of piece 1 it read").isLessThan(2L * piece);
            assertThat(slow.duplicateBytes()).as("what it read past the tail's start").isLessThan(tail);
        }
    }

    /** Events that fail the test on a dropped mirror or a disk failure. */
    static final MirrorChannel.Events QUIET = new MirrorChannel.Events() {
        @Override
        public void dropped(Mirror mirror, String why) {
            throw new AssertionError(why);
        }

        @Override
        public void localFailure(String why) {
            throw new AssertionError(why);
        }

        @Override
        public void trace(String event) {
        }
    };
}
