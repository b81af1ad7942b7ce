package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MirrorUrlTest {
    @Test
    void partsAndDefaults() {
        MirrorUrl u = MirrorUrl.parse("https://[::1]/pub/a%20b.iso?sig=x");
        assertThat(u).isEqualTo(new MirrorUrl(true, "::1", 443, "/pub/a%20b.iso?sig=x"));
        assertThat(u.hostHeader()).isEqualTo("[::1]");
        assertThat(u.fileName()).isEqualTo("a b.iso");
        assertThat(MirrorUrl.parse("http://h:8080/x+y.bin").fileName()).isEqualTo("x+y.bin");
    }

    @Test
    void aDecodedNameNeverLeavesTheOutputDirectory() {
        assertThat(MirrorUrl.parse("http://h/a%2F..%2Fetc%2Fpasswd").fileName()).isEqualTo("passwd");
        assertThatThrownBy(() -> MirrorUrl.parse("http://h/d/%2E%2E").fileName())
                .hasMessage("no usable file name in http://h/d/%2E%2E; name the output with -o");
    }

    @Test
    void badUrlsAreOneLine() {
        assertThatThrownBy(() -> MirrorUrl.parse("http:///f")).hasMessage("no host in http:///f");
        assertThatThrownBy(() -> MirrorUrl.parse("http://h/dir/")).hasMessage("no file name in http://h/dir/ (name a file)");
    }
}
