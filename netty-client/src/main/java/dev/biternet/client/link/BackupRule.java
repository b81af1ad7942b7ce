package dev.biternet.client.link;

import java.util.concurrent.TimeUnit;

/**
 * Whether a download's backup links ({@code :backup}) carry pieces, from how long each normal
 * link that is up has gone without delivering: they take over when none delivered for
 * {@link #TAKEOVER_NANOS} (all cut, down or silent), and stand by again as soon as one
 * delivered within {@link #STANDBY_NANOS} (two of {@link LinkSet}'s looks). Between the two the
 * backups stay as they are, so a normal link that stutters does not flip them at every look.
 * Pure: {@link LinkSet} measures and applies it.
 */
public final class BackupRule {
    /** No normal link delivered for this long: backup links take over. */
    public static final long TAKEOVER_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** A normal link delivered within this long: backup links stand by again. */
    public static final long STANDBY_NANOS = TimeUnit.MILLISECONDS.toNanos(2 * LinkSet.LOOK_MILLIS);

    /** What the backup links should do now. */
    public enum Verdict {
        TAKE_OVER, STAND_BY, AS_THEY_ARE;

        /** Whether a backup link standing by ({@code standingBy}) now or not should stand by; null: as it is. */
        public Boolean standBy(boolean standingBy) {
            if (this == TAKE_OVER && standingBy) {
                return false;
            }
            return this == STAND_BY && !standingBy ? true : null;
        }
    }

    private BackupRule() {}

    /** @param quietNanos for each normal link that is up, how long since it last delivered */
    public static Verdict judge(long[] quietNanos) {
        boolean delivered = false;
        boolean recently = false;
        for (long quiet : quietNanos) {
            delivered |= quiet <= TAKEOVER_NANOS;
            recently |= quiet <= STANDBY_NANOS;
        }
        return !delivered ? Verdict.TAKE_OVER : recently ? Verdict.STAND_BY : Verdict.AS_THEY_ARE;
    }
}
