package dev.biternet.common.cli;

import dev.biternet.common.wire.Frames;
import picocli.CommandLine.IVersionProvider;

/** Version line for both commands: the build's version, the protocol version and the JVM. */
public final class VersionProvider implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String version = VersionProvider.class.getPackage().getImplementationVersion();
        return new String[] {
            "biternet " + (version == null ? "dev" : version) + " (protocol " + Frames.PROTOCOL_VERSION + ")",
            "JVM: ${java.version} (${java.vendor} ${java.vm.name})",
        };
    }
}
