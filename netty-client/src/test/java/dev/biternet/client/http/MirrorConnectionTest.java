package dev.biternet.client.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.client.link.LinkSpec;
import dev.biternet.common.transport.Transport;
import io.netty.channel.EventLoopGroup;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Range requests over real sockets, to a real nginx, out of a link bound to a loopback address. */
class MirrorConnectionTest {
    @TempDir
    static Path dir;
    private static Nginx nginx;
    private static EventLoopGroup group;
    private static HttpDialer dialer;
    private static byte[] file;

    @BeforeAll
    static void start() throws Exception {
        Nginx.require();
        file = new byte[3 * 1024 * 1024 + 17];
        new Random(19).nextBytes(file);
        Path root = Files.createDirectories(dir.resolve("root"));
        Files.write(root.resolve("f.bin"), file);
        Files.createDirectories(root.resolve("norange"));
        Files.write(root.resolve("norange/f.bin"), file);
        nginx = Nginx.start(root, dir.resolve("nginx"), """
                location = /moved.bin { return 302 /f.bin; }
                location = /loop.bin { return 302 /loop.bin; }
                location /norange/ { max_ranges 0; }
                """);
        Transport t = Transport.best();
        group = t.newGroup(1);
        dialer = new HttpDialer(t, group, null, 2000, 5, w -> { });
    }

    @AfterAll
    static void stop() throws Exception {
        if (nginx != null) {
            nginx.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static LinkSpec link(String address) throws Exception {
        return new LinkSpec(address, InetAddress.getByName(address), null);
    }

    private static byte[] fetch(MirrorConnection c, long first, int length) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        c.fetch(first, length, file.length, Validators.NONE, (offset, data) -> {
            byte[] b = new byte[data.readableBytes()];
            data.getBytes(data.readerIndex(), b);
            got.writeBytes(b);
        }).get(10, TimeUnit.SECONDS);
        return got.toByteArray();
    }

    @Test
    void rangesComeBackExactOnOneKeptAliveConnection() throws Exception {
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.2"), MirrorUrl.parse(nginx.url("f.bin")))) {
            int piece = 1 << 20;
            for (int i = 0; i * piece < file.length; i++) {
                int len = Math.min(piece, file.length - i * piece);
                assertThat(fetch(c, (long) i * piece, len)).isEqualTo(Arrays.copyOfRange(file, i * piece, i * piece + len));
            }
            RangeRequest.Answer a = c.fetch(0, 1, -1, Validators.NONE, (o, d) -> { }).get();
            assertThat(a.size()).isEqualTo(file.length);
            assertThat(a.validators().etag()).isNotEmpty();
        }
    }

    @Test
    void rangesAskedBeforeTheConnectionIsUpAreSentAndAnsweredInTheOrderAsked() throws Exception {
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.3"), MirrorUrl.parse(nginx.url("f.bin")))) {
            List<Long> firstBytes = new java.util.concurrent.CopyOnWriteArrayList<>();
            List<java.util.concurrent.CompletableFuture<RangeRequest.Answer>> asked = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                long first = i * 65536L;
                asked.add(c.fetch(first, 65536, file.length, Validators.NONE, (offset, data) -> {
                    if (offset == first) {
                        firstBytes.add(first);
                    }
                }));
            }
            for (var f : asked) {
                f.get(10, TimeUnit.SECONDS);
            }
            assertThat(firstBytes).as("the answers' order (a range's bytes come in the order it was asked)")
                    .containsExactly(0L, 65536L, 131072L, 196608L);
        }
    }

    @Test
    void aRedirectIsFollowedAndARedirectLoopIsRefused() throws Exception {
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.1"), MirrorUrl.parse(nginx.url("moved.bin")))) {
            assertThat(fetch(c, 5, 100)).isEqualTo(Arrays.copyOfRange(file, 5, 105));
            assertThat(c.url()).hasToString(nginx.url("f.bin"));
        }
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.1"), MirrorUrl.parse(nginx.url("loop.bin")))) {
            assertThatThrownBy(() -> fetch(c, 0, 10)).isInstanceOf(ExecutionException.class)
                    .cause().hasMessage("more than 5 redirects from " + nginx.url("loop.bin"));
        }
    }

    @Test
    void aMirrorWithoutRangesIsNamedAndServesTheWholeFile() throws Exception {
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.1"), MirrorUrl.parse(nginx.url("norange/f.bin")))) {
            assertThatThrownBy(() -> fetch(c, 0, 10)).cause().isInstanceOf(HttpFailure.class)
                    .hasMessage("the mirror ignores Range requests (it sent the whole file)");
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            c.fetchWhole(file.length, Validators.NONE, (offset, data) -> {
                assertThat(offset).isEqualTo(got.size());
                byte[] b = new byte[data.readableBytes()];
                data.getBytes(data.readerIndex(), b);
                got.writeBytes(b);
            }).get(10, TimeUnit.SECONDS);
            assertThat(got.toByteArray()).isEqualTo(file);
        }
    }

    @Test
    void httpsChecksTheCertificateUnlessTrusted() throws Exception {
        dev.biternet.client.TestCerts certs = dev.biternet.client.TestCerts.create(dir, "mirror");
        try (Nginx secure = Nginx.start(dir.resolve("root"), dir.resolve("nginx-tls"), "", certs)) {
            MirrorUrl url = MirrorUrl.parse("https://localhost:" + secure.port() + "/f.bin");
            HttpDialer untrusting = new HttpDialer(Transport.best(), group,
                    dev.biternet.client.link.ClientTls.context(null, false), 2000, 5, w -> { });
            try (MirrorConnection c = new MirrorConnection(untrusting, link("127.0.0.1"), url)) {
                assertThatThrownBy(() -> fetch(c, 0, 10)).cause()
                        .hasMessageStartingWith("TLS: the server's certificate is not trusted");
            }
            HttpDialer trusting = new HttpDialer(Transport.best(), group,
                    dev.biternet.client.link.ClientTls.context(certs.cert(), false), 2000, 5, w -> { });
            try (MirrorConnection c = new MirrorConnection(trusting, link("127.0.0.1"), url)) {
                assertThat(fetch(c, 1000, 5000)).isEqualTo(Arrays.copyOfRange(file, 1000, 6000));
            }
        }
    }

    @Test
    void aMissingFileIsRefused() throws Exception {
        try (MirrorConnection c = new MirrorConnection(dialer, link("127.0.0.1"), MirrorUrl.parse(nginx.url("nope.bin")))) {
            assertThatThrownBy(() -> fetch(c, 0, 10)).cause().isInstanceOf(HttpFailure.class)
                    .hasMessage("the mirror answered HTTP 404 Not Found");
        }
    }
}
