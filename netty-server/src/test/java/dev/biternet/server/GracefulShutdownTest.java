package dev.biternet.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServerTest.WireClient;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM to a real biternet-serve process while a download runs. */
@Timeout(90)
class GracefulShutdownTest {
    private static final int SIZE = 2 << 20;

    @TempDir
    Path root;
    @TempDir
    Path logs;
    private ServeProcess serve;
    private Process server;

    @AfterEach
    void kill() {
        if (serve != null) {
            serve.close();
        }
    }

    private InetSocketAddress serve(int graceSeconds) throws Exception {
        serve = ServeProcess.start(logs.resolve("serve.err"), "--root", root.toString(), "--host", "127.0.0.1", "--port", "0",
                "--piece-size", "65536", "--shutdown-grace", String.valueOf(graceSeconds));
        server = serve.process;
        return serve.address();
    }

    @Test
    void aRunningDownloadFinishesAfterSigtermAndNoNewOneStarts() throws Exception {
        byte[] data = TestFiles.write(root.resolve("f.bin"), 11, SIZE);
        InetSocketAddress address = serve(30);
        try (WireClient c = new WireClient(address)) {
            c.hello();
            c.open("f.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            // Paced to 1 MiB/s by the server: about 2 s, so SIGTERM lands in the middle.
            CompletableFuture<byte[]> download = CompletableFuture.supplyAsync(() -> {
                try {
                    return c.fetchAll(opened, 2, 1 << 20);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            server.destroy(); // SIGTERM
            serve.awaitLog("waiting up to 30 s for 1 running transfer(s)");
            assertThatThrownBy(() -> new WireClient(address)).as("no new connections while draining")
                    .isInstanceOf(ConnectException.class);
            assertThat(download.get(30, TimeUnit.SECONDS)).as("the running download completes").isEqualTo(data);
        }
        assertThat(server.waitFor(30, TimeUnit.SECONDS)).as("the server exits once the transfer is done").isTrue();
        assertThat(serve.stderr()).contains("shutting down: no transfer running")
                .contains("result=complete path=\"f.bin\"");
    }

    @Test
    void pastTheGracePeriodTheServerClosesTheTransferWithShuttingDown() throws Exception {
        TestFiles.write(root.resolve("slow.bin"), 12, SIZE);
        InetSocketAddress address = serve(1);
        try (WireClient c = new WireClient(address)) {
            c.hello();
            c.open("slow.bin");
            SessionOpened opened = c.expect(Envelope.BodyCase.SESSION_OPENED).getSessionOpened();
            c.send(Envelope.newBuilder().setAttach(dev.biternet.proto.Attach.newBuilder().setSessionId(opened.getSessionId())
                    .setSecret(opened.getAttachSecret()).setWindow(2).setRateLimit(64 << 10)).build());
            c.expect(Envelope.BodyCase.ATTACHED);
            server.destroy(); // SIGTERM: the download would need 32 s more
            Object frame;
            while (!((frame = c.read()) instanceof Envelope e && e.hasError())) {
                if (frame instanceof BiternetServerTest.Piece p) {
                    c.send(Envelope.newBuilder().setAck(dev.biternet.proto.Ack.newBuilder()
                            .setIndex(p.header().getIndex()).setOk(true)).build());
                }
            }
            Error error = ((Envelope) frame).getError();
            assertThat(error.getCode()).isEqualTo(Error.Code.SHUTTING_DOWN);
            assertThat(error.getMessage()).isEqualTo("the server is shutting down");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(server.waitFor(30, TimeUnit.SECONDS)).as("the server exits after the grace period").isTrue();
        assertThat(serve.stderr()).contains("grace period of 1 s over with 1 transfer(s) still running; closing them")
                .contains("result=shutdown path=\"slow.bin\"");
    }
}
