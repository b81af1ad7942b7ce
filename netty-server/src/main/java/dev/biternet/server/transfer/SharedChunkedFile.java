package dev.biternet.server.transfer;

import io.netty.handler.stream.ChunkedNioFile;
import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * A piece block's bytes read in chunks, for channels where a {@code FileRegion} cannot go (TLS:
 * the bytes must pass the {@code SslHandler}). Like {@link SharedFileRegion} it reads the
 * session's shared file and does not close it.
 */
final class SharedChunkedFile extends ChunkedNioFile {
    /** Bytes read and encrypted at a time: one TLS record holds at most 16 KiB. */
    static final int CHUNK = 16 << 10;

    SharedChunkedFile(FileChannel file, long position, long count) throws IOException {
        super(file, position, count, CHUNK);
    }

    @Override
    public void close() {
        // the session closes the file
    }
}
