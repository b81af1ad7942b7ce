package dev.biternet.client;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;

/** Writes biternet-get's bash completion script to {@code args[0]} (the build runs it: picocli generates it from the command's model). */
public final class CompletionScript {
    private CompletionScript() {}

    public static void main(String[] args) throws IOException {
        Files.writeString(Path.of(args[0]), AutoComplete.bash("biternet-get", GetCommand.commandLine()));
    }
}
