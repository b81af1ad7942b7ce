/**
 * What an operator can count: the server's Micrometer meters ({@code ServerMetrics}), the stage
 * that counts every Error frame sent ({@code ErrorCounter}) and the Prometheus endpoint
 * ({@code MetricsEndpoint}, {@code --metrics-port}). It only counts, it decides nothing; sessions
 * report through {@code session.SessionMeters}, so no package it reads from imports it.
 */
package dev.biternet.server.metrics;
