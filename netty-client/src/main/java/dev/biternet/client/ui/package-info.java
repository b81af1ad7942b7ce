/**
 * Live progress of a download: {@link dev.biternet.client.ui.ProgressRenderer} turns a
 * {@link dev.biternet.client.Progress} snapshot and measured rates into lines (pure, unit-tested),
 * {@link dev.biternet.client.ui.RateMeter} measures the rates from successive snapshots, and
 * {@link dev.biternet.client.ui.ProgressReporter} decides where they go: redrawn in place on a
 * terminal (JLine's {@code Display}), a plain line every few seconds otherwise, or nowhere.
 */
package dev.biternet.client.ui;
