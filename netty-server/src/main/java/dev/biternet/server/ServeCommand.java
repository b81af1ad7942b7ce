package dev.biternet.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import dev.biternet.common.cli.TlsOptions;
import dev.biternet.common.cli.TokenOption;
import dev.biternet.common.cli.VersionProvider;
import dev.biternet.server.files.HashCache;
import dev.biternet.server.metrics.MetricsEndpoint;
import dev.biternet.server.security.Access;
import dev.biternet.server.security.AccessToken;
import dev.biternet.server.security.Fatal;
import dev.biternet.server.security.Limits;
import dev.biternet.server.security.Tls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code biternet-serve}: serves the files below a directory to biternet clients. */
@Command(name = "biternet-serve", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false,
        description = {
            "Serves the files below a directory to biternet-get clients, which download each file over several network links at once.",
        },
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:stopped normally",
            "1:could not start (root missing, address in use, ...)",
            "2:usage error",
            "3:ran out of memory (exits at once, for a supervisor to restart it)",
        })
public final class ServeCommand implements Callable<Integer> {
    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Properties file with defaults for any option, by its"
            + " long name without dashes (root=/srv/files, port=7420, token-file=/etc/biternet/token); options given here override it.")
    private Path config;

    // Not required=true: it may come from --config, which picocli applies as a default. call() checks it.
    @Option(names = "--root", paramLabel = "DIR", description = "Directory to serve; nothing outside it is reachable (required).")
    private Path root;

    // No defaultValue: null means the wildcard ListenHost picks ('::', or 0.0.0.0 without IPv6).
    @Option(names = "--host", paramLabel = "ADDR",
            description = "Address to listen on (default: '::', every IPv4 and IPv6 address; 0.0.0.0 where the host has no IPv6).")
    private String host;

    @Option(names = "--port", defaultValue = "7420", paramLabel = "PORT",
            description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    private int port;

    @Option(names = "--piece-size", paramLabel = "BYTES", defaultValue = "0",
            description = "Fixed piece size in bytes, 16384..16777216 (default: the largest of 64 KiB..1 MiB that gives a file at"
                    + " least 1,024 pieces, i.e. 1 MiB from 1 GiB; doubling for files of more than 262,144 pieces).")
    private int pieceSize;

    @Option(names = "--io-threads", paramLabel = "N", defaultValue = "0",
            description = "Event loop threads (default: 2 x cores).")
    private int ioThreads;

    @Option(names = "--hash-threads", paramLabel = "N", defaultValue = "1",
            description = "Threads hashing files seen for the first time (default: ${DEFAULT-VALUE}).")
    private int hashThreads;

    @Option(names = "--hash-cache", paramLabel = "DIR",
            description = "Keep piece hashes here across restarts, so a known file is not read again; 'none': in memory"
                    + " only (default: $CACHE_DIRECTORY, else $XDG_CACHE_HOME/biternet, else ~/.cache/biternet).")
    private String hashCache;

    @Mixin
    private final TokenOption token = new TokenOption();

    @Option(names = "--max-sessions-per-address", paramLabel = "N", defaultValue = "64",
            description = "Open sessions one client address may hold (default: ${DEFAULT-VALUE}).")
    private int maxSessions;

    @Option(names = "--max-channels-per-address", paramLabel = "N", defaultValue = "256",
            description = "Open connections one client address may hold (default: ${DEFAULT-VALUE}).")
    private int maxChannels;

    @Option(names = "--max-connections", paramLabel = "N",
            description = "Open connections over all clients (default: half the process's descriptor limit, `ulimit -n`).")
    private Integer maxConnections;

    @Option(names = "--max-sessions", paramLabel = "N",
            description = "Open sessions over all clients; each holds an open file (default: a quarter of the descriptor limit).")
    private Integer maxSessionsTotal;

    @Option(names = "--session-memory", paramLabel = "MIB",
            description = "Memory the open sessions' piece state may take, in MiB: 33 bytes a piece per session"
                    + " (default: a quarter of the maximum heap, -Xmx).")
    private Long sessionMemoryMib;

    @Option(names = "--hello-timeout", paramLabel = "SECONDS", defaultValue = "5",
            description = "Close a connection that has not sent Hello within this time (default: ${DEFAULT-VALUE}).")
    private int helloTimeout;

    @Option(names = "--idle-timeout", paramLabel = "SECONDS", defaultValue = "120",
            description = "Close a connection on which nothing is read or written for this long; 0: never (default: ${DEFAULT-VALUE}).")
    private int idleTimeout;

    @Mixin
    private final TlsOptions.Server tls = new TlsOptions.Server();

    /** Levels --log-level takes, as Logback names them. */
    enum LogLevel { TRACE, DEBUG, INFO, WARN, ERROR, OFF }

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "INFO",
            description = "Logging on stderr: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}). INFO logs one line per session.")
    private LogLevel logLevel;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve Prometheus metrics at http://HOST:PORT/metrics (default: off; 0 picks a free port).")
    private Integer metricsPort;

    @Option(names = "--metrics-host", paramLabel = "ADDR", defaultValue = "127.0.0.1",
            description = "Address the metrics endpoint listens on (default: ${DEFAULT-VALUE}).")
    private String metricsHost;

    @Option(names = "--cluster", paramLabel = "URI",
            description = "Share sessions with the other nodes serving the same files through the Redis (7+) or"
                    + " Valkey at URI: redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS. A link of a"
                    + " download may then attach to any node (default: off, this node alone).")
    private String cluster;

    @Option(names = "--shutdown-grace", paramLabel = "SECONDS", defaultValue = "30",
            description = "On SIGTERM: stop accepting, let running transfers finish for up to this long, then close"
                    + " the rest with SHUTTING_DOWN (default: ${DEFAULT-VALUE}).")
    private int shutdownGrace;

    @Override
    public Integer call() throws Exception {
        var err = spec.commandLine().getErr();
        checkConfig();
        if (root == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "Missing required option: '--root=DIR' (or root= in --config)");
        }
        setLogLevel(logLevel);
        if (!Files.isDirectory(root)) {
            err.println("biternet-serve: --root " + root + " is not a directory");
            return 1;
        }
        if (shutdownGrace < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--shutdown-grace must be at least 0, not " + shutdownGrace);
        }
        if (pieceSize != 0 && (pieceSize < 16384 || pieceSize > (16 << 20))) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--piece-size must be 16384..16777216, not " + pieceSize);
        }
        Access access = access();
        String listen = host != null ? host : ListenHost.wildcard(err::println);
        HashCache cache = hashCache();
        BiternetServer server;
        try {
            server = BiternetServer.start(new BiternetServer.Config(root, listen, port, pieceSize, ioThreads, hashThreads, 60, access,
                    cache, cluster));
        } catch (java.io.IOException e) {
            err.println("biternet-serve: " + e.getMessage());
            return 1;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            LoggerFactory.getLogger("biternet.server").info("shutting down (signal or exit)");
            try {
                server.shutdownGracefully(Duration.ofSeconds(shutdownGrace));
            } catch (InterruptedException e) {
                server.close();
            }
        }, "biternet-shutdown"));
        var out = spec.commandLine().getOut();
        MetricsEndpoint endpoint = null;
        if (metricsPort != null) {
            try {
                endpoint = MetricsEndpoint.start(metricsHost, metricsPort, server.metrics());
            } catch (java.io.IOException e) {
                server.close();
                err.println("biternet-serve: " + e.getMessage());
                return 1;
            }
            Runtime.getRuntime().addShutdownHook(new Thread(endpoint::close, "biternet-metrics-shutdown"));
        }
        out.println("biternet-serve: serving " + root.toRealPath() + " on " + io.netty.util.NetUtil.toAddressString(server.address().getAddress())
                + " port " + server.port() + " (" + server.transport().name().toLowerCase(java.util.Locale.ROOT)
                + (access.tls() != null ? ", TLS" : "") + ")");
        Limits limits = access.limits();
        LoggerFactory.getLogger("biternet.server").info("limits: {} connections, {} sessions, {} MiB of session piece state"
                + " (descriptor limit {}, max heap {} MiB)", limits.maxConnections(), limits.maxSessions(),
                limits.sessionMemory() >> 20, Limits.descriptorLimit(), Runtime.getRuntime().maxMemory() >> 20);
        if (endpoint != null) {
            out.println("biternet-serve: metrics on http://" + io.netty.util.NetUtil.toSocketAddressString(metricsHost, endpoint.port())
                    + "/metrics");
        }
        out.flush();
        server.awaitClose();
        return 0;
    }

    /**
     * The piece-hash cache: the directory named, none, or the default one; a default that cannot
     * be used is reported in one line and the server runs without it.
     */
    private HashCache hashCache() {
        if ("none".equals(hashCache)) {
            return null;
        }
        Path dir = hashCache != null ? Path.of(hashCache) : HashCache.defaultDir(System.getenv());
        if (dir == null) {
            LoggerFactory.getLogger("biternet.server").info("hash cache: off (no HOME, XDG_CACHE_HOME or CACHE_DIRECTORY)");
            return null;
        }
        try {
            HashCache cache = HashCache.open(dir);
            LoggerFactory.getLogger("biternet.server").info("hash cache: {}", cache.dir());
            return cache;
        } catch (java.io.IOException e) {
            if (hashCache != null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--hash-cache: cannot use " + dir + ": " + e.getMessage());
            }
            LoggerFactory.getLogger("biternet.server").warn("hash cache: off, {} cannot be used ({}); --hash-cache DIR names another",
                    dir, e.getMessage());
            return null;
        }
    }

    private Access access() {
        Limits limits;
        try {
            limits = new Limits(maxSessions, maxChannels, helloTimeout, idleTimeout);
            limits = limits.withServerWide(maxSessionsTotal != null ? maxSessionsTotal : limits.maxSessions(),
                    sessionMemoryMib != null ? Math.multiplyExact(sessionMemoryMib, 1L << 20) : limits.sessionMemory(),
                    maxConnections != null ? maxConnections : limits.maxConnections());
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--max-sessions-per-address, --max-channels-per-address,"
                    + " --max-sessions, --max-connections, --session-memory and --hello-timeout must be at least 1,"
                    + " --idle-timeout at least 0");
        }
        com.google.protobuf.ByteString secret = token.token();
        return new Access(secret == null ? AccessToken.NONE : AccessToken.of(secret), limits, tls.context(Tls::server));
    }

    static void setLogLevel(LogLevel level) {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
            logback.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).setLevel(Level.toLevel(level.name()));
        }
    }

    /** The config file must exist and name only options this command has. */
    private void checkConfig() {
        if (config == null) {
            return;
        }
        if (!Files.isReadable(config)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--config: " + config + " does not exist or is not readable");
        }
        java.util.Properties p = new java.util.Properties();
        try (var in = Files.newBufferedReader(config)) {
            p.load(in);
        } catch (java.io.IOException | IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--config: cannot read " + config + ": " + e.getMessage());
        }
        for (String key : p.stringPropertyNames()) {
            if (key.equals("config") || spec.findOption("--" + key) == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--config: " + config + " sets '" + key
                        + "', which is not an option of biternet-serve");
            }
        }
    }

    /**
     * The command line for {@code args}: with {@code --config FILE} among them, the file's
     * properties become the options' defaults (picocli's {@link CommandLine.PropertiesDefaultProvider}),
     * so options given in {@code args} override them.
     */
    public static CommandLine commandLine(String... args) {
        CommandLine cmd = new CommandLine(new ServeCommand());
        for (int i = 0; i < args.length; i++) {
            String file = args[i].startsWith("--config=") ? args[i].substring("--config=".length())
                    : args[i].equals("--config") && i + 1 < args.length ? args[i + 1] : null;
            if (file != null) {
                if (Files.isReadable(Path.of(file))) {
                    cmd.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(Path.of(file).toFile()));
                }
                break;
            }
        }
        return cmd;
    }

    public static void main(String[] args) {
        Fatal.install();
        System.exit(commandLine(args).execute(args));
    }
}
