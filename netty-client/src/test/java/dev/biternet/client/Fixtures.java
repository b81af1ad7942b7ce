package dev.biternet.client;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.SplittableRandom;
import picocli.CommandLine;

/** Test helpers: random files, file hashes, and running biternet-get in-process. */
final class Fixtures {
    private Fixtures() {}

    static Path randomFile(Path dir, String name, long size, long seed) throws IOException {
        Path p = dir.resolve(name);
        SplittableRandom rnd = new SplittableRandom(seed);
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long left = size;
            while (left > 0) {
                buf.clear();
                while (buf.remaining() >= 8) {
                    buf.putLong(rnd.nextLong());
                }
                buf.flip().limit((int) Math.min(buf.limit(), left));
                left -= ch.write(buf);
            }
        }
        return p;
    }

    static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (FileChannel ch = FileChannel.open(p)) {
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            while (ch.read(buf) >= 0) {
                buf.flip();
                md.update(buf);
                buf.clear();
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static void assertSameBytes(Path expected, Path actual) throws IOException {
        long mismatch = Files.mismatch(expected, actual);
        if (mismatch != -1) {
            throw new AssertionError(actual + " differs from " + expected + " at byte " + mismatch);
        }
    }

    /** Waits until the download to {@code out}, running while {@code running} says so, has made {@code pieces} pieces durable. */
    static void awaitLogged(Path out, int pieces, java.util.function.BooleanSupplier running) throws Exception {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (true) {
            int n;
            try {
                n = dev.biternet.client.store.ResumeLog.read(out).map(c -> c.pieces().size()).orElse(0);
            } catch (IOException e) {
                n = 0;
            }
            if (n >= pieces) {
                return;
            }
            if (!running.getAsBoolean()) {
                throw new AssertionError("the download ended before " + pieces + " pieces were logged");
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(pieces + " pieces not logged within 60 s");
            }
            Thread.sleep(20);
        }
    }

    /**
     * Starts biternet-get with {@code args} in the background, downloading to {@code out}, and
     * returns its run once {@code pieces} pieces are durable: a download under way.
     */
    static java.util.concurrent.CompletableFuture<Run> getUntilLogged(Path out, int pieces, String... args) throws Exception {
        java.util.concurrent.CompletableFuture<Run> run = java.util.concurrent.CompletableFuture.supplyAsync(() -> get(args));
        awaitLogged(out, pieces, () -> !run.isDone());
        return run;
    }

    /** Output of one in-process biternet-get run. */
    record Run(int exitCode, String out, String err) {}

    static Run get(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cmd = GetCommand.commandLine();
        cmd.setOut(new PrintWriter(out, true));
        cmd.setErr(new PrintWriter(err, true));
        int code = cmd.execute(args);
        return new Run(code, out.toString(), err.toString());
    }
}
