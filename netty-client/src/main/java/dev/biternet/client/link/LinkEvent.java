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

    /**
     * What users read when a link's interface changed from {@code was} to {@code now} (the same
     * link; a null local address: gone, down or without one): it left, joined or was rebound.
     */
    public static LinkEvent changed(LinkSpec was, LinkSpec now) {
        String name = was.name();
        if (now.localAddress() == null) {
            return of(name, "left", "", "link " + name
                    + " left (its interface is gone, down or without an address); it rejoins when it returns");
        }
        if (was.localAddress() == null) {
            return of(name, "joined", now.addressText(), "link " + name + " joined (" + now.addressText() + ")");
        }
        return of(name, "rebound", now.addressText(), "link " + name + " rebound to " + now.addressText()
                + " (was " + was.addressText() + ")");
    }

    /** What users read when {@code --iface auto} took {@code spec}'s interface mid-download. */
    public static LinkEvent autoJoined(LinkSpec spec) {
        return of(spec.name(), "joined", spec.addressText(), "link " + spec.name() + " joined (" + spec.addressText()
                + ", --iface auto)");
    }

    /** This event at {@code seconds} into the download. */
    public LinkEvent at(double seconds) {
        return new LinkEvent(seconds, link, kind, address, text);
    }
}
