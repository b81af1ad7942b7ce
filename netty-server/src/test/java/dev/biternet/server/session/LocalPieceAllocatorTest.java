package dev.biternet.server.session;

/** {@link PieceAllocatorContract} for the in-process allocator. */
class LocalPieceAllocatorTest extends PieceAllocatorContract {
    @Override
    protected PieceAllocator allocator(int count) {
        return new LocalPieceAllocator(count);
    }
}
