package dev.biternet.common.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The version and git commit this build was made from, written into {@code build.properties}
 * by the build ({@code netty-common/pom.xml}); "unknown" where a build had no git or no
 * repository to read the commit from.
 */
public final class BuildInfo {
    private static final Properties PROPS = load();

    private BuildInfo() {
    }

    /** The project version, e.g. {@code 0.1.0-SNAPSHOT}. */
    public static String version() {
        return PROPS.getProperty("version", "unknown");
    }

    /** The abbreviated commit id (12 hex digits), or {@code unknown}. */
    public static String commit() {
        return PROPS.getProperty("commit", "unknown");
    }

    private static Properties load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("build.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // a jar that cannot read its own resource (or an IDE build without it): "unknown", not a failed command
        }
        return p;
    }
}
