package dev.biternet.common.cli;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code --token-file}, a picocli mixin both commands share: the server requires the token, the client sends it. */
public final class TokenOption {
    @Spec(Spec.Target.MIXEE)
    private CommandSpec mixee;

    @Option(names = "--token-file", paramLabel = "FILE", description = "File holding the access token (its content,"
            + " trimmed): biternet-serve requires it in every client's Hello, biternet-get sends it.")
    private Path file;

    /** The token, or null without {@code --token-file}; a file that cannot be read is a usage error. */
    public ByteString token() {
        if (file == null) {
            return null;
        }
        try {
            return TokenFile.read(file);
        } catch (IOException e) {
            throw Usage.error(mixee, "--token-file: " + e.getMessage());
        }
    }
}
