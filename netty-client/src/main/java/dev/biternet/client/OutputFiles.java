package dev.biternet.client;

import dev.biternet.client.store.LocalFiles;
import dev.biternet.client.store.OutputLock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Taking the output before a download (biternet or HTTP) touches it: the checks on {@code -o}, then its lock. */
final class OutputFiles {
    private OutputFiles() {}

    /**
     * Refuses an output that is not a regular file (or nothing) and takes the output's lock,
     * before anything reads or writes {@code OUT.part} or its state.
     */
    static OutputLock lock(Path out) throws DownloadException {
        Path dir = out.toAbsolutePath().getParent();
        if (dir != null && !Files.isDirectory(dir)) {
            throw new DownloadException(ExitCodes.USAGE, "cannot write " + out + ": " + dir
                    + (Files.exists(dir) ? " is not a directory" : ": No such file or directory"));
        }
        try {
            // A link is refused, not followed: the file is renamed into place, which would replace
            // the link, not write where it leads.
            LocalFiles.requireRegularOrAbsent(out, "; -o must name a regular file, a new file or a directory"
                    + " (biternet-get renames the finished file into place, replacing what is there)");
        } catch (IOException e) {
            throw new DownloadException(ExitCodes.USAGE, LocalFiles.describe(out, e));
        }
        try {
            return OutputLock.acquire(out);
        } catch (OutputLock.Busy e) {
            throw new DownloadException(ExitCodes.BUSY, e.getMessage());
        } catch (IOException e) {
            throw DownloadException.localIo("cannot lock " + out, OutputLock.pathFor(out), e);
        }
    }
}
