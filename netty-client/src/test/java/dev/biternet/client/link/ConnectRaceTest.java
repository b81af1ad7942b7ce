package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When a pending connect gets a second attempt: a few of the link's round trips, not before 250 ms, never at the kernel's own retry. */
class ConnectRaceTest {
    @Test
    void aLinkNotMeasuredYetRacesAfterTheLeastDelay() {
        assertThat(new ConnectRace().delayMillis("wlan0>10.0.0.1:7420")).isEqualTo(ConnectRace.MIN_MILLIS);
    }

    @Test
    void aMeasuredLinkRacesAfterThreeOfItsRoundTripsButNotBeforeTheLeastDelay() {
        ConnectRace race = new ConnectRace();
        race.measured("lte", 150);
        race.measured("lan", 2);

        assertThat(race.delayMillis("lte")).isEqualTo(450);
        assertThat(race.delayMillis("lan")).isEqualTo(ConnectRace.MIN_MILLIS);
        assertThat(race.delayMillis("other")).isEqualTo(ConnectRace.MIN_MILLIS);
    }

    @Test
    void aLinkWhoseRoundTripsReachTheKernelsRetryDoesNotRace() {
        ConnectRace race = new ConnectRace();
        race.measured("satellite", 600);

        assertThat(race.delayMillis("satellite")).isEqualTo(ConnectRace.NEVER);
    }

    /** A connect that waited for a retransmitted SYN says nothing of the link's round trip. */
    @Test
    void aConnectThatTookTheKernelsRetryTimeIsNotTakenAsTheRoundTrip() {
        ConnectRace race = new ConnectRace();
        race.measured("lte", 60);
        race.measured("lte", 1040);

        assertThat(race.delayMillis("lte")).isEqualTo(ConnectRace.MIN_MILLIS);
    }

    @Test
    void theLastMeasureCounts() {
        ConnectRace race = new ConnectRace();
        race.measured("lte", 300);
        race.measured("lte", 100);

        assertThat(race.delayMillis("lte")).isEqualTo(300);
    }
}
