package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Error;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Why a connection ended, as the user reads it in the summary's link states and the reconnect lines. */
class EndingTest {
    private final Ending ending = new Ending();

    @Test
    void theFirstFailureIsTheReason() {
        ending.failed(new IOException("connection reset"));
        ending.failed(new IOException("later"));
        ending.unlessKnown("nothing received for 10 s");

        assertThat(ending.closedWith()).isEqualTo("connection reset");
        assertThat(ending.state(true, true, false)).isEqualTo("failed: connection reset");
        assertThat(ending.local()).isFalse();
    }

    @Test
    void aLocalWriteFailureIsTheFilesFaultNotTheLinks() {
        ending.failed(new LocalWriteException("cannot write f.part: No space left on device", new IOException()));

        assertThat(ending.local()).isTrue();
        assertThat(ending.closedWith()).isEqualTo("cannot write f.part: No space left on device");
    }

    @Test
    void theServersErrorSaysMoreExactlyWhyAndKeepsItsCode() {
        ending.failed(new IOException("connection reset"));
        ending.serverSaid(Error.newBuilder().setCode(Error.Code.LIMIT_EXCEEDED).setMessage("too many sessions").build());

        assertThat(ending.closedWith()).isEqualTo("server: too many sessions");
        assertThat(ending.serverError()).isEqualTo(Error.Code.LIMIT_EXCEEDED);
    }

    @Test
    void aConnectionIsDroppedOnce() {
        assertThat(ending.drop("3 pieces failed their hash")).isTrue();
        assertThat(ending.drop("4 pieces failed their hash")).isFalse();

        assertThat(ending.state(true, true, false)).isEqualTo("dropped: 3 pieces failed their hash");
    }

    @Test
    void beforeItEndsTheStateIsWaitingStandbyOrUp() {
        assertThat(ending.state(false, false, false)).isEqualTo("waiting");
        assertThat(ending.state(false, true, true)).isEqualTo("standby");
        assertThat(ending.state(false, true, false)).isEqualTo("up");
        assertThat(ending.state(true, true, false)).as("closed with no reason").isEqualTo("closed");
        assertThat(ending.unanswered()).hasMessage("connection closed");
        ending.because("retired");
        assertThat(ending.closedWith()).isEqualTo("retired");
    }
}
