package dev.biternet.server.security;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The server's TLS context from a PEM certificate chain and a PEM PKCS#8 private key, with the
 * JDK's TLS provider. With TLS, piece bytes are read into buffers and encrypted
 * ({@code ChunkedNioFile}); sendfile cannot pass an {@code SslHandler}.
 */
public final class Tls {
    private Tls() {}

    /** A server context; an IOException's message is one line saying which file is wrong and how. */
    public static SslContext server(Path certChain, Path privateKey) throws IOException {
        for (Path p : new Path[] {certChain, privateKey}) {
            if (!Files.isReadable(p)) {
                throw new IOException(p + " does not exist or is not readable");
            }
        }
        try {
            return SslContextBuilder.forServer(certChain.toFile(), privateKey.toFile()).build();
        } catch (IllegalArgumentException | IOException e) {
            throw new IOException("cannot use " + certChain + " and " + privateKey
                    + " (PEM certificate chain and unencrypted PKCS#8 PEM key expected): "
                    + dev.biternet.common.cli.Causes.root(e).getMessage(), e);
        }
    }
}
