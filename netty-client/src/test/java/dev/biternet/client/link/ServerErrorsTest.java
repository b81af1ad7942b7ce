package dev.biternet.client.link;

import static org.assertj.core.api.Assertions.assertThat;

import dev.biternet.proto.Error;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
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

    /** docs/PROTOCOL.md section 7 quotes the rule: its two lists are exactly the final and the retried codes. */
    @Test
    void theProtocolDocumentListsTheRuleAsWritten() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "PROTOCOL.md"));
        Set<Error.Code> listedFinal = codes(doc, "- final:");
        Set<Error.Code> listedRetried = codes(doc, "- asked again:");
        Set<Error.Code> all = Arrays.stream(Error.Code.values()).filter(c -> c != Error.Code.UNRECOGNIZED)
                .collect(Collectors.toCollection(() -> EnumSet.noneOf(Error.Code.class)));

        assertThat(listedFinal).isEqualTo(all.stream().filter(ServerErrors::isFinal).collect(Collectors.toSet()));
        assertThat(listedRetried).isEqualTo(all.stream().filter(c -> !ServerErrors.isFinal(c)).collect(Collectors.toSet()));
    }

    /** The codes named in the list item that starts with {@code item} (up to the next item or blank line). */
    private static Set<Error.Code> codes(String doc, String item) {
        int start = doc.indexOf("\n" + item);
        assertThat(start).as("PROTOCOL.md has a list item '%s'", item).isNotNegative();
        String rest = doc.substring(start + 1);
        Matcher end = Pattern.compile("\n(- |\n)").matcher(rest);
        String text = end.find() ? rest.substring(0, end.start()) : rest;
        Set<Error.Code> codes = EnumSet.noneOf(Error.Code.class);
        Matcher m = Pattern.compile("`([A-Z_]+)`").matcher(text);
        while (m.find()) {
            codes.add(Error.Code.valueOf(m.group(1)));
        }
        return codes;
    }
}
