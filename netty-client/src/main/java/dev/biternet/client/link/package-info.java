/**
 * The client's links, from the command line to the bytes: {@code LinkResolver} turns
 * {@code --iface} into {@code LinkSpec}s with their {@code LinkOptions}; a download's
 * {@code LinkSet} holds its links as they come and go, records what users see of their lives
 * ({@code LinkEvent}) and at each look sizes their flows and lets backup links take over or
 * stand by ({@code BackupRule}, pure); a {@code Link} keeps a link's {@code Flow}s up
 * (reconnecting with {@code Backoff}, re-attaching through the {@code SessionKeeper}, as many
 * flows as {@code FlowCount} finds pay) over a {@code Connector} ({@code NettyConnector}, which
 * binds each channel to its link through {@code BoundConnect}: the device, the address, TLS; HTTP
 * mirrors' connections are bound the same way), and reports what ends the download to its {@code LinkOwner}. One
 * connection is a pipeline ({@code ClientInitializer}: TLS, framing, codec, {@code SilenceWatch},
 * dispatcher) whose dispatcher, {@code LinkHandler}, speaks the {@code Handshake}, holds what
 * comes before the store ({@code HeldReads}), hands a piece's blocks to its
 * {@code PieceReceiver} (then {@code PieceHasher}, {@code PieceWriter} and the store's verdict,
 * then the ack through {@code ReceivingChannel}), grants the server its window through
 * {@code FlowCredit} ({@code FlowWindow}, pure) and keeps why it ended ({@code Ending}). {@code ServerErrors} is the one rule on which server errors ({@code ServerError}) are
 * final. The link package knows nothing of the download above it or of routes.
 */
package dev.biternet.client.link;
