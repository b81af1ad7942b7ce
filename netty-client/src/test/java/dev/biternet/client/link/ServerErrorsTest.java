package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Error;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one rule for server errors, as docs/PROTOCOL.md section 7 states it. */
class ServerErrorsTest {
    @Test
    void exactlyTheRefusalsOfTheFileOrTheClientAreFinal() {
        Set<Error.Code> fin = EnumSet.of(Error.Code.FILE_CHANGED, Error.Code.IO_ERROR, Error.Code.NOT_FOUND,
                Error.Code.FORBIDDEN_PATH, Error.Code.UNSUPPORTED_VERSION, Error.Code.UNAUTHORIZED);

        for (Error.Code c : Error.Code.values()) {
            assertThat(ServerErrors.isFinal(c)).as("%s is final", c).isEqualTo(fin.contains(c));
        }
        // A busy or stopping server, a forgotten session and one connection's trouble are asked again.
        assertThat(Arrays.stream(Error.Code.values()).filter(c -> !ServerErrors.isFinal(c))).contains(
                Error.Code.LIMIT_EXCEEDED, Error.Code.SHUTTING_DOWN, Error.Code.UNKNOWN_SESSION, Error.Code.BAD_FRAME,
                Error.Code.BAD_STATE, Error.Code.INTERNAL);
    }
}
