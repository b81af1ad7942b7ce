/**
 * {@code biternet-get}, the client: {@link dev.biternet.client.GetCommand} (the command line,
 * the one model; {@link dev.biternet.client.QuickArgs} its quick path, from the table
 * {@link dev.biternet.client.QuickTable} generates, and {@link dev.biternet.client.EarlyStart}
 * the work done while it is read), {@link dev.biternet.client.Download} (one download from the
 * output's lock to the result, and its supervision; a previous run's state and the store it
 * leads to are {@link dev.biternet.client.Resume}'s, opening the session over the links
 * {@link dev.biternet.client.SessionOpening}'s), {@link dev.biternet.client.HttpDownload} (a
 * download from HTTP(S) mirrors, its channels {@code client.http}'s; the output's lock for both
 * is {@link dev.biternet.client.OutputFiles}'), {@link dev.biternet.client.ExitCodes} (the
 * exit codes, the one place they are written), {@link dev.biternet.client.Summary} (the summary
 * and {@code --json}). The links are {@code client.link}'s, the file on disk
 * {@code client.store}'s, routes {@code client.route}'s, live progress {@code client.ui}'s.
 */
package dev.biternet.client;
