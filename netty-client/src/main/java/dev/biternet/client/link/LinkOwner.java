package dev.biternet.client.link;

/**
 * The download a link serves, as its flows see it: whether it is over, and where a flow reports
 * what ends it. The download turns each report into its one-line message and exit code.
 */
public interface LinkOwner {
    /** True once the download has ended, finished or failed: no flow connects again. */
    boolean over();

    /** Writing the part file failed ({@code reason}: what and why). Ends the download. */
    void localFailure(String reason);

    /**
     * The server's answer is final ({@link ServerErrors#isFinal}), or the file is no longer the
     * one being fetched. Ends the download without writing the output.
     */
    void refused(String reason);

    /** The server's hashes disagree with those taken before. Ends the download. */
    void integrity(String reason);

    /** A line for the user: something went wrong but the download goes on. */
    void warn(String message);

    /** A link joined, left or was rebound to another address: one line for the user. */
    void event(LinkEvent event);

    /** An event for {@code --verbose}. */
    void trace(String event);
}
