package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TargetTest {
    @Test
    void hostPortAndPath() {
        assertThat(Target.parse("biternet://server:7420/dir/big.iso")).isEqualTo(new Target("server", 7420, "dir/big.iso"));
    }

    @Test
    void defaultPort() {
        assertThat(Target.parse("biternet://10.0.0.1/f").port()).isEqualTo(Target.DEFAULT_PORT);
    }

    @Test
    void bracketedIpv6() {
        assertThat(Target.parse("biternet://[::1]:9000/f")).isEqualTo(new Target("::1", 9000, "f"));
    }

    @Test
    void fileNameIsTheLastSegment() {
        assertThat(Target.parse("biternet://h/a/b/c.bin").fileName()).isEqualTo("c.bin");
    }

    @Test
    void wrongSchemeMissingPathAndHostAreRefused() {
        assertThatThrownBy(() -> Target.parse("http://h/f")).hasMessageContaining("not a biternet URL");
        assertThatThrownBy(() -> Target.parse("biternet://h/")).hasMessageContaining("no file path");
        assertThatThrownBy(() -> Target.parse("biternet:///f")).hasMessageContaining("no host");
    }
}
