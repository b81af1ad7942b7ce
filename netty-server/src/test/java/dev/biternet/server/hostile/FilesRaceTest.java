package dev.biternet.server.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Envelope;
import dev.biternet.proto.Error;
import dev.biternet.server.BiternetServerTest.WireClient;
import dev.biternet.server.TestFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Someone who can write inside the served root swaps a symlink to an outside file, a FIFO and a
 * regular file over the name clients ask for, as fast as they can, while clients open it again
 * and again over real sockets: no session may ever serve the outside file's bytes, and every
 * request gets an answer (a FIFO must not hang an event loop or the hasher).
 */
@Timeout(30)
class FilesRaceTest extends FilesServerBase {
    private static final int PIECE = 16 << 10;
    /** One piece: fetching it finishes the session, so sessions do not pile up against the per-address limit. */
    private static final int SIZE = PIECE;
    private static final long RUN_NANOS = TimeUnit.SECONDS.toNanos(8);
    private static final int MAX_ATTEMPTS = 600;

    @TempDir
    Path tmp;
    @Test
    void aSymlinkOrFifoSwappedOverTheNameNeverServesTheOutsideFileNorHangs() throws Exception {
        Path root = Files.createDirectory(tmp.resolve("root"));
        Path outside = tmp.resolve("secret.bin");
        byte[] secret = TestFiles.write(outside, 666, SIZE);
        byte[] inside = TestFiles.write(root.resolve("keep.bin"), 1, SIZE);
        Files.copy(root.resolve("keep.bin"), root.resolve("race.bin"));
        start(root, PIECE, 1);

        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger swaps = new AtomicInteger();
        Thread swapper = new Thread(() -> swap(root, outside, stop, swaps), "swapper");
        swapper.start();
        Map<String, AtomicInteger> answers = new ConcurrentHashMap<>();
        AtomicInteger attempts = new AtomicInteger();
        List<byte[]> served = java.util.Collections.synchronizedList(new ArrayList<>());
        ExecutorService clients = Executors.newFixedThreadPool(4);
        try {
            long end = System.nanoTime() + RUN_NANOS;
            List<Future<?>> runs = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                runs.add(clients.submit(() -> {
                    try (WireClient opener = new WireClient(server.address())) {
                        opener.hello();
                        while (System.nanoTime() < end && attempts.incrementAndGet() <= MAX_ATTEMPTS) {
                            opener.open("race.bin");
                            Envelope answer = (Envelope) opener.read();
                            if (answer.hasSessionOpened()) {
                                try (WireClient link = new WireClient(server.address())) { // one attach per connection
                                    link.hello();
                                    served.add(link.fetchAll(answer.getSessionOpened(), 1));
                                }
                                answers.computeIfAbsent("opened", k -> new AtomicInteger()).incrementAndGet();
                            } else {
                                Error e = answer.getError();
                                assertThat(e.getMessage()).doesNotContain("\n").doesNotContain(tmp.toString());
                                answers.computeIfAbsent(e.getCode().name(), k -> new AtomicInteger()).incrementAndGet();
                            }
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> r : runs) {
                r.get(20, TimeUnit.SECONDS);
            }
        } finally {
            stop.set(true);
            swapper.join(5_000);
            clients.shutdownNow();
        }
        System.out.printf("race: %d attempts, %d swaps, answers %s%n", Math.min(attempts.get(), MAX_ATTEMPTS), swaps.get(), answers);
        assertThat(answers.getOrDefault("opened", new AtomicInteger()).get()).as("sessions opened on the regular file")
                .isPositive();
        assertThat(answers.getOrDefault("FORBIDDEN_PATH", new AtomicInteger()).get()).as("opens that met the link or FIFO")
                .isPositive();
        assertThat(answers.keySet()).as("answers").isSubsetOf("opened", "FORBIDDEN_PATH");
        for (byte[] bytes : served) {
            assertThat(Arrays.equals(bytes, secret)).as("a session served the file outside the root").isFalse();
            assertThat(bytes).as("what a session served").isEqualTo(inside);
        }
    }

    /** Renames a link to {@code outside}, a FIFO and a copy of keep.bin over race.bin in turn until stopped. */
    private static void swap(Path root, Path outside, AtomicBoolean stop, AtomicInteger swaps) {
        Path race = root.resolve("race.bin");
        try {
            for (int i = 0; !stop.get(); i++) {
                Path next = root.resolve("next.tmp");
                switch (i % 3) {
                    case 0 -> Files.createSymbolicLink(next, outside);
                    case 1 -> mkfifo(next);
                    default -> Files.createLink(next, root.resolve("keep.bin"));
                }
                Files.move(next, race, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                swaps.incrementAndGet();
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
