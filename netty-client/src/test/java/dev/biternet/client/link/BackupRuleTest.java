package dev.biternet.client.link;

import static dev.biternet.client.link.BackupRule.STANDBY_NANOS;
import static dev.biternet.client.link.BackupRule.TAKEOVER_NANOS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.quicktheories.QuickTheory.qt;
import static org.quicktheories.generators.SourceDSL.lists;
import static org.quicktheories.generators.SourceDSL.longs;

import dev.biternet.client.link.BackupRule.Verdict;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * When backup links carry pieces: they take over after 2 s without a normal link delivering and
 * stand by again when one delivered within 400 ms; in between they stay as they are.
 */
class BackupRuleTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    @Test
    void theBoundsAreTwoSecondsAndTwoLooks() {
        assertThat(TAKEOVER_NANOS).isEqualTo(2000 * MS);
        assertThat(STANDBY_NANOS).isEqualTo(400 * MS);
    }

    @Test
    void withNoNormalLinkUpTheBackupsTakeOver() {
        assertThat(BackupRule.judge(new long[0])).isEqualTo(Verdict.TAKE_OVER);
    }

    @Test
    void theyTakeOverOnlyOnceEveryNormalLinkWasQuietForMoreThanTwoSeconds() {
        assertThat(BackupRule.judge(new long[] {2000 * MS})).isEqualTo(Verdict.AS_THEY_ARE);
        assertThat(BackupRule.judge(new long[] {2000 * MS + 1})).isEqualTo(Verdict.TAKE_OVER);
        assertThat(BackupRule.judge(new long[] {5000 * MS, 1999 * MS})).as("one normal link still delivers")
                .isEqualTo(Verdict.AS_THEY_ARE);
    }

    @Test
    void theyStandByAgainWhenANormalLinkDeliveredWithin400Ms() {
        assertThat(BackupRule.judge(new long[] {400 * MS})).isEqualTo(Verdict.STAND_BY);
        assertThat(BackupRule.judge(new long[] {400 * MS + 1})).isEqualTo(Verdict.AS_THEY_ARE);
        assertThat(BackupRule.judge(new long[] {9000 * MS, 0})).as("another normal link lost").isEqualTo(Verdict.STAND_BY);
    }

    @Test
    void aBackupChangesOnlyWhenTheVerdictAsksForTheOtherState() {
        assertThat(Verdict.TAKE_OVER.standBy(true)).isFalse();
        assertThat(Verdict.TAKE_OVER.standBy(false)).as("already carrying").isNull();
        assertThat(Verdict.STAND_BY.standBy(false)).isTrue();
        assertThat(Verdict.STAND_BY.standBy(true)).as("already standing by").isNull();
        assertThat(Verdict.AS_THEY_ARE.standBy(true)).isNull();
        assertThat(Verdict.AS_THEY_ARE.standBy(false)).isNull();
    }

    /** Whatever the normal links' quiet times: take over iff all quiet past 2 s, stand by iff one within 400 ms. */
    @Test
    void theVerdictFollowsTheQuietestNormalLink() {
        qt().forAll(lists().of(longs().between(0, 10_000 * MS)).ofSizeBetween(0, 6)).checkAssert(quiet -> {
            long quietest = quiet.stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
            Verdict v = BackupRule.judge(quiet.stream().mapToLong(Long::longValue).toArray());
            assertThat(v == Verdict.TAKE_OVER).isEqualTo(quietest > TAKEOVER_NANOS);
            assertThat(v == Verdict.STAND_BY).isEqualTo(quietest <= STANDBY_NANOS);
        });
    }

    /**
     * Looks every 200 ms at one normal link that stops delivering at 1 s and delivers again at
     * 6 s: the backup takes over at the first look more than 2 s after the last delivery seen
     * (0.8 s), stands by at the first look after 6 s, and never flips in between.
     */
    @Test
    void overLooksTheBackupTakesOverOnceAndStandsByOnce() {
        boolean standingBy = true;
        StringBuilder changes = new StringBuilder();
        long lastDelivery = 0;
        for (long t = 0; t <= 8000 * MS; t += 200 * MS) {
            if (t < 1000 * MS || t >= 6000 * MS) {
                lastDelivery = t;
            }
            Boolean next = BackupRule.judge(new long[] {t - lastDelivery}).standBy(standingBy);
            if (next != null) {
                standingBy = next;
                changes.append(t / MS).append(next ? " stand by; " : " take over; ");
            }
        }
        assertThat(changes.toString()).isEqualTo("3000 take over; 6000 stand by; ");
    }
}
