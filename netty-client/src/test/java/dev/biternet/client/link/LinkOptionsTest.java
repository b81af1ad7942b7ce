package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The one rule for a link's cap, which the link, its connections and the progress line all ask. */
class LinkOptionsTest {
    @Test
    void aCapIsReachedWhenTheNextPieceWouldPassIt() {
        LinkOptions capped = new LinkOptions(2000, 0, 1);

        assertThat(capped.capReached(1000, 1000)).as("the next piece ends exactly at the cap").isFalse();
        assertThat(capped.capReached(1001, 1000)).isTrue();
        assertThat(LinkOptions.NONE.capReached(Long.MAX_VALUE / 2, 1 << 20)).as("no cap").isFalse();
    }
}
