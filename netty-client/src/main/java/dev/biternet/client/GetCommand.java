package dev.biternet.client;

import dev.biternet.client.ui.ProgressReporter;
import dev.biternet.client.link.ClientTls;
import dev.biternet.client.link.LinkSecurity;
import dev.biternet.common.cli.TokenFile;
import dev.biternet.common.cli.VersionProvider;
import dev.biternet.client.link.LinkResolver;
import dev.biternet.client.link.LinkSpec;
import dev.biternet.client.route.InterfaceList;
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
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code biternet-get}: downloads one file over several network links at once.
 *
 * <p>The command's picocli model is built in code ({@link #commandLine()}), not read from
 * annotations: reflecting on them generated seven annotation proxy classes at every start,
 * which a class-data archive cannot hold (a model built in code: 51 ms from {@code main} to
 * parsed, against 67 ms; every download pays it before its first connect).
 */
public final class GetCommand implements Callable<Integer> {
    private static final String LIST_ALL = "*";

    private CommandSpec spec;
    private String url;
    private List<String> ifaces;
    private Path output;
    private boolean json;
    private boolean verbose;
    private boolean quiet;
    private boolean doctor;
    private String listIfaces;
    private int connectTimeout;
    private int retryTime;
    private boolean verifyDisk;
    private Path tokenFile;
    private boolean tls;
    private Path tlsTrust;
    private boolean tlsInsecure;
    private PrintWriter out;
    private PrintWriter err;

    private GetCommand() {}

    /**
     * A download read by {@link QuickArgs} instead of picocli, with picocli's default writers
     * (stdout and stderr in the platform's encoding, flushed on every line).
     */
    private static GetCommand of(QuickArgs.Line line) {
        GetCommand c = new GetCommand();
        c.url = line.url();
        c.ifaces = new ArrayList<>(line.ifaces());
        c.output = line.output();
        c.json = line.json();
        c.verbose = line.verbose();
        c.quiet = line.quiet();
        c.verifyDisk = line.verifyDisk();
        c.connectTimeout = line.connectTimeout();
        c.retryTime = line.retryTime();
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

    /** biternet-get's command line: run it with {@code execute(args)}. */
    public static CommandLine commandLine() {
        GetCommand command = new GetCommand();
        CommandSpec s = CommandSpec.wrapWithoutInspection(command);
        command.spec = s;
        s.name("biternet-get").versionProvider(new VersionProvider());
        s.usageMessage().sortOptions(false)
                .description("Downloads one file from a biternet-serve server over several network links at once,"
                        + " one channel per --iface, each bound to its interface. Every piece is checked against its SHA-256;"
                        + " the file is renamed into place only when the whole file verifies.")
                .exitCodeListHeading("%nExit codes:%n")
                .exitCodeList(ExitCodes.MEANINGS);
        s.addPositional(PositionalParamSpec.builder().index("0").arity("0..1").paramLabel("URL").type(String.class)
                .description("biternet://HOST[:PORT]/PATH (IPv6: biternet://[::1]:7420/f)").build());
        s.addOption(OptionSpec.builder("--iface").paramLabel("IFACE").type(List.class).auxiliaryTypes(String.class)
                .description("Network interface name (eth0, wlan0) or local address to use as one link; repeat for"
                        + " more links. Without it, one link over the default route. Limits per link:"
                        + " IFACE:cap=SIZE,rate=SIZE (SIZE like 500M, 2Gi; rate in bytes/s).").build());
        s.addOption(OptionSpec.builder("-o", "--output").paramLabel("FILE").type(Path.class)
                .description("Where to write the file (default: its name in the current directory); an existing"
                        + " directory: the file goes into it under its name.").build());
        s.addOption(flag("--json").description("Print the summary as one JSON object on stdout.").build());
        s.addOption(flag("-v", "--verbose").description("Print the download's timeline on stderr.").build());
        s.addOption(flag("-q", "--quiet").description("Show no progress while downloading (errors and the summary"
                + " still print). Progress goes to stderr: redrawn in place on a terminal, a line every 5 s otherwise.").build());
        s.addOption(flag("--doctor").description("Only check the routing: does each --iface's traffic to the server"
                + " leave through that interface? Prints the 'ip rule'/'ip route' commands that fix a link that does not."
                + " (The check also runs before every download with --iface, and warns.)").build());
        s.addOption(OptionSpec.builder("--list-ifaces").arity("0..1").paramLabel("SERVER").fallbackValue(LIST_ALL)
                .type(String.class)
                .description("List the interfaces that are up and their addresses; given a SERVER (host, host:port or"
                        + " URL), also whether each one reaches it through itself.").build());
        s.addOption(OptionSpec.builder("--connect-timeout").paramLabel("SECONDS").type(int.class).defaultValue("10")
                .description("Seconds to wait for each link to connect (default: ${DEFAULT-VALUE}).").build());
        s.addOption(OptionSpec.builder("--retry-time").paramLabel("SECONDS").type(int.class)
                .defaultValue("" + Download.DEFAULT_RETRY_SECONDS)
                .description("While every link is lost (or the server answers that it is busy), keep reconnecting for this"
                        + " long before giving up with exit 3",
                        "(default: ${DEFAULT-VALUE}). Rerunning the same command later resumes.").build());
        s.addOption(flag("--verify-disk").description("Before the rename, read the whole file back from disk and check its"
                + " SHA-256 against the server's", "(a second hash pass: about 0.7 CPU s per GiB; every piece is verified"
                + " as it arrives either way).").build());
        s.addOption(OptionSpec.builder("--token-file").paramLabel("FILE").type(Path.class)
                .description("File holding the server's access token (when biternet-serve has --token-file).").build());
        s.addOption(flag("--tls").description("Connect with TLS (the server runs with --tls-cert).").build());
        s.addOption(OptionSpec.builder("--tls-trust").paramLabel("PEM").type(Path.class)
                .description("With --tls: trust the certificates in this PEM file (the server's CA or its own certificate).")
                .build());
        s.addOption(flag("--tls-insecure")
                .description("With --tls: accept any server certificate (encrypts, but does not authenticate).").build());
        // What mixinStandardHelpOptions adds, built like the rest: the mixin is read from an
        // annotated class (annotation proxies and reflection, 23-40 ms of the start).
        s.addOption(flag("-h", "--help").usageHelp(true).description("Show this help message and exit.").build());
        s.addOption(flag("-V", "--version").versionHelp(true).description("Print version information and exit.").build());
        return new CommandLine(s);
    }

    private static OptionSpec.Builder flag(String... names) {
        return OptionSpec.builder(names).type(boolean.class).arity("0");
    }

    /** The parsed values, from the model into the fields the command reads. */
    private void readOptions() {
        out = spec.commandLine().getOut();
        err = spec.commandLine().getErr();
        url = spec.positionalParameters().get(0).getValue();
        List<String> given = spec.findOption("--iface").getValue();
        ifaces = given == null ? new ArrayList<>() : given;
        output = spec.findOption("--output").getValue();
        json = isSet("--json");
        verbose = isSet("--verbose");
        quiet = isSet("--quiet");
        doctor = isSet("--doctor");
        listIfaces = spec.findOption("--list-ifaces").getValue();
        connectTimeout = spec.findOption("--connect-timeout").<Integer>getValue();
        retryTime = spec.findOption("--retry-time").<Integer>getValue();
        verifyDisk = isSet("--verify-disk");
        tokenFile = spec.findOption("--token-file").getValue();
        tls = isSet("--tls");
        tlsTrust = spec.findOption("--tls-trust").getValue();
        tlsInsecure = isSet("--tls-insecure");
    }

    private boolean isSet(String option) {
        return Boolean.TRUE.equals(spec.findOption(option).getValue());
    }

    @Override
    public Integer call() throws Exception {
        if (spec != null) {
            readOptions();
        }
        if (listIfaces != null) {
            return listInterfaces(out);
        }
        if (url == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required parameter: 'URL'");
        }
        Target target;
        try {
            target = Target.parse(url);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (retryTime < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--retry-time must be 0 or more seconds, not " + retryTime);
        }
        if (doctor) {
            return checkRouting(target, out);
        }
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
        // -o naming a directory saves into it under the URL's file name, as cp, wget -P and aria2 -d do.
        Path out1 = output == null ? Path.of(target.fileName())
                : java.nio.file.Files.isDirectory(output) ? output.resolve(target.fileName()) : output;
        Download download = new Download(
                new Download.Request(target, out1, ifaces, connectTimeout * 1000, verbose, retryTime, verifyDisk), err, security);
        // Work that would compete with connecting for the two cores waits until the links are
        // attached and pieces flow (or the download failed before that): the summary's warm-up,
        // and the routing check (an `ip route get` per link: a process start each, 30-50 ms
        // together; 6 ms sooner to the first byte on three lab links, measured), whose warning
        // the progress display waits for.
        download.underway().thenRunAsync(EarlyStart::warmSummary, daemon("biternet-warmup-summary"));
        CompletableFuture<Void> routing = ifaces.isEmpty() ? CompletableFuture.completedFuture(null)
                : download.underway().thenRunAsync(() -> checkRouting(target, err), daemon("biternet-routing-check"));
        // --verbose writes its timeline to stderr too: plain progress lines mix with it, a redrawn display would not.
        try (ProgressReporter progress = quiet ? null : ProgressReporter.start(download::progress, err, verbose, routing)) {
            DownloadResult result;
            try {
                result = download.run();
            } finally {
                awaitQuietly(routing);
            }
            if (progress != null) {
                progress.close();
            }
            out.print(json ? Summary.json(result) + System.lineSeparator() : Summary.text(result));
            out.flush();
            return ExitCodes.OK;
        } catch (DownloadException e) {
            err.println("biternet-get: " + e.getMessage());
            err.flush();
            return e.exitCode();
        }
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
    private int checkRouting(Target target, PrintWriter to) {
        InetAddress server;
        List<LinkSpec> links;
        try {
            server = InetAddress.getByName(target.host());
            links = LinkResolver.resolve(ifaces, server);
        } catch (UnknownHostException | LinkResolver.LinkException e) {
            if (!doctor) {
                return ExitCodes.OK;
            }
            boolean usage = e instanceof LinkResolver.LinkException;
            to.println("biternet-get: " + (usage ? e.getMessage() : "cannot resolve host " + target.host()));
            to.flush();
            return usage ? ExitCodes.USAGE : ExitCodes.NETWORK;
        }
        List<RoutingDoctor.Finding> findings = RoutingDoctor.system().check(links, server);
        boolean ok = findings.stream().allMatch(RoutingDoctor.Finding::ok);
        String report = RoutingDoctor.report(target.host(), findings);
        if (doctor) {
            to.print(report);
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
                throw new CommandLine.ParameterException(spec.commandLine(), "--list-ifaces: cannot resolve " + host);
            }
        }
        out.print(InterfaceList.render(InterfaceList.up(), server, RoutingDoctor.system()));
        out.flush();
        return ExitCodes.OK;
    }

    /** The host of HOST, HOST:PORT, [V6]:PORT or a biternet:// URL. */
    static String serverHost(String value) {
        if (value.startsWith("biternet://")) {
            return Target.parse(value).host();
        }
        java.util.regex.Matcher bracketed = java.util.regex.Pattern.compile("\\[(.+)](:\\d+)?").matcher(value);
        if (bracketed.matches()) {
            return bracketed.group(1);
        }
        int colon = value.indexOf(':');
        return colon >= 0 && colon == value.lastIndexOf(':') ? value.substring(0, colon) : value;
    }

    /**
     * {@link #call} for a line picocli did not read: everything {@code call} would throw as a
     * usage error was ruled out by {@link QuickArgs}; anything else ends as picocli's
     * {@code execute} ends it (stack trace, exit 1).
     */
    private int callQuick() {
        try {
            return call();
        } catch (Exception e) {
            e.printStackTrace(err);
            err.flush();
            return 1;
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
        System.exit(line != null ? of(line).callQuick() : commandLine().execute(args));
    }
}
