package dev.biternet.client.ui;

import dev.biternet.client.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jline.terminal.Size;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import org.jline.utils.AttributedString;
import org.jline.utils.Display;

/**
 * Draws the progress lines on the terminal behind stderr and redraws them in place: JLine finds
 * the terminal and its width (and follows resizes), its {@link Display} rewrites only what
 * changed. Stdout is left alone, so {@code --json > file} stays clean while the terminal shows
 * progress.
 */
final class TerminalSink implements ProgressReporter.Sink {
    private final Terminal terminal;
    private final Display display;
    private final ProgressRenderer renderer;
    private volatile Size size;

    private TerminalSink(Terminal terminal, ProgressRenderer renderer) {
        this.terminal = terminal;
        this.renderer = renderer;
        this.size = terminal.getSize();
        this.display = new Display(terminal, false);
        display.resize(size.getRows(), size.getColumns());
        terminal.handle(Terminal.Signal.WINCH, s -> size = terminal.getSize());
    }

    /**
     * False when stderr is certainly no terminal (Linux: fd 2 leads to a file, pipe or socket),
     * which spares loading JLine for logs, pipes and benchmarks; true when it may be one.
     */
    static boolean stderrMayBeTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return true;
        }
    }

    /**
     * The sink for the terminal behind stderr, or null when stderr is not a (capable) terminal.
     * JLine only makes a system terminal when stdin is a terminal too: {@code < /dev/null} gets
     * plain lines.
     */
    static TerminalSink open(ProgressRenderer renderer) {
        // JLine reports through java.util.logging why it fell back to a dumb terminal; that is
        // an expected answer here (stderr is a pipe or a file), not something to print.
        Logger.getLogger("org.jline").setLevel(Level.OFF);
        Terminal t;
        try {
            t = TerminalBuilder.builder().system(true).systemOutput(TerminalBuilder.SystemOutput.SysErr)
                    .jna(false).jansi(false).dumb(true).build();
        } catch (IOException | RuntimeException e) {
            return null;
        }
        Size s = t.getSize();
        if (Terminal.TYPE_DUMB.equals(t.getType()) || Terminal.TYPE_DUMB_COLOR.equals(t.getType())
                || s.getColumns() <= 0) {
            closeQuietly(t);
            return null;
        }
        return new TerminalSink(t, renderer);
    }

    @Override
    public void show(Progress p, double[] rates, long nanos) {
        draw(p, rates);
    }

    @Override
    public void finish(Progress p, double[] rates) {
        draw(p, rates);
        terminal.writer().println();
        terminal.flush();
        closeQuietly(terminal);
    }

    private void draw(Progress p, double[] rates) {
        Size s = size;
        display.resize(s.getRows(), s.getColumns());
        List<AttributedString> lines = new ArrayList<>();
        for (String line : renderer.lines(p, rates, s.getColumns())) {
            lines.add(new AttributedString(line));
        }
        AttributedString last = lines.get(lines.size() - 1);
        display.update(lines, s.cursorPos(lines.size() - 1, last.columnLength()));
        terminal.flush();
    }

    private static void closeQuietly(Terminal t) {
        try {
            t.close();
        } catch (IOException ignored) {
            // nothing was changed on the terminal that closing would have to restore
        }
    }
}
