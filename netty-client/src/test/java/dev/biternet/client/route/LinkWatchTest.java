package dev.biternet.client.route;

import static dev.biternet.client.route.LinkWatch.REJUDGE_NANOS;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * When {@code --iface auto} judges the routes of interfaces that are not links yet (an {@code ip}
 * process each): on a kernel event, a new set of them, or every 5 s; never with none.
 */
class LinkWatchTest {
    private static final List<String> WLAN = List.of("wlan0");

    @Test
    void routesAreJudgedOnAnEventANewSetOrEveryFiveSeconds() {
        assertThat(LinkWatch.judgeAgain(WLAN, List.of(), 0, false)).as("a new set").isTrue();
        assertThat(LinkWatch.judgeAgain(WLAN, WLAN, 0, true)).as("a kernel event").isTrue();
        assertThat(LinkWatch.judgeAgain(WLAN, WLAN, REJUDGE_NANOS, false)).as("5 s since").isTrue();
        assertThat(LinkWatch.judgeAgain(WLAN, WLAN, REJUDGE_NANOS - 1, false)).as("the same set, polled").isFalse();
    }

    @Test
    void withNoInterfaceToJudgeNothingRuns() {
        assertThat(LinkWatch.judgeAgain(List.of(), WLAN, REJUDGE_NANOS, true)).isFalse();
    }
}
