/**
 * The download on disk: {@code PieceStore}, the facade links and {@code Download} use, over the
 * part file ({@code PartFile}), the verdicts on pieces ({@code PieceBook}), the resume log's
 * checkpoints ({@code Checkpointer}) and the optional read-back ({@code DiskReadBack});
 * {@code ResumeLog} (the resume state's format), {@code LocalFiles} (the one way this client
 * touches paths beside its output) and {@code OutputLock} (one run per output). It judges the
 * bytes and digests handed to it and never counts a piece the disk does not hold; it must not
 * know links, servers or frames.
 */
package dev.biternet.client.store;
