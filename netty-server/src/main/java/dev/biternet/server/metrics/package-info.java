/**
 * What an operator can count: the server's Micrometer meters ({@code ServerMetrics}), the stage
 * that counts every Error frame sent ({@code ErrorCounter}) and the Prometheus endpoint
 * ({@code MetricsEndpoint}, {@code --metrics-port}).
 */
package dev.biternet.server.metrics;
