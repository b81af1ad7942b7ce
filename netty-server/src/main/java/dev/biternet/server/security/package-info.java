/**
 * Who may use the server: the optional access token ({@code --token-file}), per-session attach
 * secrets, per-address limits and TLS.
 */
package dev.biternet.server.security;
