package dev.biternet.client;

import dev.biternet.client.ui.ProgressReporter;
import dev.biternet.common.cli.Sizes;
import java.io.PrintWriter;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/** {@code biternet-get http[s]://...}: runs an {@link HttpDownload} with the progress display, then the summary. */
final class HttpGet {
    private HttpGet() {}

    static int call(Supplier<HttpDownload.Request> request, PrintWriter err, PrintWriter out, boolean json, boolean quiet,
                    boolean verbose, Sizes units) throws Exception {
        HttpDownload download = new HttpDownload(request.get(), err);
        try (ProgressReporter progress = quiet ? null : ProgressReporter.start(download::progress, err, verbose,
                CompletableFuture.completedFuture(null), units)) {
            DownloadResult result = download.run();
            if (progress != null) {
                progress.close();
            }
            out.print(json ? Summary.json(result) + System.lineSeparator() : Summary.text(result, units));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
