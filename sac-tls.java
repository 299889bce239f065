///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS org.jsoup:jsoup:1.24.1
//DESCRIPTION sac-tls: make a small Postfix server hand its mail over with TLS, and prove it.
//DESCRIPTION
//DESCRIPTION Commands:
//DESCRIPTION   check [FILE...]   read a received test mail and say, hop by hop, whether it
//DESCRIPTION                     travelled over TLS (version, cipher, bits)
//DESCRIPTION   patch             turn on opportunistic outbound TLS in main.cf (diff, backup)
//DESCRIPTION   restart           validate and reload Postfix, rolling back on failure
//DESCRIPTION   undo              restore main.cf from the newest backup
//DESCRIPTION   fix               patch, then restart: the one command to run
//DESCRIPTION   log [FILE...]     count from the mail log which deliveries used TLS
//DESCRIPTION
//DESCRIPTION Examples:
//DESCRIPTION   sac-tls check message.eml
//DESCRIPTION   sac-tls fix --yes
//DESCRIPTION   sac-tls log --since 1h
//DESCRIPTION
//DESCRIPTION Run `sac-tls COMMAND --help` for each command's options and exit codes.

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help.Ansi;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.UnmatchedArgumentException;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/*
 * sac-tls: one file, read top to bottom.
 *
 * 1. The top command and the exit codes every command shares.
 * 2. The commands, in the order a user meets them: check, patch, restart, undo, fix, log.
 * 3. The engines: reading messages and Received fields; main.cf and Postfix control;
 *    the mail log.
 * 4. Shared plumbing: failures, running programs, terminal-safe text, JSON output.
 */
@Command(name = "sac-tls",
        mixinStandardHelpOptions = true,
        versionProvider = sac_tls.Version.class,
        usageHelpAutoWidth = true,
        header = "Turn on outbound TLS in Postfix safely, and prove that mail travels encrypted.",
        description = {
            "",
            "A small Postfix server often delivers without TLS, and Gmail then shows a red",
            "broken lock on its mail. sac-tls checks a received test mail, patches main.cf",
            "(showing a diff and keeping a backup), reloads Postfix with a rollback, and",
            "proves the result from the mail log.",
            ""},
        subcommands = {sac_tls.Check.class, sac_tls.Patch.class, sac_tls.Restart.class,
            sac_tls.Undo.class, sac_tls.Fix.class, sac_tls.Log.class},
        footerHeading = "%nExamples:%n",
        footer = {
            "  sac-tls check message.eml        did this mail arrive over TLS?",
            "  sac-tls fix --yes                 patch main.cf, reload, tell how to verify",
            "  sac-tls log                       which deliveries used TLS, per domain",
            "",
            "Exit codes are listed in each command's --help."})
class sac_tls implements Callable<Integer> {

    static final String VERSION = "0.1.0";

    // Exit codes shared by all commands; each command's --help lists the ones it uses.
    static final int EXIT_OK = 0;
    static final int EXIT_UNENCRYPTED = 1;
    static final int EXIT_USAGE = 2;
    static final int EXIT_UNKNOWN = 3;
    static final int EXIT_DECLINED = 4;
    static final int EXIT_NO_POSTFIX = 5;
    static final int EXIT_PERMISSION = 6;
    static final int EXIT_IO = 7;
    static final int EXIT_ROLLED_BACK = 8;
    static final int EXIT_BROKEN = 9;
    static final int EXIT_INTERNAL = 70;

    /** Set by --verbose on any command: show commands run and stack traces. */
    static boolean verbose;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Show the programs run and, on an error, the stack trace.")
    void setVerbose(boolean value) {
        verbose = value;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return EXIT_OK;
    }

    // ----------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Say whether a received message travelled over TLS, hop by hop.")
    static class Check implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "check is not built yet.");
        }
    }

    @Command(name = "patch", mixinStandardHelpOptions = true,
            description = "Turn on opportunistic outbound TLS in main.cf.")
    static class Patch implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "patch is not built yet.");
        }
    }

    @Command(name = "restart", mixinStandardHelpOptions = true,
            description = "Validate and reload Postfix; roll back main.cf if it fails.")
    static class Restart implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "restart is not built yet.");
        }
    }

    @Command(name = "undo", mixinStandardHelpOptions = true,
            description = "Restore main.cf from the newest backup sac-tls made.")
    static class Undo implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "undo is not built yet.");
        }
    }

    @Command(name = "fix", mixinStandardHelpOptions = true,
            description = "Patch main.cf, reload Postfix, and say how to verify.")
    static class Fix implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "fix is not built yet.");
        }
    }

    @Command(name = "log", mixinStandardHelpOptions = true,
            description = "Count from the mail log which deliveries used TLS.")
    static class Log implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new Failure(EXIT_INTERNAL, "log is not built yet.");
        }
    }

    // ----------------------------------------------------------------------------------
    // Engine: reading messages and Received fields
    // ----------------------------------------------------------------------------------

    // (the check engine goes here)

    // ----------------------------------------------------------------------------------
    // Engine: main.cf and Postfix control
    // ----------------------------------------------------------------------------------

    // (the patch, restart and undo engine goes here)

    // ----------------------------------------------------------------------------------
    // Engine: the mail log
    // ----------------------------------------------------------------------------------

    // (the log engine goes here)

    // ----------------------------------------------------------------------------------
    // Shared plumbing
    // ----------------------------------------------------------------------------------

    /**
     * A failure the user can act on: its message is printed as one sentence after
     * "sac-tls: ", and the command exits with its code. No stack trace unless --verbose.
     */
    static final class Failure extends RuntimeException {
        final int exitCode;

        Failure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }

        Failure(int exitCode, String message, Throwable cause) {
            super(message, cause);
            this.exitCode = exitCode;
        }
    }

    /** What a finished program printed, and its exit status. */
    record Result(int status, String out, String err) {
        boolean ok() {
            return status == 0;
        }
    }

    /**
     * Runs a program directly (never through a shell), feeding it nothing on stdin, and
     * waits at most {@code timeout}. Missing programs and time-outs become Failures.
     */
    static Result run(List<String> command, Duration timeout) {
        debug("running: " + String.join(" ", command));
        Process process;
        try {
            process = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new Failure(EXIT_NO_POSTFIX, "cannot run " + command.get(0) + ": "
                    + e.getMessage() + ".", e);
        }
        try {
            var out = readAllAsync(process.getInputStream());
            var err = readAllAsync(process.getErrorStream());
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new Failure(EXIT_IO, command.get(0) + " did not finish within "
                        + timeout.toSeconds() + " seconds.");
            }
            var result = new Result(process.exitValue(), out.get(), err.get());
            debug("exit status " + result.status());
            return result;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new Failure(EXIT_IO, "interrupted while waiting for " + command.get(0) + ".");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new Failure(EXIT_IO, "cannot read the output of " + command.get(0) + ".", e);
        }
    }

    private static java.util.concurrent.Future<String> readAllAsync(InputStream in) {
        var task = new java.util.concurrent.FutureTask<>(() -> {
            try (in) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        var thread = new Thread(task, "sac-tls-reader");
        thread.setDaemon(true);
        thread.start();
        return task;
    }

    /** Prints a diagnostic on stderr when --verbose is on. */
    static void debug(String message) {
        if (verbose) {
            System.err.println("sac-tls: " + clean(message));
        }
    }

    /** Prints a warning or notice on stderr, prefixed like every diagnostic. */
    static void warn(String message) {
        System.err.println("sac-tls: " + clean(message));
    }

    /**
     * Makes untrusted text (a header, a log line) safe for a terminal: control characters
     * other than tab and newline, C1 controls and bidirectional overrides become '?'.
     */
    static String clean(String text) {
        if (text == null) {
            return null;
        }
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean bad = (c < 0x20 && c != '\t' && c != '\n') || (c >= 0x7f && c < 0xa0)
                    || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
            if (bad && sb == null) {
                sb = new StringBuilder(text.length()).append(text, 0, i);
            }
            if (sb != null) {
                sb.append(bad ? '?' : c);
            }
        }
        return sb == null ? text : sb.toString();
    }

    /** Colour through picocli's markup, only where Ansi.AUTO allows (a terminal, no NO_COLOR). */
    static String style(String markup) {
        return Ansi.AUTO.string(markup);
    }

    /**
     * A minimal JSON writer for the --json outputs: maps (in insertion order), lists,
     * strings, numbers, booleans and null. Nothing else is needed, so no library is pulled in.
     */
    static final class Json {
        private Json() {
        }

        static String write(Object value) {
            var sb = new StringBuilder();
            write(sb, value);
            return sb.toString();
        }

        private static void write(StringBuilder sb, Object value) {
            if (value == null) {
                sb.append("null");
            } else if (value instanceof String s) {
                quote(sb, s);
            } else if (value instanceof Number || value instanceof Boolean) {
                sb.append(value);
            } else if (value instanceof Map<?, ?> map) {
                sb.append('{');
                var first = true;
                for (var entry : map.entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    quote(sb, String.valueOf(entry.getKey()));
                    sb.append(':');
                    write(sb, entry.getValue());
                }
                sb.append('}');
            } else if (value instanceof Collection<?> list) {
                sb.append('[');
                var first = true;
                for (var item : list) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    write(sb, item);
                }
                sb.append(']');
            } else {
                quote(sb, value.toString());
            }
        }

        private static void quote(StringBuilder sb, String s) {
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    default -> {
                        if (c < 0x20 || (c >= 0x7f && c < 0xa0) || Character.isSurrogate(c)
                                && !validSurrogate(s, i)) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }

        private static boolean validSurrogate(String s, int i) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
            }
            return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
        }
    }

    // ----------------------------------------------------------------------------------
    // Start-up: version, error handling, main
    // ----------------------------------------------------------------------------------

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"sac-tls " + VERSION + " (Java " + Runtime.version() + ")"};
        }
    }

    /** One line for a failure; the stack trace only with --verbose. */
    static int handleExecutionException(Exception e, CommandLine cmd, ParseResult parsed) {
        PrintWriter err = cmd.getErr();
        int code = e instanceof Failure f ? f.exitCode : EXIT_INTERNAL;
        String message = e instanceof Failure ? e.getMessage()
                : "unexpected error: " + e + ". Run again with --verbose for details.";
        err.println(cmd.getColorScheme().errorText("sac-tls: " + clean(message)));
        if (verbose) {
            e.printStackTrace(err);
        }
        err.flush();
        return code;
    }

    /** A usage error in grep's manner: the problem, the synopsis, where to read more. */
    static int handleParameterException(ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(cmd.getColorScheme().errorText("sac-tls: " + clean(e.getMessage())));
        if (!UnmatchedArgumentException.printSuggestions(e, err)) {
            err.print(cmd.getHelp().fullSynopsis());
        }
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return EXIT_USAGE;
    }

    public static void main(String... args) {
        var cmd = new CommandLine(new sac_tls())
                .setExecutionExceptionHandler(sac_tls::handleExecutionException)
                .setParameterExceptionHandler(sac_tls::handleParameterException);
        int code;
        try {
            code = cmd.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("sac-tls: out of memory; the input is too large to handle.");
            code = EXIT_INTERNAL;
        }
        System.exit(code);
    }
}
