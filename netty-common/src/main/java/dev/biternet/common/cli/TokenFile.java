package dev.biternet.common.cli;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The access token file both commands read ({@code --token-file}): its content as UTF-8 with
 * surrounding white space (an editor's or {@code echo}'s trailing newline) trimmed, so the
 * server and the client derive the same bytes from the same file.
 */
public final class TokenFile {
    /** Larger files are refused: a token is a line, not a document. */
    public static final int MAX_BYTES = 4096;

    private TokenFile() {}

    /** The token; an IOException's message is one line naming the file and what is wrong. */
    public static ByteString read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("token file " + file + " does not exist or is not a file");
        }
        if (Files.size(file) > MAX_BYTES) {
            throw new IOException("token file " + file + " is larger than " + MAX_BYTES + " bytes");
        }
        String text = Files.readString(file, StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) {
            throw new IOException("token file " + file + " is empty");
        }
        return ByteString.copyFromUtf8(text);
    }
}
