package dev.biternet.client;

import static dev.biternet.client.Fixtures.assertSameBytes;
import static dev.biternet.client.Fixtures.get;
import static dev.biternet.client.Fixtures.randomFile;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.biternet.client.store.ResumeLog;
import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.proto.SessionOpened;
import dev.biternet.server.BiternetServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * biternet-get against servers that announce what a real one never would, or that are busy: a
 * hand-written server ({@link ScriptedServer}) over real sockets, with a real server behind it
 * where the download is to succeed.
 */
class HostileServerTest {
    @TempDir
    Path root;
    @TempDir
    Path downloads;

    private static Envelope opened(long fileSize, int pieceSize, long pieceCount) {
        return Envelope.newBuilder().setSessionOpened(SessionOpened.newBuilder()
                .setSessionId(ByteString.copyFrom(new byte[16])).setAttachSecret(ByteString.copyFrom(new byte[16]))
                .setFileSize(fileSize).setPieceSize(pieceSize).setPieceCount((int) pieceCount).setFileVersion(1)).build();
    }

    private static Envelope error(Error.Code code, String message) {
        return Envelope.newBuilder().setError(Error.newBuilder().setCode(code).setMessage(message)).build();
    }

    private static String[] files(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    @Test
    void anAbsurdLayoutIsRefusedInOneLineBeforeAnythingIsWritten() throws Exception {
        // 819 GB in 16 KiB pieces: 50 million pieces (2 GB of state reserved, 1.6 GB of digests held).
        long size = 819_000_000_000L;
        try (ScriptedServer server = new ScriptedServer((n, open) -> opened(size, 16384, size / 16384 + 1), null)) {
            Fixtures.Run r = get("-o", downloads.resolve("big.iso").toString(), server.url("big.iso"));

            assertThat(r.exitCode()).isEqualTo(ExitCodes.NETWORK);
            assertThat(r.err().strip()).doesNotContain("\n").isEqualTo("biternet-get: the server announced 819000000000"
                    + " bytes in 49987793 pieces of 16384 bytes: this client takes at most 2097152 pieces; nothing was written");
            assertThat(files(downloads)).isEmpty();
        }
    }

    @Test
    void piecesBelowTheMinimumAreRefused() throws Exception {
        try (ScriptedServer server = new ScriptedServer((n, open) -> opened(1 << 20, 512, 2048), null)) {
            Fixtures.Run r = get("-o", downloads.resolve("f").toString(), server.url("f"));

            assertThat(r.exitCode()).isEqualTo(ExitCodes.NETWORK);
            assertThat(r.err()).contains("pieces must be 16384 to 16777216 bytes; nothing was written");
            assertThat(files(downloads)).isEmpty();
        }
    }

    @Test
    void theStateReservationDoesNotGrowWithWhatTheServerAnnounces() throws Exception {
        // 16 GiB in 16 KiB pieces: within the limit, but no piece ever comes. The state used to
        // reserve 40 bytes per announced piece (40 MiB here) before any data.
        long size = 16L << 30;
        Path out = downloads.resolve("big.iso");
        try (ScriptedServer server = new ScriptedServer((n, open) -> opened(size, 16384, size / 16384), null)) {
            Fixtures.Run r = get("--retry-time", "1", "-o", out.toString(), server.url("big.iso"));

            assertThat(r.exitCode()).as(r.err()).isEqualTo(ExitCodes.NETWORK);
            assertThat(files(downloads)).as("no temporary file left behind").containsExactly("big.iso.part", "big.iso.part.state");
            assertThat(Files.size(ResumeLog.pathFor(out))).as("state file bytes").isLessThan(1L << 20);
        }
    }

    @Test
    void aBusyServerIsAskedAgainUntilItServes() throws Exception {
        Path source = randomFile(root, "f.bin", 3 << 20, 41);
        try (BiternetServer real = BiternetServer.start(BiternetServer.Config.of(root, "127.0.0.1", 0));
             ScriptedServer busy = new ScriptedServer((n, open) -> n <= 2
                     ? error(Error.Code.LIMIT_EXCEEDED, "too many sessions from 127.0.0.1 (limit 64)") : null, real.address())) {
            Path out = downloads.resolve("f.bin");

            Fixtures.Run r = get("-q", "--iface", "127.0.0.1", "--iface", "127.0.0.2", "-o", out.toString(), busy.url("f.bin"));

            assertThat(r.exitCode()).as(r.err()).isZero();
            assertSameBytes(source, out);
            assertThat(busy.opens()).isEqualTo(3);
        }
    }

    @Test
    void aServerStillBusyAfterTheRetryTimeEndsWithOneLine() throws Exception {
        try (ScriptedServer busy = new ScriptedServer((n, open) ->
                error(Error.Code.LIMIT_EXCEEDED, "too many sessions from 127.0.0.1 (limit 64)"), null)) {
            Path out = downloads.resolve("f.bin");

            Fixtures.Run r = get("--retry-time", "2", "-o", out.toString(), busy.url("f.bin"));

            assertThat(r.exitCode()).isEqualTo(ExitCodes.NETWORK);
            assertThat(r.err().strip()).doesNotContain("\n").startsWith("biternet-get: the server did not open f.bin within"
                    + " --retry-time 2 s (").contains("last answer: server: too many sessions from 127.0.0.1 (limit 64)"
                    + " (LIMIT_EXCEEDED); rerun later");
            assertThat(busy.opens()).as("asked again with backoff").isBetween(3, 6);
            assertThat(files(downloads)).as("nothing written").isEmpty();
        }
    }

    @Test
    void aFinalRefusalIsNotAskedAgain() throws Exception {
        try (ScriptedServer server = new ScriptedServer((n, open) -> error(Error.Code.NOT_FOUND, "no such file: f.bin"), null)) {
            Fixtures.Run r = get("-o", downloads.resolve("f.bin").toString(), server.url("f.bin"));

            assertThat(r.exitCode()).isEqualTo(ExitCodes.SERVER_REFUSED);
            assertThat(r.err().strip()).isEqualTo("biternet-get: server refused f.bin: no such file: f.bin");
            assertThat(server.opens()).isEqualTo(1);
        }
    }
}
