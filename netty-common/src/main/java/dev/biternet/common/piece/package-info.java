/**
 * The piece maths both sides must agree on: how a file is cut into pieces ({@code PieceLayout})
 * and its digests (SHA-256 per piece, the root hash over them in order). Pure: no I/O, no Netty,
 * no protocol messages.
 */
package dev.biternet.common.piece;
