package dev.biternet.server.security;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class UntrustedTextTest {
    @Test
    void controlCharactersQuotesAndLineSeparatorsAreEscaped() {
        assertThat(UntrustedText.quoted("a\nb\r\"c\"\\d\te\u0000f\u0085g\u2028h"))
                .isEqualTo("\"a\\nb\\r\\\"c\\\"\\\\d\\te\\u0000f\\u0085g\\u2028h\"");
        assertThat(UntrustedText.field("plain/path.iso")).isEqualTo("plain/path.iso");
    }

    @Test
    void longTextKeeps200CharactersAndCountsTheBytes() {
        String field = UntrustedText.field("é".repeat(1000));
        assertThat(field).isEqualTo("é".repeat(200) + "…(2000 bytes)");
    }

    @Test
    void aMessageLosesTheRootAndBoundsThePathItQuotes() {
        String path = "dir/" + "x".repeat(500) + "\n";
        String message = UntrustedText.message("cannot open " + path + ": /srv/files/" + path + ": Permission denied",
                path, "/srv/files");
        String shown = "dir/" + "x".repeat(196) + "…(505 bytes)";
        assertThat(message).isEqualTo("cannot open " + shown + ": " + shown + ": Permission denied");
        assertThat(UntrustedText.message("root /srv/files is busy", "a", "/srv/files")).isEqualTo("root . is busy");
    }

    @Test
    void aWholeMessageIsBounded() {
        String message = UntrustedText.message("y".repeat(5000), "p", "/r");
        assertThat(message).hasSize(UntrustedText.MAX_MESSAGE_CHARS + "…(5000 bytes)".length()).endsWith("…(5000 bytes)");
    }
}
