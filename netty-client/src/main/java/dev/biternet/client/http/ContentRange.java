package dev.biternet.client.http;

/**
 * A {@code Content-Range: bytes FIRST-LAST/TOTAL} header, read strictly (a mirror's answer is
 * input like any other): the total must be known, and FIRST <= LAST < TOTAL.
 */
public record ContentRange(long first, long last, long total) {
    public static ContentRange parse(String header) throws HttpFailure {
        String h = header == null ? "" : header.trim();
        try {
            if (!h.startsWith("bytes ")) {
                throw new NumberFormatException();
            }
            int dash = h.indexOf('-', 6);
            int slash = h.indexOf('/', dash + 1);
            long first = Long.parseLong(h.substring(6, dash).trim());
            long last = Long.parseLong(h.substring(dash + 1, slash).trim());
            long total = Long.parseLong(h.substring(slash + 1).trim());
            if (first < 0 || last < first || total <= last) {
                throw new NumberFormatException();
            }
            return new ContentRange(first, last, total);
        } catch (NumberFormatException | IndexOutOfBoundsException e) {
            throw new HttpFailure(HttpFailure.Kind.REFUSED, "the mirror sent a bad Content-Range: '"
                    + h.substring(0, Math.min(h.length(), 80)) + "'");
        }
    }

    public long length() {
        return last - first + 1;
    }
}
