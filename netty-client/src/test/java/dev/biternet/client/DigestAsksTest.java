package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DigestAsksTest {
    private static final long MS = 1_000_000;

    /** Asks sent in {@code seconds} while nothing comes back, asking whenever it is due (every 10 ms). */
    private static int asksWhileNothingComes(DigestAsks asks, int known, long seconds) {
        int n = 0;
        for (long t = 0; t <= seconds * 1000; t += 10) {
            if (asks.due(known, t * MS)) {
                asks.asked(known, t * MS);
                n++;
            }
        }
        return n;
    }

    @Test
    void anAnswerStillOnItsWayIsNotAskedForAgainEverySecond() {
        // A whole-file answer of 8 MiB on a 2 Mbit/s link takes 33 s: asked at 0, 1, 3, 7, 15, 31 s
        // (it was 34 times, each answer queued again ahead of the link's pieces).
        assertThat(asksWhileNothingComes(new DigestAsks(), 0, 33)).isEqualTo(6);
        // and never more than one a 32 s once backed off
        DigestAsks asks = new DigestAsks();
        assertThat(asksWhileNothingComes(asks, 0, 600)).isLessThanOrEqualTo(6 + 600 / 32);
    }

    @Test
    void anAskThatBroughtDigestsIsFollowedASecondLater() {
        DigestAsks asks = new DigestAsks();
        asksWhileNothingComes(asks, 0, 20); // backed off: the last ask at 15 s, the next due at 31 s
        long since = 15_000;
        assertThat(asks.due(0, 20_000 * MS)).as("nothing came: the wait is 16 s").isFalse();
        // the server, still hashing, sent what it had: the rest is asked for a second after the last ask
        assertThat(asks.due(100, (since + 500) * MS)).as("known rose, but a second has not passed").isFalse();
        assertThat(asks.due(100, (since + 1000) * MS)).isTrue();
        asks.asked(100, (since + 1000) * MS);
        // the backoff starts over: a second, then two
        assertThat(asks.due(100, (since + 1500) * MS)).isFalse();
        assertThat(asks.due(100, (since + 2000) * MS)).isTrue();
        asks.asked(100, (since + 2000) * MS);
        assertThat(asks.due(100, (since + 3500) * MS)).as("nothing new since: wait 2 s").isFalse();
        assertThat(asks.due(100, (since + 4000) * MS)).isTrue();
    }
}
