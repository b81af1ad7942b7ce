package dev.biternet.client;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A self-signed certificate for 127.0.0.1, ::1 and localhost, made with the openssl command. */
public record TestCerts(Path cert, Path key) {
    public static TestCerts create(Path dir, String name) throws Exception {
        Path cert = dir.resolve(name + "-cert.pem");
        Path key = dir.resolve(name + "-key.pem");
        Process p;
        try {
            p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1")
                    .redirectErrorStream(true).redirectOutput(dir.resolve(name + "-openssl.log").toFile()).start();
        } catch (java.io.IOException e) {
            assumeTrue(false, "the openssl command is needed to make a test certificate: " + e.getMessage());
            throw e;
        }
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("openssl failed: " + Files.readString(dir.resolve(name + "-openssl.log")));
        }
        return new TestCerts(cert, key);
    }
}
