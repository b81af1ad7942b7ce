package dev.biternet.client;

/** Process exit codes of biternet-get, listed in its --help and the README. */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int USAGE = 2;
    public static final int NETWORK = 3;
    public static final int INTEGRITY = 4;
    public static final int LOCAL_IO = 5;
    public static final int SERVER_REFUSED = 6;
    /** --doctor: a link's traffic would not leave through its interface. */
    public static final int ROUTING = 7;

    private ExitCodes() {}
}
