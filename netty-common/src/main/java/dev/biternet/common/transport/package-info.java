/**
 * Which socket transport both sides use (native epoll where it loads, io_uring on request, NIO
 * otherwise) and its event loop and channel classes. It chooses; options that belong to one
 * side (the server's {@code TCP_NOTSENT_LOWAT}, the client's device binding) are set by that side.
 */
package dev.biternet.common.transport;
