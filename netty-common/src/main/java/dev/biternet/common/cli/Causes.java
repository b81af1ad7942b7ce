package dev.biternet.common.cli;

/** What went wrong at the bottom of an exception chain, for one-line messages to the user. */
public final class Causes {
    private Causes() {}

    /** The last cause in {@code t}'s chain ({@code t} itself when it has none). */
    public static Throwable root(Throwable t) {
        Throwable c = t;
        while (c.getCause() != null && c.getCause() != c) {
            c = c.getCause();
        }
        return c;
    }

    /** The root cause's message, or its class's simple name when it has none. */
    public static String rootMessage(Throwable t) {
        Throwable c = root(t);
        return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
    }
}
