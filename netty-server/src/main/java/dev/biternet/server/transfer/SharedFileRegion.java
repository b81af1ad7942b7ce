package dev.biternet.server.transfer;

import io.netty.channel.DefaultFileRegion;
import java.nio.channels.FileChannel;

/**
 * A piece's bytes as a {@link DefaultFileRegion} over the session's shared file. It stays a
 * {@code DefaultFileRegion} so the epoll transport sends it with sendfile(2) straight from the
 * descriptor, but it does not close the file when released: the session owns it and many
 * regions share it.
 */
final class SharedFileRegion extends DefaultFileRegion {
    SharedFileRegion(FileChannel file, long position, long count) {
        super(file, position, count);
    }

    @Override
    protected void deallocate() {
        // the session closes the file
    }
}
