/**
 * Plain HTTP(S) mirrors as sources: a {@code MirrorUrl}, keep-alive connections per (link,
 * mirror), as many as pay ({@code MirrorFlows}; each a {@code MirrorConnection}, opened by
 * {@code HttpDialer} bound like every link's channel, driven by a {@code MirrorChannel}), its pipeline ({@code HttpInitializer}: TLS, Netty's HTTP codec, the stall watch,
 * {@code RangeHandler}), the strict reading of an answer (a 206 of exactly the range asked
 * for, {@code ContentRange}, the file's {@code Validators}), and what a failure means for the
 * mirror ({@code HttpFailure}).
 */
package dev.biternet.client.http;
