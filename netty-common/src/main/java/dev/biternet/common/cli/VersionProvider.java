package dev.biternet.common.cli;

import dev.biternet.common.wire.Frames;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The line {@code --version} prints for both commands: the command's name, the build's version
 * and git commit ({@link BuildInfo}), the protocol version and the JDK, so a bug report names
 * exactly what ran.
 */
public final class VersionProvider implements IVersionProvider {
    @Spec
    private CommandSpec spec;

    @Override
    public String[] getVersion() {
        return new String[] {line(spec.name())};
    }

    /** E.g. {@code biternet-get 0.1.0 (commit 5079bdaf759f, protocols 1-2, Java 17.0.15)}: the protocols it speaks. */
    public static String line(String command) {
        return command + " " + BuildInfo.version() + " (commit " + BuildInfo.commit() + ", protocols "
                + Frames.OLDEST_PROTOCOL_VERSION + "-" + Frames.PROTOCOL_VERSION + ", Java " + System.getProperty("java.version") + ")";
    }
}
