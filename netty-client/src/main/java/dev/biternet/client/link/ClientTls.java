package dev.biternet.client.link;

import static dev.biternet.common.cli.Causes.rootMessage;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLException;

/**
 * The client's TLS context: trust the certificates in a PEM file (a CA or the server's own
 * certificate) and check that the certificate names the host in the URL, or, insecurely, trust
 * any certificate. JDK provider.
 */
public final class ClientTls {
    private ClientTls() {}

    /** @param trust PEM certificates to trust, or null for the JDK's default CAs */
    public static SslContext context(Path trust, boolean insecure) throws IOException {
        SslContextBuilder b = SslContextBuilder.forClient();
        if (insecure) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
        } else {
            b.endpointIdentificationAlgorithm("HTTPS");
            if (trust != null) {
                if (!Files.isReadable(trust)) {
                    throw new IOException(trust + " does not exist or is not readable");
                }
                try {
                    b.trustManager(trust.toFile());
                } catch (IllegalArgumentException e) {
                    throw new IOException("cannot read PEM certificates from " + trust + ": " + rootMessage(e), e);
                }
            }
        }
        try {
            return b.build();
        } catch (SSLException e) {
            throw new IOException("cannot set up TLS: " + rootMessage(e), e);
        }
    }

    /** One line saying why a TLS handshake failed and what to do about it. */
    public static String explain(Throwable handshakeFailure) {
        for (Throwable c = handshakeFailure; c != null; c = c.getCause()) {
            if (c instanceof CertPathBuilderException || c instanceof CertificateException) {
                return "TLS: the server's certificate is not trusted (" + rootMessage(handshakeFailure)
                        + "); pass its certificate or CA with --tls-trust FILE";
            }
            if (c instanceof io.netty.handler.ssl.NotSslRecordException) {
                return "TLS: the server did not answer with TLS (is biternet-serve running with --tls-cert?)";
            }
        }
        return "TLS handshake failed: " + rootMessage(handshakeFailure);
    }
}
