/**
 * One client's download and the state its links share: {@code SessionRegistry} (open sessions
 * and the limits on them), {@code Session} (the pinned file, its hashes, the attached links),
 * {@code PieceAllocator} (which piece each link sends next), {@code RateBoard} (what each link
 * reports for the tail rules) and {@code SessionMeters} (what sessions count). This state is
 * shared by several event loops, so this is where thread-safety reasoning lives. It reaches a
 * channel only through {@code SessionLink}, and must not import the transfer or metrics packages.
 */
package dev.biternet.server.session;
