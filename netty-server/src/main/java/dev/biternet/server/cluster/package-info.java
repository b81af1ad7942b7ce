/**
 * Several biternet-serve nodes sharing sessions through Redis ({@code --cluster}):
 * {@code ClusterStore} (one node's connection, its id and its leases) and
 * {@code RedisPieceAllocator} (a session's pieces and claims, one Lua script run atomically in
 * Redis per operation). Without {@code --cluster} nothing here is used.
 */
package dev.biternet.server.cluster;
