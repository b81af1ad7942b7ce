package dev.biternet.common.piece;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DigestsTest {
    private static final String SHA256_EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    @Test
    void rootOfNoDigestsIsTheHashOfEmptyInput() {
        assertThat(Digests.hex(Digests.root(new byte[0]))).isEqualTo(SHA256_EMPTY);
        assertThat(Digests.root(new byte[0])).isEqualTo(Digests.sha256().digest()).hasSize(Digests.SHA256_BYTES);
    }

    @Test
    void rootIsTheHashOfTheConcatenatedDigestsInOrder() {
        byte[] a = Digests.sha256().digest("piece 0".getBytes(StandardCharsets.US_ASCII));
        byte[] b = Digests.sha256().digest("piece 1".getBytes(StandardCharsets.US_ASCII));
        byte[] ab = new byte[64];
        System.arraycopy(a, 0, ab, 0, 32);
        System.arraycopy(b, 0, ab, 32, 32);
        byte[] ba = new byte[64];
        System.arraycopy(b, 0, ba, 0, 32);
        System.arraycopy(a, 0, ba, 32, 32);

        assertThat(Digests.root(ab)).isEqualTo(Digests.sha256().digest(ab)).isNotEqualTo(Digests.root(ba));
    }

    @Test
    void hexIsLowerCaseAndTwoCharactersPerByte() {
        assertThat(Digests.hex(new byte[] {0, 1, (byte) 0xab, (byte) 0xff})).isEqualTo("0001abff");
        assertThat(Digests.hex("abc".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo("616263");
        assertThat(Digests.hex(Digests.sha256().digest("abc".getBytes(StandardCharsets.US_ASCII))))
                .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
