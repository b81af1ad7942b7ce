/**
 * Who may use the server and what keeps it up: the optional access token, per-session attach
 * secrets and TLS; the limits per address and server-wide ({@code Limits}, {@code Capacity},
 * {@code AddressLimiter}, {@code ConnectionGuard}); an error-then-close bounded in time
 * ({@code ErrorClose}); running out of memory halting the process for a supervisor
 * ({@code Fatal}); text a client chose rendered safely for logs and answers
 * ({@code UntrustedText}). Policy and bounds only: it must not depend on sessions, transfer or
 * metrics.
 */
package dev.biternet.server.security;
