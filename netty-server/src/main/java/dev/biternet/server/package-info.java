/**
 * The server process and how its parts are put together: {@code BiternetServer} (bootstrap,
 * event loops, socket options, shutdown), {@code ServerInitializer} (the pipeline's named stages
 * in order) and {@code ServeCommand} ({@code biternet-serve}'s command line). It wires and
 * configures; it must not hold transfer, session or file logic, and no other server package
 * imports it.
 */
package dev.biternet.server;
