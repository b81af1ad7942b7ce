/**
 * The frames on the wire, for both sides: their layout ({@code Frames}), the bounded decoder
 * that splits a byte stream into control messages, piece headers and raw piece runs, and the
 * control message encoder. Every length a peer sends is checked here before anything is
 * allocated for it, and piece bytes pass as slices, never copied. It must not hold session or
 * transfer state.
 */
package dev.biternet.common.wire;
