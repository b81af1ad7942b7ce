package dev.biternet.client;

import dev.biternet.client.link.ClientTls;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.common.cli.TokenFile;
import dev.biternet.common.cli.VersionProvider;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code biternet-get}: downloads one file over several network links at once. */
@Command(name = "biternet-get", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = {
            "Downloads one file from a biternet-serve server over several network links at once,",
            "one channel per --iface, each bound to its interface. Every piece is checked against",
            "its SHA-256; the file is renamed into place only when the whole file verifies.",
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:the file is complete and verified",
            "2:usage error (bad option, unknown or unusable --iface)",
            "3:network failure (cannot connect, every link lost)",
            "4:integrity failure (the data does not match the server's hashes)",
            "5:local I/O failure (cannot write the output, disk full)",
            "6:the server refused (no such file, path outside its root)",
        })
public final class GetCommand implements Callable<Integer> {
    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "URL", description = "biternet://HOST[:PORT]/PATH (IPv6: biternet://[::1]:7420/f)")
    private String url;

    @Option(names = "--iface", paramLabel = "IFACE",
            description = {"Network interface name (eth0, wlan0) or local address to use as one link; repeat for",
                "more links. Without it, one link over the default route."})
    private List<String> ifaces = new ArrayList<>();

    @Option(names = {"-o", "--output"}, paramLabel = "FILE",
            description = "Where to write the file (default: its name in the current directory).")
    private Path output;

    @Option(names = "--json", description = "Print the summary as one JSON object on stdout.")
    private boolean json;

    @Option(names = {"-v", "--verbose"}, description = "Print the download's timeline on stderr.")
    private boolean verbose;

    @Option(names = "--connect-timeout", paramLabel = "SECONDS", defaultValue = "10",
            description = "Seconds to wait for each link to connect (default: ${DEFAULT-VALUE}).")
    private int connectTimeout;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "File holding the server's access token (when biternet-serve has --token-file).")
    private Path tokenFile;

    @Option(names = "--tls", description = "Connect with TLS (the server runs with --tls-cert).")
    private boolean tls;

    @Option(names = "--tls-trust", paramLabel = "PEM",
            description = "With --tls: trust the certificates in this PEM file (the server's CA or its own certificate).")
    private Path tlsTrust;

    @Option(names = "--tls-insecure", description = "With --tls: accept any server certificate (encrypts, but does not authenticate).")
    private boolean tlsInsecure;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Target target;
        try {
            target = Target.parse(url);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        Path out1 = output != null ? output : Path.of(target.fileName());
        LinkSecurity security = LinkSecurity.NONE;
        if (tokenFile != null) {
            try {
                security = security.withToken(TokenFile.read(tokenFile));
            } catch (java.io.IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--token-file: " + e.getMessage());
            }
        }
        if (!tls && (tlsTrust != null || tlsInsecure)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--tls-trust and --tls-insecure need --tls");
        }
        if (tls) {
            try {
                security = security.withTls(ClientTls.context(tlsTrust, tlsInsecure));
            } catch (java.io.IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--tls-trust: " + e.getMessage());
            }
        }
        try {
            DownloadResult result = new Download(new Download.Request(target, out1, ifaces, connectTimeout * 1000, verbose), err,
                    security).run();
            out.print(json ? Summary.json(result) + System.lineSeparator() : Summary.text(result));
            out.flush();
            return ExitCodes.OK;
        } catch (DownloadException e) {
            err.println("biternet-get: " + e.getMessage());
            err.flush();
            return e.exitCode();
        }
    }

    public static void main(String[] args) {
        warmUpInBackground();
        System.exit(new CommandLine(new GetCommand()).execute(args));
    }

    /**
     * Parsing the command line takes picocli about 0.1 s of class loading and reflection; on a
     * second core, load what the download needs next meanwhile (the transport's native library,
     * the protocol's classes, the buffer allocator, SHA-256). Class initialisation is
     * thread-safe: whichever thread gets there first does it, the other waits for it.
     */
    private static void warmUpInBackground() {
        Thread t = new Thread(() -> {
            dev.biternet.common.transport.Transport.best();
            dev.biternet.common.wire.Frames.control(io.netty.buffer.PooledByteBufAllocator.DEFAULT,
                    dev.biternet.proto.Envelope.newBuilder().setHello(dev.biternet.proto.Hello.newBuilder()
                            .setProtocolVersion(dev.biternet.common.wire.Frames.PROTOCOL_VERSION)).build()).release();
            dev.biternet.proto.SessionOpened.getDefaultInstance().getSerializedSize();
            dev.biternet.common.piece.Digests.sha256().digest(new byte[64]);
        }, "biternet-warmup");
        t.setDaemon(true);
        t.start();
    }
}
