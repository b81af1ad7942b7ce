package dev.biternet.client;

import dev.biternet.client.ui.ProgressReporter;
import dev.biternet.common.cli.Sizes;
import java.io.PrintWriter;
import java.util.concurrent.CompletableFuture;

/**
 * {@code biternet-get http[s]://...}: runs an {@link HttpDownload} with the progress display
 * (which waits for the routing check's warning, as for a biternet download), then the summary.
 */
final class HttpGet {
    private HttpGet() {}

    /** @param routing the routing check, run once the download is under way; null without --iface */
    static int call(HttpDownload.Request request, PrintWriter err, PrintWriter out, boolean json, boolean quiet,
                    boolean verbose, Sizes units, Runnable routing) throws Exception {
        HttpDownload download = new HttpDownload(request, err);
        CompletableFuture<Void> checked = routing == null ? CompletableFuture.completedFuture(null)
                : download.underway().thenRunAsync(routing, task -> {
                    Thread t = new Thread(task, "biternet-routing-check");
                    t.setDaemon(true);
                    t.start();
                });
        try (ProgressReporter progress = quiet ? null : ProgressReporter.start(download::progress, err, verbose, checked,
                units)) {
            DownloadResult result = download.run();
            checked.exceptionally(e -> null).get(5, java.util.concurrent.TimeUnit.SECONDS);
            if (progress != null) {
                progress.close();
            }
            out.print(json ? Summary.json(result) + System.lineSeparator() : Summary.text(result, units));
            out.flush();
            return ExitCodes.OK;
        }
    }
}
