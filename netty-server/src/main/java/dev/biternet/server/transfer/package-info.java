/**
 * The handlers that move pieces over one connection: {@code ControlHandler} (the dispatcher:
 * handshake, open, attach), {@code PiecePusher} (credit-based sending with {@code FileRegion}s),
 * its delivery-rate estimate and {@code EndgameRule} (the tail rules, pure functions). A
 * handler's state belongs to its channel's event loop; what links share is reached only through
 * the session package. It must not decide who may connect or how much (security) nor resolve
 * paths (files).
 */
package dev.biternet.server.transfer;
