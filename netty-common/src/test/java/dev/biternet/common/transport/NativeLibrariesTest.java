package dev.biternet.common.transport;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The native transports ship for both 64-bit Linux architectures: on ARM, without its epoll
 * library, a link could not be bound to its device (--iface NAME) and NIO would run unbound.
 */
class NativeLibrariesTest {
    /** {@code machine}: the ELF header's e_machine, 62 for x86-64, 183 for AArch64. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({
        "libnetty_transport_native_epoll_x86_64.so, 62",
        "libnetty_transport_native_epoll_aarch_64.so, 183",
        "libnetty_transport_native_io_uring42_x86_64.so, 62",
        "libnetty_transport_native_io_uring42_aarch_64.so, 183",
    })
    void eachLibraryIsOnTheClassPathBuiltForItsMachine(String library, int machine) throws IOException {
        try (InputStream in = NativeLibrariesTest.class.getResourceAsStream("/META-INF/native/" + library)) {
            assertThat(in).as(library).isNotNull();
            byte[] header = in.readNBytes(20);
            assertThat(header).as("ELF magic").startsWith(0x7f, 'E', 'L', 'F');
            int eMachine = ByteBuffer.wrap(header, 18, 2).order(ByteOrder.LITTLE_ENDIAN).getShort();
            assertThat(eMachine).as("e_machine of " + library).isEqualTo(machine);
        }
    }
}
