/**
 * The client's links, from the command line to the bytes: {@code LinkResolver} turns
 * {@code --iface} into {@code LinkSpec}s with their {@code LinkOptions}; a {@code Link} keeps a
 * link's {@code Flow}s up (reconnecting with {@code Backoff}, re-attaching through the
 * {@code SessionKeeper}, as many flows as {@code FlowCount} finds pay) over a
 * {@code Connector}, and reports what ends the download to its {@code LinkOwner}. One
 * connection is a pipeline ({@code ClientInitializer}: TLS, framing, codec,
 * {@code SilenceWatch}, dispatcher) whose dispatcher, {@code LinkHandler}, hands a piece's blocks
 * to its {@code PieceReceiver} (then {@code PieceHasher}, {@code PieceWriter} and the store's
 * verdict, then the ack) and sizes its window with {@code FlowWindow}. {@code ServerErrors} is
 * the one rule on which server errors are final.
 */
package dev.biternet.client.link;
