package dev.biternet.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.util.internal.logging.InternalLogger;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class NettyLogTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final InternalLogger log = new NettyLog(new PrintStream(bytes, true, StandardCharsets.UTF_8))
            .newInstance("io.netty.channel.DefaultChannelPipeline");

    private String printed() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aWarningWithItsCauseIsOneLineWithTheClientsPrefix() {
        // What Netty's pipeline logs when an exception reaches its tail.
        log.warn("An exceptionCaught() event was fired, and it reached at the tail of the pipeline. It usually means"
                + " the last handler in the pipeline did not handle the exception.", new IOException("Connection reset by peer"));
        assertThat(printed()).isEqualTo("biternet-get: warning: netty: An exceptionCaught() event was fired, and it"
                + " reached at the tail of the pipeline. It usually means the last handler in the pipeline did not handle"
                + " the exception.: java.io.IOException: Connection reset by peer" + System.lineSeparator());
    }

    @Test
    void placeholdersAreFilledInOrderAndATrailingThrowableIsAppended() {
        log.error("Failed to submit a listener notification task. Event loop {} shut down? {}", "loop-1",
                new IllegalStateException("rejected"));
        assertThat(printed()).isEqualTo("biternet-get: error: netty: Failed to submit a listener notification task."
                + " Event loop loop-1 shut down? java.lang.IllegalStateException: rejected" + System.lineSeparator());
        assertThat(NettyLog.format("{} of {} {}", 1, 2, 3, new IOException("x"))).isEqualTo("1 of 2 3: java.io.IOException: x");
        assertThat(NettyLog.format("no placeholders", "extra")).isEqualTo("no placeholders");
        assertThat(NettyLog.format("more {} than {} args {}", "a")).isEqualTo("more a than {} args {}");
    }

    @Test
    void aMultiLineMessageStaysOnOneLine() {
        log.warn("first\r\nsecond");
        assertThat(printed()).isEqualTo("biternet-get: warning: netty: first  second" + System.lineSeparator());
    }

    @Test
    void aWrappedExceptionShowsItsRootCause() {
        log.warn("Failed to close a channel.", new IllegalStateException("close failed",
                new IOException("wrapped", new java.net.SocketException("Broken pipe"))));
        assertThat(printed()).isEqualTo("biternet-get: warning: netty: Failed to close a channel.:"
                + " java.lang.IllegalStateException: close failed (cause: java.net.SocketException: Broken pipe)"
                + System.lineSeparator());
    }

    @Test
    void nullsAndArraysNeitherThrowNorPrintIdentities() {
        log.warn((String) null);
        log.warn("args {}", (Object[]) null);
        log.error("values {} and {}", new Object[] {1, 2}, null);
        log.warn("no cause", (Throwable) null);
        assertThat(printed()).isEqualTo(String.join(System.lineSeparator(),
                "biternet-get: warning: netty: null",
                "biternet-get: warning: netty: args {}",
                "biternet-get: error: netty: values [1, 2] and null",
                "biternet-get: warning: netty: no cause: null", ""));
    }

    @Test
    void nothingBelowWarningIsPrinted() {
        log.trace("t");
        log.debug("d {}", 1);
        log.info("i {} {}", 1, 2);
        log.info("i", new IOException("x"));
        assertThat(log.isDebugEnabled()).isFalse();
        assertThat(log.isWarnEnabled()).isTrue();
        assertThat(printed()).isEmpty();
    }
}
