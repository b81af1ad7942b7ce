package dev.biternet.client;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads plain download command lines without picocli, which a fresh JVM takes tens of
 * milliseconds to build its model and parse with, before a download's first connect
 * (docs/DESIGN.md, "Start-up"). The options, their names and their fields come from a table
 * generated from {@link GetCommand}'s picocli model ({@link QuickTable}); this reads only the
 * plainest forms ({@code --name value}, {@code --name=value}, {@code -o value}, flags alone, a
 * number as plain digits, one positional) and gives up on anything else: help and the other
 * options that start no download, clustered or attached short options, {@code @argfiles},
 * {@code --}, a value that looks like an option, a single-valued option given twice. Picocli
 * then reads the line, with its messages and usage for every error, as it does for a line the
 * command refuses after this read it (a URL that does not parse: {@code Usage.Unparsed}). So a
 * line this accepts means to picocli exactly what it means here ({@code QuickArgsTest} checks
 * that over random command lines), and every other line behaves as it always did.
 */
final class QuickArgs {
    /** The value types this converts, besides flags and lists of strings. */
    static final Set<Class<?>> READS = Set.of(int.class, String.class, Path.class);

    private static final Table TABLE = Table.load();

    private QuickArgs() {}

    /** The values a line sets, by field ({@code MIXIN.FIELD} for a mixin's). */
    record Line(Map<String, Object> values) {
        /** Sets the values into a command's fields, as picocli would have. */
        void applyTo(GetCommand command) {
            try {
                for (Map.Entry<String, Object> v : values.entrySet()) {
                    Object owner = command;
                    String[] path = v.getKey().split("\\.");
                    for (int i = 0; i < path.length - 1; i++) {
                        owner = field(owner.getClass(), path[i]).get(owner);
                    }
                    field(owner.getClass(), path[path.length - 1]).set(owner, v.getValue());
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("the quick path's table does not fit GetCommand", e);
            }
        }
    }

    /** True for an argument after which no download follows (help, version, --doctor, ...). */
    static boolean noDownload(String arg) {
        return TABLE.stops.contains(arg);
    }

    /** The download {@code args} ask for, or null when picocli must read them. */
    static Line parse(String[] args) {
        if (TABLE.positional == null) {
            return null; // no table (classes not built by Maven): picocli reads every line
        }
        for (Object key : System.getProperties().keySet()) {
            if (key instanceof String k && k.startsWith("picocli.")) {
                return null; // picocli's own switches (picocli.trimQuotes, ...) change how it reads a line
            }
        }
        Map<String, Object> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String name = a;
            String value = null;
            if (a.startsWith("--")) {
                int eq = a.indexOf('=');
                if (eq > 0) {
                    name = a.substring(0, eq);
                    value = a.substring(eq + 1);
                }
            } else if (!a.startsWith("-")) {
                if (!set(values, TABLE.positional, a)) {
                    return null; // a second positional is an error; @FILE is an argument file
                }
                continue;
            }
            String field = TABLE.fields.get(name);
            if (field == null) {
                return null;
            }
            if (TABLE.types.get(field) == boolean.class) {
                if (value != null || values.put(field, Boolean.TRUE) != null) {
                    return null;
                }
                continue;
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    return null;
                }
                value = args[++i];
            }
            if (value.startsWith("-") || !set(values, field, value)) {
                return null;
            }
        }
        return new Line(values);
    }

    /** Converts and records one value; false where picocli must read it (or would refuse it). */
    private static boolean set(Map<String, Object> values, String field, String value) {
        if (value.isEmpty() || value.charAt(0) == '@') {
            return false;
        }
        Class<?> type = TABLE.types.get(field);
        if (type == List.class) {
            @SuppressWarnings("unchecked")
            List<String> list = (List<String>) values.computeIfAbsent(field, k -> new ArrayList<String>());
            list.add(value);
            return true;
        }
        Object converted;
        if (type == int.class) {
            converted = digits(value);
        } else if (type == Path.class) {
            try {
                converted = Path.of(value);
            } catch (InvalidPathException e) {
                converted = null;
            }
        } else {
            converted = value;
        }
        return converted != null && values.put(field, converted) == null; // twice: "should be specified only once"
    }

    /** A plain decimal of at most 9 digits, or null. */
    private static Integer digits(String s) {
        if (s.length() > 9) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return null;
            }
        }
        return Integer.parseInt(s);
    }

    private static Field field(Class<?> owner, String name) throws NoSuchFieldException {
        Field f = owner.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }

    /** The generated table: each option name's field, each field's type, the positional's field, the stop names. */
    private record Table(Map<String, String> fields, Map<String, Class<?>> types, String positional, Set<String> stops) {
        static Table load() {
            Map<String, String> fields = new HashMap<>();
            Map<String, Class<?>> types = new HashMap<>();
            Set<String> stops = new HashSet<>();
            String positional = null;
            try (InputStream in = QuickArgs.class.getResourceAsStream(QuickTable.RESOURCE)) {
                if (in == null) {
                    return new Table(fields, types, null, stops);
                }
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    String[] words = line.split(" ");
                    switch (words[0]) {
                        case "param" -> {
                            positional = words[1];
                            types.put(words[1], type(words[1]));
                        }
                        case "option" -> {
                            types.put(words[1], type(words[1]));
                            for (int i = 2; i < words.length; i++) {
                                fields.put(words[i], words[1]);
                            }
                        }
                        case "stop" -> stops.addAll(List.of(words).subList(2, words.length));
                        default -> { } // the comment
                    }
                }
            } catch (IOException | ReflectiveOperationException e) {
                return new Table(Map.of(), Map.of(), null, Set.of());
            }
            return new Table(fields, types, positional, stops);
        }

        /** The type of the field at {@code path} in GetCommand. */
        private static Class<?> type(String path) throws NoSuchFieldException {
            Class<?> type = GetCommand.class;
            for (String name : path.split("\\.")) {
                type = field(type, name).getType();
            }
            return type;
        }
    }
}
