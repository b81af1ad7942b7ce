package dev.biternet.bench;

import dev.biternet.common.piece.Digests;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.Native;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The client's receive path with and without a copy into user space: is a zero-copy receive
 * worth having? One invocation receives a 128 MiB file over a loopback TCP connection (a sender
 * thread pushes it with {@code sendfile}, as the server does), writes every byte at its offset
 * in an output file and, with {@code hash=true}, computes the SHA-256 of each 256 KiB piece and
 * checks it against the file's. Score in ops/s reads as <b>MiB/s</b>. Variants, in one run:
 * <ul>
 *   <li>{@code recvWrite}: what the client does: {@code read} into a 1 MiB direct buffer (copy
 *       1, kernel to user), hash from that buffer, positional {@code write} (copy 2, user to
 *       page cache);</li>
 *   <li>{@code splice}: {@code splice} from the socket into a pipe and from the pipe into the
 *       file at its offset (the kernel moves the socket's pages into the pipe and copies them
 *       into the page cache once: no user-space copy), then hashes each complete piece from a
 *       read-only mapping of the output file, mapped once per invocation and unmapped at its
 *       end, so every page is faulted in as a real download would fault it;</li>
 *   <li>{@code spliceReadBack}: splice as above, each piece read back with a positional
 *       {@code read} into a direct buffer for hashing (the copy moves, it does not go
 *       away). With {@code hash=false} it is the same code as {@code splice}.</li>
 * </ul>
 * A splice moves at most 64 KiB per pair of calls (the default pipe size; Java cannot set
 * {@code F_SETPIPE_SZ}), where {@code recvWrite} reads up to 1 MiB per call: about 4,000 more
 * system calls per invocation, counted against splicing.
 * Both ends run in this JVM on the machine's cores, as client and server share them in the
 * loopback race. The output file lives on tmpfs (/dev/shm) when there is one. Splicing uses
 * Netty's epoll JNI ({@code Native.splice}, which takes 64-bit offsets); the descriptors of the
 * JDK's socket and file channels are read by reflection, hence the {@code --add-opens}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Dio.netty.leakDetection.level=DISABLED",
        "--add-opens", "java.base/java.io=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED"})
public class ReceivePathBenchmark extends BenchBase {
    private static final int FILE_MIB = 128;
    private static final long SIZE = (long) FILE_MIB << 20;
    private static final int PIECE = 256 << 10;
    private static final int PIECES = (int) (SIZE / PIECE);

    @Param({"true", "false"})
    public boolean hash;

    private Path dir;
    private Path out;
    private byte[][] expected;
    private byte[] expectedFile;
    private ServerSocketChannel listener;
    private SocketChannel socket;
    private int socketFd;
    private Thread sender;
    private FileChannel file;
    private int fileFd;
    private FileDescriptor[] pipe;
    private ByteBuffer receive;
    private ByteBuffer readBack;
    /** 0xFF throughout: overwrites the output between iterations. */
    private ByteBuffer marker;
    private MessageDigest sha;
    private final byte[][] digests = new byte[PIECES][];

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        try {
            open();
        } catch (Exception | Error e) {
            tearDown();
            throw e;
        }
    }

    private void open() throws Exception {
        Epoll.ensureAvailability();
        Path shm = Path.of("/dev/shm");
        dir = Files.isDirectory(shm) && Files.isWritable(shm)
                ? Files.createTempDirectory(shm, "biternet-bench-recv-")
                : Files.createTempDirectory("biternet-bench-recv-");
        Path source = dir.resolve("source.bin");
        out = dir.resolve("out.bin");
        sha = Digests.sha256();
        expected = new byte[PIECES][];
        byte[] chunk = new byte[PIECE];
        SplittableRandom random = new SplittableRandom(5);
        MessageDigest whole = Digests.sha256();
        try (FileChannel src = FileChannel.open(source, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int i = 0; i < PIECES; i++) {
                random.nextBytes(chunk);
                expected[i] = sha.digest(chunk);
                whole.update(chunk);
                ByteBuffer b = ByteBuffer.wrap(chunk);
                while (b.hasRemaining()) {
                    src.write(b);
                }
            }
        }
        expectedFile = whole.digest();

        listener = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        socket = SocketChannel.open(listener.getLocalAddress());
        SocketChannel accepted = listener.accept();
        sender = new Thread(() -> sendForever(source, accepted), "sender");
        sender.setDaemon(true);
        sender.start();
        socketFd = fdOf(socket);

        file = FileChannel.open(out, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        file.truncate(0);
        file.write(ByteBuffer.allocate(1), SIZE - 1);
        fileFd = fdOf(file);
        pipe = FileDescriptor.pipe();
        receive = ByteBuffer.allocateDirect(1 << 20);
        readBack = ByteBuffer.allocateDirect(PIECE);
        marker = ByteBuffer.allocateDirect(1 << 20);
        while (marker.hasRemaining()) {
            marker.put((byte) 0xFF);
        }
    }

    /** The server's side: the same file, back to back, with sendfile, until the socket closes. */
    private static void sendForever(Path source, SocketChannel to) {
        try (FileChannel src = FileChannel.open(source, StandardOpenOption.READ); to) {
            while (true) {
                long at = 0;
                while (at < SIZE) {
                    at += src.transferTo(at, SIZE - at, to);
                }
            }
        } catch (IOException closed) {
            // The benchmark's tear-down closed the connection.
        }
    }

    @TearDown(Level.Iteration)
    public void checkFile() throws IOException {
        MessageDigest whole = Digests.sha256();
        ByteBuffer b = receive;
        for (long at = 0; at < SIZE; ) {
            b.clear();
            int n = file.read(b, at);
            if (n < 0) {
                throw new IOException("output file shorter than " + SIZE);
            }
            at += n;
            whole.update(b.flip());
        }
        if (!Arrays.equals(whole.digest(), expectedFile)) {
            throw new IllegalStateException("received file differs from the source");
        }
        // Every byte overwritten (outside the measurement): the next iteration's first
        // invocation must write the whole file again for this check, and for the splice
        // variants' piece digests (taken from the file), to pass.
        for (long at = 0; at < SIZE; at += marker.capacity()) {
            marker.clear();
            long w = at;
            while (marker.hasRemaining()) {
                w += file.write(marker, w);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        for (AutoCloseable c : new AutoCloseable[] {socket, listener, file}) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing what the setup opened; the files go next either way
                }
            }
        }
        if (pipe != null) {
            pipe[0].close();
            pipe[1].close();
        }
        if (dir != null) {
            Files.deleteIfExists(out);
            Files.deleteIfExists(dir.resolve("source.bin"));
            Files.deleteIfExists(dir);
        }
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void recvWrite() throws IOException {
        long at = 0;
        int piece = 0;
        int inPiece = 0;
        while (at < SIZE) {
            receive.clear();
            receive.limit((int) Math.min(receive.capacity(), SIZE - at));
            int n = socket.read(receive);
            if (n < 0) {
                throw new IOException("sender closed");
            }
            receive.flip();
            if (hash) {
                // Split the hash at piece boundaries, as the client's store does.
                int pos = 0;
                while (pos < n) {
                    int take = Math.min(n - pos, PIECE - inPiece);
                    sha.update(receive.duplicate().position(pos).limit(pos + take));
                    pos += take;
                    inPiece += take;
                    if (inPiece == PIECE) {
                        digests[piece++] = sha.digest();
                        inPiece = 0;
                    }
                }
            }
            long w = at;
            while (receive.hasRemaining()) {
                w += file.write(receive, w);
            }
            at += n;
        }
        checkDigests();
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void splice() throws IOException {
        MappedByteBuffer map = hash ? file.map(FileChannel.MapMode.READ_ONLY, 0, SIZE) : null;
        try {
            spliceAll(map, false);
        } finally {
            if (map != null) {
                unmap(map);
            }
        }
        checkDigests();
    }

    @Benchmark
    @OperationsPerInvocation(FILE_MIB)
    public void spliceReadBack() throws IOException {
        spliceAll(null, true);
        checkDigests();
    }

    private void spliceAll(MappedByteBuffer map, boolean readBackPieces) throws IOException {
        int pipeIn = pipe[1].intValue();
        int pipeOut = pipe[0].intValue();
        long at = 0;
        long hashedTo = 0;
        while (at < SIZE) {
            // The socket is blocking: splice waits for data; the pipe takes up to 64 KiB.
            int n = Native.splice(socketFd, -1, pipeIn, -1, SIZE - at);
            if (n == 0) {
                throw new IOException("sender closed");
            }
            long w = at;
            int left = n;
            while (left > 0) {
                int m = Native.splice(pipeOut, -1, fileFd, w, left);
                w += m;
                left -= m;
            }
            at += n;
            while (hash && at - hashedTo >= PIECE) {
                int index = (int) (hashedTo / PIECE);
                if (readBackPieces) {
                    readBack.clear();
                    long r = hashedTo;
                    while (readBack.hasRemaining()) {
                        r += file.read(readBack, r);
                    }
                    sha.update(readBack.flip());
                } else {
                    sha.update(map.slice((int) hashedTo, PIECE));
                }
                digests[index] = sha.digest();
                hashedTo += PIECE;
            }
        }
    }

    private void checkDigests() {
        if (!hash) {
            return;
        }
        for (int i = 0; i < PIECES; i++) {
            if (!Arrays.equals(digests[i], expected[i])) {
                throw new IllegalStateException("piece " + i + " does not match its SHA-256");
            }
            digests[i] = null;
        }
    }

    /** The int descriptor behind a JDK channel (needs --add-opens java.base/java.io and sun.nio.ch). */
    private static int fdOf(Object channel) throws ReflectiveOperationException {
        Field fdField = channel.getClass().getDeclaredField("fd");
        fdField.setAccessible(true);
        java.io.FileDescriptor fd = (java.io.FileDescriptor) fdField.get(channel);
        Field intField = java.io.FileDescriptor.class.getDeclaredField("fd");
        intField.setAccessible(true);
        return intField.getInt(fd);
    }

    private static void unmap(MappedByteBuffer map) {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field theUnsafe = unsafeClass.getDeclaredField("theUnsafe");
            theUnsafe.setAccessible(true);
            Method invokeCleaner = unsafeClass.getMethod("invokeCleaner", ByteBuffer.class);
            invokeCleaner.invoke(theUnsafe.get(null), map);
        } catch (ReflectiveOperationException e) {
            throw new UncheckedIOException(new IOException("cannot unmap the output file", e));
        }
    }
}
