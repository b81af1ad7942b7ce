package dev.biternet.common.cli;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Usage errors found after parsing (a file that cannot be read, options that go together), for
 * the commands and their mixins: picocli prints them as it prints its own, exit code 2.
 */
public final class Usage {
    private Usage() {}

    /**
     * The error to throw: picocli's {@link ParameterException} for a command it parsed
     * ({@code spec} is its model), {@link Unparsed} for one it did not.
     */
    public static RuntimeException error(CommandSpec spec, String message) {
        return spec != null ? new ParameterException(spec.commandLine(), message) : new Unparsed(message);
    }

    /**
     * A usage error on a command line picocli did not read (biternet-get's quick path): there
     * is no model to report it with, so the caller has picocli read the line, which finds the
     * same error and reports it.
     */
    public static final class Unparsed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Unparsed(String message) {
            super(message, null, false, false);
        }
    }
}
