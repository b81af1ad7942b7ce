/**
 * What is served: {@code ServedRoot} turns a client's path into a file opened below the root,
 * which is read only through its descriptor from then on ({@code ServedFile}); {@code FileVersion}
 * pins one version of it; {@code FileHasher} computes and caches its piece hashes
 * ({@code PieceHashes}) once per version. It knows nothing of sessions, links or frames, and
 * nothing may open a served file other than through {@code ServedRoot}.
 */
package dev.biternet.server.files;
