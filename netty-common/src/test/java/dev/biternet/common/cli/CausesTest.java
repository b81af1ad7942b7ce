package dev.biternet.common.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import org.junit.jupiter.api.Test;

class CausesTest {
    @Test
    void theMessageAtTheBottomOfTheChainIsWhatTheUserSees() {
        Exception e = new IllegalStateException("connect failed",
                new UncheckedIOException(new IOException("wrapped", new ConnectException("Connection refused"))));
        assertThat(Causes.root(e)).isInstanceOf(ConnectException.class);
        assertThat(Causes.rootMessage(e)).isEqualTo("Connection refused");
    }

    @Test
    void anExceptionWithoutCauseOrMessageIsNamedByItsClass() {
        IOException plain = new IOException();
        assertThat(Causes.root(plain)).isSameAs(plain);
        assertThat(Causes.rootMessage(plain)).isEqualTo("IOException");
        assertThat(Causes.rootMessage(new IOException("Broken pipe"))).isEqualTo("Broken pipe");
    }
}
