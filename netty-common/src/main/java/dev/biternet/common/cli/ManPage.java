package dev.biternet.common.cli;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * A section 1 manual page (man(7) macros) written from a command's picocli model, the same
 * model its {@code --help} and completion come from, so the three cannot disagree. The build
 * runs {@link #main} at package time for both commands.
 */
public final class ManPage {
    private ManPage() {}

    /**
     * {@code ManPage OUT CLASS [FACTORY]}: writes the page of the command {@code CLASS} builds
     * (with its static {@code FACTORY()} or {@code FACTORY(String...)} returning a
     * {@link CommandLine}, else its annotations) to {@code OUT}.
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            throw new IllegalArgumentException("usage: ManPage OUT CLASS [FACTORY]");
        }
        Class<?> type = Class.forName(args[1]);
        CommandLine cmd = args.length > 2 ? factory(type, args[2]) : new CommandLine(type);
        write(cmd.getCommandSpec(), Path.of(args[0]));
    }

    private static CommandLine factory(Class<?> type, String name) throws ReflectiveOperationException {
        for (Method m : type.getMethods()) {
            if (m.getName().equals(name) && CommandLine.class.isAssignableFrom(m.getReturnType())) {
                Object[] none = m.getParameterCount() == 0 ? new Object[0] : new Object[] {new String[0]};
                return (CommandLine) m.invoke(null, none);
            }
        }
        throw new NoSuchMethodException(type.getName() + "." + name + "() returning a CommandLine");
    }

    public static void write(CommandSpec spec, Path out) throws IOException {
        Files.writeString(out, render(spec));
    }

    /** The page, in man(7) macros. */
    public static String render(CommandSpec spec) {
        String name = spec.name();
        String source = "biternet " + BuildInfo.version();
        StringBuilder b = new StringBuilder();
        b.append(".\\\" Generated from the picocli model of ").append(name).append(" (dev.biternet.common.cli.ManPage).\n");
        b.append(".TH \"").append(name.toUpperCase(Locale.ROOT)).append("\" \"1\" \"\" \"").append(escape(source))
                .append("\" \"User Commands\"\n");
        b.append(".SH NAME\n").append(escape(name)).append(" \\- ").append(escape(firstSentence(spec))).append('\n');
        b.append(".SH SYNOPSIS\n").append(".B ").append(escape(name)).append('\n');
        for (OptionSpec o : spec.options()) {
            if (!o.hidden() && o.required()) {
                b.append(optionTerm(o)).append('\n');
            }
        }
        b.append("[\\fIOPTIONS\\fR]");
        for (PositionalParamSpec p : spec.positionalParameters()) {
            if (!p.hidden()) {
                String label = "\\fI" + escape(p.paramLabel()) + "\\fR" + (p.arity().max() > 1 ? "..." : "");
                b.append(' ').append(p.arity().min() == 0 ? "[" + label + "]" : label);
            }
        }
        b.append('\n');
        b.append(".SH DESCRIPTION\n");
        paragraphs(b, spec.usageMessage().description());
        if (!spec.positionalParameters().isEmpty()) {
            b.append(".SH ARGUMENTS\n");
            for (PositionalParamSpec p : spec.positionalParameters()) {
                if (!p.hidden()) {
                    b.append(".TP\n\\fI").append(escape(p.paramLabel())).append("\\fR\n");
                    b.append(escape(String.join(" ", p.renderedDescription()))).append('\n');
                }
            }
        }
        b.append(".SH OPTIONS\n");
        for (OptionSpec o : spec.options()) {
            if (!o.hidden()) {
                b.append(".TP\n").append(optionTerm(o)).append('\n');
                b.append(escape(String.join(" ", o.renderedDescription()))).append('\n');
            }
        }
        Map<String, String> exits = spec.usageMessage().exitCodeList();
        if (!exits.isEmpty()) {
            b.append(".SH EXIT STATUS\n");
            exits.forEach((code, meaning) -> b.append(".TP\n.B ").append(escape(code.trim())).append('\n')
                    .append(escape(meaning.trim())).append('\n'));
        }
        if (spec.usageMessage().footer().length > 0) {
            b.append(".SH NOTES\n");
            paragraphs(b, spec.usageMessage().footer());
        }
        b.append(".SH SEE ALSO\n");
        b.append(name.equals("biternet-get") ? "\\fBbiternet-serve\\fR(1)" : "\\fBbiternet-get\\fR(1)").append('\n');
        return b.toString();
    }

    /** {@code \fB--name\fR, \fB-n\fR \fIVALUE\fR}, as the option is typed. */
    private static String optionTerm(OptionSpec o) {
        List<String> names = new ArrayList<>(List.of(o.names()));
        StringBuilder t = new StringBuilder();
        for (int i = 0; i < names.size(); i++) {
            t.append(i > 0 ? ", " : "").append("\\fB").append(escape(names.get(i))).append("\\fR");
        }
        if (o.arity().max() > 0) {
            String label = o.paramLabel();
            t.append(' ').append(o.arity().min() == 0 ? "[\\fI" + escape(label) + "\\fR]" : "\\fI" + escape(label) + "\\fR");
        }
        return t.toString();
    }

    private static String firstSentence(CommandSpec spec) {
        String[] d = spec.usageMessage().description();
        String all = d.length == 0 ? spec.name() : String.join(" ", d).trim();
        int end = all.indexOf(". ");
        return end > 0 ? all.substring(0, end) : all.endsWith(".") ? all.substring(0, all.length() - 1) : all;
    }

    private static void paragraphs(StringBuilder b, String[] lines) {
        for (String line : lines) {
            for (String part : line.replace("%n", "\n").replace("%%", "%").split("\n")) {
                if (part.isBlank()) {
                    b.append(".PP\n");
                } else {
                    b.append(escape(part.trim())).append('\n');
                }
            }
        }
    }

    /** Text as roff reads it literally: backslashes and minus signs escaped, no line read as a request. */
    static String escape(String text) {
        String s = text.replace("\\", "\\e").replace("-", "\\-");
        return s.startsWith(".") || s.startsWith("'") ? "\\&" + s : s;
    }
}
