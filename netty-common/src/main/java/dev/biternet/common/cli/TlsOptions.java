package dev.biternet.common.cli;

import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The TLS options of both commands as picocli mixins, side by side so that each side's help
 * names the other's options rightly: {@link Server} ({@code --tls-cert}, {@code --tls-key}) and
 * {@link Client} ({@code --tls}, {@code --tls-trust}, {@code --tls-insecure}). Each checks which
 * options go together and hands the files to the side's own context builder.
 */
public final class TlsOptions {
    private TlsOptions() {}

    /** Builds a side's TLS context from its two option values. */
    @FunctionalInterface
    public interface ContextBuilder<A, B> {
        SslContext build(A a, B b) throws IOException;
    }

    /** biternet-serve's: a certificate chain and its key. */
    public static final class Server {
        @Spec(Spec.Target.MIXEE)
        private CommandSpec mixee;

        @Option(names = "--tls-cert", paramLabel = "PEM",
                description = "Serve over TLS with this certificate chain (PEM); needs --tls-key.")
        private Path cert;

        @Option(names = "--tls-key", paramLabel = "PEM", description = "The certificate's private key (unencrypted PKCS#8 PEM).")
        private Path key;

        /** The server's context, or null without TLS; a lone option or an unreadable file is a usage error. */
        public SslContext context(ContextBuilder<Path, Path> builder) {
            if ((cert == null) != (key == null)) {
                throw Usage.error(mixee, "--tls-cert and --tls-key go together");
            }
            return cert == null ? null : build(mixee, "--tls-cert/--tls-key", builder, cert, key);
        }
    }

    /** biternet-get's: TLS on, and how the server's certificate is checked. */
    public static final class Client {
        @Spec(Spec.Target.MIXEE)
        private CommandSpec mixee;

        @Option(names = "--tls", description = "Connect with TLS (the server runs with --tls-cert).")
        private boolean enabled;

        @Option(names = "--tls-trust", paramLabel = "PEM",
                description = "With --tls: trust the certificates in this PEM file (the server's CA or its own certificate).")
        private Path trust;

        @Option(names = "--tls-insecure", description = "With --tls: accept any server certificate (encrypts, but does not authenticate).")
        private boolean insecure;

        /** The client's context, or null without {@code --tls}; options that need it, or an unreadable file, are usage errors. */
        public SslContext context(ContextBuilder<Path, Boolean> builder) {
            if (!enabled && (trust != null || insecure)) {
                throw Usage.error(mixee, "--tls-trust and --tls-insecure need --tls");
            }
            return enabled ? build(mixee, "--tls-trust", builder, trust, insecure) : null;
        }
    }

    private static <A, B> SslContext build(CommandSpec mixee, String options, ContextBuilder<A, B> builder, A a, B b) {
        try {
            return builder.build(a, b);
        } catch (IOException e) {
            throw Usage.error(mixee, options + ": " + e.getMessage());
        }
    }
}
