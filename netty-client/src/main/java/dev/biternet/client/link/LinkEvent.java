package dev.biternet.client.link;

/**
 * A link that joined, left or was rebound to another address mid-download, as the user reads it
 * (progress lines, {@code --json events}).
 *
 * @param seconds since the download started (set by the download when it records the event)
 * @param link the link's name
 * @param kind {@code joined}, {@code left} or {@code rebound}
 * @param address the link's address from now on ("" when it left)
 */
public record LinkEvent(double seconds, String link, String kind, String address, String text) {
    public static LinkEvent of(String link, String kind, String address, String text) {
        return new LinkEvent(0, link, kind, address, text);
    }

    /** This event at {@code seconds} into the download. */
    public LinkEvent at(double seconds) {
        return new LinkEvent(seconds, link, kind, address, text);
    }
}
