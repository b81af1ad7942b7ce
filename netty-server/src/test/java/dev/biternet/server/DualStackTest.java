package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.biternet.server.BiternetServerTest.WireClient;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** biternet-serve without --host answers on IPv4 and IPv6 alike, and on IPv4 alone where there is no IPv6. */
@Timeout(60)
class DualStackTest {
    @TempDir
    Path dir;
    private ServeProcess serve;

    @AfterEach
    void kill() {
        if (serve != null) {
            serve.close();
        }
    }

    @Test
    void withoutHostItAnswersOn127001AndOnIpv6Loopback() throws Exception {
        serve = ServeProcess.start(dir.resolve("serve.err"), "--root", Files.createDirectory(dir.resolve("r")).toString(),
                "--port", "0");
        int port = serve.address().getPort();
        try (WireClient v4 = new WireClient(new InetSocketAddress("127.0.0.1", port))) {
            v4.hello();
        }
        assumeTrue(hasIpv6Loopback(), "this machine has no IPv6 loopback (::1); the IPv4 half passed");
        assertThat(serve.firstLine).contains(" on :: port ");
        try (WireClient v6 = new WireClient(new InetSocketAddress("::1", port))) {
            v6.hello();
        }
        assertThat(serve.stderr()).doesNotContain("no IPv6");
    }

    @Test
    void withoutIpv6ItListensOnIpv4AndSaysSoInOneLine() throws Exception {
        serve = ServeProcess.start(dir.resolve("serve.err"), List.of("-Djava.net.preferIPv4Stack=true"),
                "--root", Files.createDirectory(dir.resolve("r")).toString(), "--port", "0");
        assertThat(serve.firstLine).contains(" on 0.0.0.0 port ");
        try (WireClient v4 = new WireClient(new InetSocketAddress("127.0.0.1", serve.address().getPort()))) {
            v4.hello();
        }
        assertThat(serve.stderr().lines().filter(l -> l.contains("no IPv6")).toList()).singleElement()
                .satisfies(l -> assertThat(l).startsWith("biternet-serve: no IPv6 on this host").endsWith("listening on IPv4 only (0.0.0.0)"));
    }

    private static boolean hasIpv6Loopback() {
        try (ServerSocketChannel probe = ServerSocketChannel.open(StandardProtocolFamily.INET6)) {
            probe.bind(new InetSocketAddress(InetAddress.getByName("::1"), 0));
            return true;
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
