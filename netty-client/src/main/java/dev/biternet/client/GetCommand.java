package dev.biternet.client;

import dev.biternet.client.ui.ProgressReporter;
import dev.biternet.client.link.ClientTls;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.common.cli.Sizes;
import dev.biternet.common.cli.TlsOptions;
import dev.biternet.common.cli.TokenOption;
import dev.biternet.common.cli.Usage;
import dev.biternet.common.cli.VersionProvider;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.route.InterfaceList;
import dev.biternet.client.route.AutoLinks;
import dev.biternet.client.route.RoutingDoctor;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code biternet-get}: downloads one file over several network links at once. Its options are
 * declared here, the one definition of its command line: picocli reads it, and the quick path
 * for plain download lines ({@link QuickArgs}) reads a table generated from it at build time
 * ({@link QuickTable}). Options with their defaults as field initialisers, so that a line read
 * either way leaves the same values.
 */
@Command(name = "biternet-get", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = "Downloads one file from a biternet-serve server over several network links at once,"
                + " one channel per --iface, each bound to its interface. Every piece is checked against its SHA-256;"
                + " the file is renamed into place only when the whole file verifies. From HTTP(S) mirrors (any web"
                + " server that serves byte ranges) the pieces come by Range requests, one channel per (link, mirror),"
                + " checked against a biternet server's piece hashes when one is among the sources, else only by"
                + " --checksum.",
        exitCodeListHeading = "%nExit codes:%n")
public final class GetCommand implements Callable<Integer> {
    /** The option naming a link (counted before parsing, to size the event loops). */
    static final String IFACE = "--iface";
    private static final String LIST_ALL = "*";

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "URL",
            description = "biternet://HOST[:PORT]/PATH (IPv6: biternet://[::1]:7420/f), or an HTTP(S) mirror's"
                    + " http[s]://HOST[:PORT]/PATH (any web server that serves byte ranges)")
    private String url;

    @Option(names = "--mirror", paramLabel = "URL", description = "Another source of the same file: an HTTP(S) mirror"
            + " (http[s]://HOST[:PORT]/PATH) or another biternet server (biternet://HOST[:PORT]/PATH, the same file: the"
            + " same root hash), in any mix with the URL; repeat for more. Each (link, source) pair is a channel; pieces"
            + " are spread over all of them. With a biternet server among the sources, every piece from a mirror is"
            + " checked against its piece hashes.")
    private List<String> mirrors;

    @Option(names = "--checksum", paramLabel = "sha256=HEX", description = "With http[s]:// URLs: the whole file's SHA-256,"
            + " checked before the rename (HTTP mirrors give no piece hashes; without it the file is not verified).")
    private String checksum;

    @Option(names = IFACE, paramLabel = "IFACE", description = "Network interface name (eth0, wlan0) or local address to"
            + " use as one link; repeat for more links. Without it, one link over the default route. Limits per link:"
            + " IFACE:cap=SIZE,rate=SIZE (SIZE like 500M, 2Gi, 1.5GB; rate in bytes/s). 'auto': every interface that is"
            + " up and reaches the server through itself, also those that come up later (see --list-ifaces SERVER)."
            + " An interface missing or down at the start joins when it is up; one whose address changes rebinds."
            + " IFACE:backup carries pieces only while no other link delivers (for 2 s).")
    private List<String> ifaces;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to write the file (default: its name in"
            + " the current directory); an existing directory: the file goes into it under its name.")
    private Path output;

    @Option(names = "--json", description = "Print the summary as one JSON object on stdout; on failure an object"
            + " with the error (and what was kept), and the reports of --doctor and --list-ifaces as JSON"
            + " (schema: docs/JSON.md).")
    private boolean json;

    @Option(names = "--si", description = "Show sizes and rates in powers of 1000: kB, MB, GB, TB (the default, unless"
            + " an --iface's cap or rate is typed with Ki, Mi, Gi or Ti).")
    private boolean si;

    @Option(names = "--iec", description = "Show sizes and rates in powers of 1024: KiB, MiB, GiB, TiB.")
    private boolean iec;

    @Option(names = {"-v", "--verbose"}, description = "Print the download's timeline on stderr.")
    private boolean verbose;

    @Option(names = {"-q", "--quiet"}, description = "Show no progress while downloading (errors and the summary"
            + " still print). Progress goes to stderr: redrawn in place on a terminal, a line every 5 s otherwise.")
    private boolean quiet;

    @QuickTable.NoDownload
    @Option(names = "--doctor", description = "Only check the routing: does each --iface's traffic to the server"
            + " leave through that interface? Prints the 'ip rule'/'ip route' commands that fix a link that does not."
            + " (The check also runs before every download with --iface, and warns.)")
    private boolean doctor;

    @QuickTable.NoDownload
    @Option(names = "--list-ifaces", arity = "0..1", paramLabel = "SERVER", fallbackValue = LIST_ALL,
            description = "List the interfaces that are up and their addresses; given a SERVER (host, host:port or"
                    + " URL), also whether each one reaches it through itself.")
    private String listIfaces;

    @Option(names = "--connect-timeout", paramLabel = "SECONDS",
            description = "Seconds to wait for each link to connect (default: ${DEFAULT-VALUE}).")
    private int connectTimeout = 10;

    @Option(names = "--retry-time", paramLabel = "SECONDS", description = {"While every link is lost (or the server"
            + " answers that it is busy), keep reconnecting for this long before giving up with exit 3",
        "(default: ${DEFAULT-VALUE}). Rerunning the same command later resumes."})
    private int retryTime = Download.DEFAULT_RETRY_SECONDS;

    @Option(names = "--verify-disk", description = {"Before the rename, read the whole file back from disk and check its"
            + " SHA-256 against the server's", "(a second hash pass: about 0.7 CPU s per GiB; every piece is verified"
            + " as it arrives either way)."})
    private boolean verifyDisk;

    @Mixin
    private final TokenOption token = new TokenOption();

    @Mixin
    private final TlsOptions.Client tls = new TlsOptions.Client();

    private PrintWriter out;
    private PrintWriter err;
    /** The download's output file, once known: what --json's error object reports as kept. */
    private Path outputFile;

    GetCommand() {}

    /**
     * A download read by {@link QuickArgs} instead of picocli, with picocli's default writers
     * (stdout and stderr in the platform's encoding, flushed on every line).
     */
    private static GetCommand of(QuickArgs.Line line) {
        GetCommand c = new GetCommand();
        line.applyTo(c);
        c.out = writer(System.out, System.getProperty("sun.stdout.encoding"));
        c.err = writer(System.err, System.getProperty("sun.stderr.encoding"));
        return c;
    }

    /** What picocli's {@code getOut()}/{@code getErr()} make by default. */
    private static PrintWriter writer(java.io.OutputStream stream, String encoding) {
        java.nio.charset.Charset charset = java.nio.charset.Charset.defaultCharset();
        if (encoding != null) {
            try {
                charset = java.nio.charset.Charset.forName("cp65001".equalsIgnoreCase(encoding) ? "UTF-8" : encoding);
            } catch (IllegalArgumentException e) {
                // an encoding this JVM does not know: the default, as picocli does
            }
        }
        return new PrintWriter(new java.io.BufferedWriter(new java.io.OutputStreamWriter(stream, charset)), true);
    }

    /** biternet-get's command line: run it with {@code execute(args)}. Its exit codes come from {@link ExitCodes}. */
    public static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new GetCommand());
        cmd.getCommandSpec().usageMessage().exitCodeList(ExitCodes.MEANINGS);
        cmd.setExitCodeExceptionMapper(ExitCodes::of);
        cmd.setExecutionExceptionHandler((e, line, parsed) -> ((GetCommand) line.getCommand()).failed(e));
        CommandLine.IParameterExceptionHandler usage = cmd.getParameterExceptionHandler();
        cmd.setParameterExceptionHandler((e, args) -> {
            GetCommand c = (GetCommand) e.getCommandLine().getCommand();
            if (c.json || java.util.Arrays.asList(args).contains("--json")) {
                printJson(e.getCommandLine().getOut(), JsonOutput.error(ExitCodes.USAGE, e.getMessage(), c.outputFile));
            }
            return usage.handleParseException(e, args);
        });
        return cmd;
    }

    /**
     * How a command that threw ends, on either path: one line for a {@link DownloadException};
     * anything else is a bug, shown with its stack trace. Under --json, stdout gets the error
     * object too.
     */
    private int failed(Exception e) {
        int code = ExitCodes.of(e);
        if (json) {
            printJson(out, JsonOutput.error(code, e instanceof DownloadException ? e.getMessage() : e.toString(), outputFile));
        }
        if (e instanceof DownloadException) {
            err.println("biternet-get: " + e.getMessage());
        } else {
            e.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    private static void printJson(PrintWriter to, String object) {
        to.println(object);
        to.flush();
    }

    /** The unit system sizes are shown in: --si or --iec, else the one the --iface options are typed in. */
    private Sizes units() {
        if (si && iec) {
            throw Usage.error(spec, "--si and --iec cannot go together: choose one");
        }
        if (si || iec) {
            return iec ? Sizes.IEC : Sizes.SI;
        }
        return ifaces != null && ifaces.stream().anyMatch(i -> Sizes.of(i) == Sizes.IEC) ? Sizes.IEC : Sizes.SI;
    }

    /**
     * The download, or --doctor, or --list-ifaces. Every usage error is thrown before anything
     * else is done: on the quick path ({@link Usage.Unparsed}) picocli then reads the line again.
     */
    @Override
    public Integer call() throws Exception {
        if (spec != null) {
            out = spec.commandLine().getOut();
            err = spec.commandLine().getErr();
        }
        Sizes units = units();
        if (listIfaces != null) {
            return listInterfaces(out);
        }
        if (url == null) {
            throw Usage.error(spec, "Missing required parameter: 'URL'");
        }
        boolean mixed = mirrors != null && (dev.biternet.client.http.MirrorUrl.isHttp(url)
                ? mirrors.stream().anyMatch(m -> !dev.biternet.client.http.MirrorUrl.isHttp(m))
                : mirrors.stream().anyMatch(dev.biternet.client.http.MirrorUrl::isHttp));
        if (dev.biternet.client.http.MirrorUrl.isHttp(url) && !mixed) {
            HttpDownload.Request request = httpRequest();
            dev.biternet.client.http.MirrorUrl first = request.mirrors().get(0);
            Target where = new Target(first.host(), first.port(), first.target());
            if (doctor) {
                return checkRouting(where, request.ifaces(), out);
            }
            return HttpGet.call(request, err, out, json, quiet, verbose, units,
                    request.ifaces().isEmpty() ? null : () -> checkRouting(where, request.ifaces(), err));
        }
        if (checksum != null) {
            throw Usage.error(spec, mixed ? "--checksum is for http[s]:// sources alone: with a biternet:// source every"
                    + " piece is checked against its hashes; drop --checksum" : "--checksum goes with an http[s]:// URL");
        }
        Target firstServer = null;
        List<Target> others = new ArrayList<>();
        List<dev.biternet.client.http.MirrorUrl> http = new ArrayList<>();
        try {
            List<String> all = new ArrayList<>(List.of(url));
            all.addAll(mirrors == null ? List.of() : mirrors);
            for (String u : all) {
                if (dev.biternet.client.http.MirrorUrl.isHttp(u)) {
                    http.add(dev.biternet.client.http.MirrorUrl.parse(u));
                } else if (firstServer == null) {
                    firstServer = Target.parse(u); // the first biternet server: the layout and the hashes
                } else {
                    others.add(Target.parse(u));
                }
            }
        } catch (IllegalArgumentException e) {
            throw Usage.error(spec, e.getMessage());
        }
        Target target = firstServer;
        if (retryTime < 0) {
            throw Usage.error(spec, "--retry-time must be 0 or more seconds, not " + retryTime);
        }
        List<String> ifaces = this.ifaces == null ? new ArrayList<>() : this.ifaces;
        if (doctor) {
            return checkRouting(target, ifaces, out);
        }
        LinkSecurity security = LinkSecurity.NONE;
        com.google.protobuf.ByteString secret = token.token();
        if (secret != null) {
            security = security.withToken(secret);
        }
        io.netty.handler.ssl.SslContext context = tls.context(ClientTls::context);
        if (context != null) {
            security = security.withTls(context);
        }
        // -o naming a directory saves into it under the URL's file name, as cp, wget -P and aria2 -d do.
        outputFile = output == null ? Path.of(target.fileName())
                : java.nio.file.Files.isDirectory(output) ? output.resolve(target.fileName()) : output;
        Download download = new Download(
                new Download.Request(target, outputFile, ifaces, connectTimeout * 1000, verbose, retryTime, verifyDisk)
                        .withOthers(others).withMirrors(http), err, security);
        // Work that would compete with connecting for the two cores waits until the links are
        // attached and pieces flow (or the download failed before that): the summary's warm-up,
        // and the routing check (an `ip route get` per link: a process start each, 30-50 ms
        // together; 6 ms sooner to the first byte on three lab links, measured), whose warning
        // the progress display waits for.
        download.underway().thenRunAsync(EarlyStart::warmSummary, daemon("biternet-warmup-summary"));
        CompletableFuture<Void> routing = ifaces.isEmpty() ? CompletableFuture.completedFuture(null)
                : download.underway().thenRunAsync(() -> checkRouting(target, ifaces, err), daemon("biternet-routing-check"));
        // --verbose writes its timeline to stderr too: plain progress lines mix with it, a redrawn display would not.
        // A DownloadException ends the command in failed(), after the progress display is closed.
        try (ProgressReporter progress = quiet ? null : ProgressReporter.start(download::progress, err, verbose, routing, units)) {
            DownloadResult result;
            try {
                result = download.run();
            } finally {
                // A download that ended before it got under way (an unusable --iface) never starts the check.
                if (download.underway().isDone()) {
                    awaitQuietly(routing);
                }
            }
            if (progress != null) {
                progress.close();
            }
            out.print(json ? Summary.json(result) + System.lineSeparator() : Summary.text(result, units));
            out.flush();
            return ExitCodes.OK;
        }
    }

    /** An HTTP download's request from this command line; usage errors thrown. */
    private HttpDownload.Request httpRequest() {
        List<dev.biternet.client.http.MirrorUrl> urls = new ArrayList<>();
        try {
            urls.add(dev.biternet.client.http.MirrorUrl.parse(url));
            for (String m : mirrors == null ? List.<String>of() : mirrors) {
                urls.add(dev.biternet.client.http.MirrorUrl.parse(m));
            }
        } catch (IllegalArgumentException e) {
            throw Usage.error(spec, e.getMessage());
        }
        byte[] sha = null;
        if (checksum != null) {
            String hex = checksum.toLowerCase(java.util.Locale.ROOT);
            if (!hex.matches("sha256=[0-9a-f]{64}")) {
                throw Usage.error(spec, "--checksum must be sha256= and 64 hex digits, not '" + checksum + "'");
            }
            sha = java.util.HexFormat.of().parseHex(hex.substring(7));
        }
        if (retryTime < 0) {
            throw Usage.error(spec, "--retry-time must be 0 or more seconds, not " + retryTime);
        }
        io.netty.handler.ssl.SslContext context = tls.context(ClientTls::context);
        if (context == null && urls.stream().anyMatch(dev.biternet.client.http.MirrorUrl::tls)) {
            try {
                context = ClientTls.context(null, false);
            } catch (java.io.IOException e) {
                throw Usage.error(spec, e.getMessage());
            }
        }
        if (output == null || java.nio.file.Files.isDirectory(output)) {
            String name;
            try {
                name = urls.get(0).fileName();
            } catch (IllegalArgumentException e) {
                throw Usage.error(spec, e.getMessage());
            }
            outputFile = output == null ? Path.of(name) : output.resolve(name);
        } else {
            outputFile = output;
        }
        return new HttpDownload.Request(urls, outputFile, ifaces == null ? List.of() : ifaces, connectTimeout * 1000,
                verbose, retryTime, sha, context, HttpDownload.STALL_SECONDS);
    }

    /** Runs each task on a new daemon thread of that name. */
    private static java.util.concurrent.Executor daemon(String name) {
        return task -> {
            Thread t = new Thread(task, name);
            t.setDaemon(true);
            t.start();
        };
    }

    /** Lets the routing check's warning reach stderr before the summary or an error; it never fails. */
    private static void awaitQuietly(CompletableFuture<Void> routing) {
        try {
            routing.get(5, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // the check is advice; a download does not depend on it
        }
    }

    /**
     * The routing doctor: with --doctor its report is the output and the exit code; before a
     * download it only speaks (on stderr) when a link would not leave through its interface.
     * Links that cannot be resolved are left to the download, which reports them.
     */
    private int checkRouting(Target target, List<String> ifaces, PrintWriter to) {
        InetAddress server;
        List<LinkSpec> links;
        try {
            server = InetAddress.getByName(target.host());
            links = LinkResolver.resolve(ifaces, server);
        } catch (UnknownHostException | LinkResolver.LinkException e) {
            if (!doctor) {
                return ExitCodes.OK;
            }
            int code = e instanceof LinkResolver.LinkException ? ExitCodes.USAGE : ExitCodes.NETWORK;
            String message = code == ExitCodes.USAGE ? e.getMessage() : "cannot resolve host " + target.host();
            if (json) {
                printJson(to, JsonOutput.error(code, message, null));
                to = err;
            }
            to.println("biternet-get: " + message);
            to.flush();
            return code;
        }
        List<RoutingDoctor.Finding> findings = RoutingDoctor.system().check(links, server);
        boolean ok = findings.stream().allMatch(RoutingDoctor.Finding::ok);
        String report = RoutingDoctor.report(target.host(), findings);
        if (doctor) {
            to.print(json ? JsonOutput.doctor(target.host(), findings) + System.lineSeparator() : report);
        } else if (findings.stream().anyMatch(f -> !f.fix().isEmpty())) {
            // Links that cannot work at all (no such address here) fail the download with their own message.
            to.print("biternet-get: warning: not every link's traffic leaves through its own interface; "
                    + "the download goes on, but those links share another one's capacity" + System.lineSeparator() + report);
        }
        to.flush();
        return ok ? ExitCodes.OK : ExitCodes.ROUTING;
    }

    private int listInterfaces(PrintWriter out) throws SocketException {
        InetAddress server = null;
        if (!LIST_ALL.equals(listIfaces)) {
            String host = serverHost(listIfaces);
            try {
                server = InetAddress.getByName(host);
            } catch (UnknownHostException e) {
                throw Usage.error(spec, "--list-ifaces: cannot resolve " + host);
            }
        }
        List<InterfaceList.Iface> up = InterfaceList.up();
        List<InterfaceList.Verdict> verdicts = server == null ? List.of() : InterfaceList.verdicts(up, server, RoutingDoctor.system());
        List<AutoLinks.Pick> auto = server == null ? List.of() : AutoLinks.system().picks(server);
        if (json) {
            printJson(out, JsonOutput.interfaces(up, server, verdicts, auto));
        } else {
            out.print(InterfaceList.render(up, server, verdicts));
            if (server != null) {
                out.println(AutoLinks.describe(auto));
            }
            out.flush();
        }
        return ExitCodes.OK;
    }

    /** The host of HOST, HOST:PORT, [V6]:PORT or a biternet:// URL. */
    static String serverHost(String value) {
        if (value.startsWith("biternet://")) {
            return Target.parse(value).host();
        }
        if (dev.biternet.client.http.MirrorUrl.isHttp(value)) {
            return dev.biternet.client.http.MirrorUrl.parse(value).host();
        }
        java.util.regex.Matcher bracketed = java.util.regex.Pattern.compile("\\[(.+)](:\\d+)?").matcher(value);
        if (bracketed.matches()) {
            return bracketed.group(1);
        }
        int colon = value.indexOf(':');
        return colon >= 0 && colon == value.lastIndexOf(':') ? value.substring(0, colon) : value;
    }

    /**
     * {@link #call} for a line picocli did not read. A usage error sends the line to picocli,
     * which reads it again and reports the error as it reports its own.
     */
    private int callQuick(String[] args) {
        try {
            return call();
        } catch (Usage.Unparsed e) {
            return commandLine().execute(args);
        } catch (Exception e) {
            return failed(e);
        }
    }

    public static void main(String[] args) {
        // Netty 4.2 registers JFR events for its buffer allocator when JFR is present; that loads
        // jdk.jfr and generates event classes with ASM at start-up (~50 ms, and C2 time compiling
        // ASM). Nobody records a CLI download; -Dio.netty.jfr.enabled=true brings them back.
        if (System.getProperty("io.netty.jfr.enabled") == null) {
            System.setProperty("io.netty.jfr.enabled", "false");
        }
        NettyLog.install();
        EarlyStart.begin(args);
        QuickArgs.Line line = QuickArgs.parse(args);
        System.exit(line != null ? of(line).callQuick(args) : commandLine().execute(args));
    }
}
