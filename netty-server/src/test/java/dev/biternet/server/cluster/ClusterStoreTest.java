package dev.biternet.server.cluster;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

/** What an operator sees when --cluster names no usable store: one line, never the password. */
class ClusterStoreTest {
    @Test
    void aUriThatDoesNotParseIsNamedWithoutItsPassword() {
        assertThatThrownBy(() -> ClusterStore.open("redis://:hunter2@[bad"))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("--cluster redis://***@[bad: not a Redis URI")
                .hasMessageContaining("use redis://")
                .hasMessageNotContaining("hunter2")
                .hasMessageNotContaining("\n");
    }

    @Test
    void aStoreThatCannotBeReachedIsOneLineNamingIt() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        int closed = port;
        assertThatThrownBy(() -> ClusterStore.open("redis://:hunter2@127.0.0.1:" + closed))
                .isInstanceOf(IOException.class)
                .hasMessageStartingWith("--cluster: cannot reach the store at 127.0.0.1:" + closed + ": ")
                .hasMessageNotContaining("hunter2")
                .hasMessageNotContaining("\n");
    }
}
