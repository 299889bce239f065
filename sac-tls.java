///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS org.jsoup:jsoup:1.24.1
// Plain StringBuilder code for "a" + b: the default invokedynamic form costs ~25 ms at start-up.
//JAVAC_OPTIONS -XDstringConcat=inline
//DESCRIPTION sac-tls: make a small Postfix server hand its mail over with TLS, and prove it.
//DESCRIPTION
//DESCRIPTION Usage: sac-tls COMMAND [OPTIONS] (as root for patch, restart, undo and fix)
//DESCRIPTION
//DESCRIPTION Commands:
//DESCRIPTION   check [FILE...]   read a received test mail (.eml, pasted headers, mbox, or
//DESCRIPTION                     Gmail's saved "Show original" page) and say, hop by hop,
//DESCRIPTION                     whether it travelled over TLS (version, cipher, bits)
//DESCRIPTION   patch             turn on opportunistic outbound TLS in main.cf: diff first,
//DESCRIPTION                     backup, atomic write, never weakening a stronger setting
//DESCRIPTION   restart           validate and reload Postfix, rolling back on failure
//DESCRIPTION   undo              restore main.cf from the newest backup
//DESCRIPTION   fix               patch, then restart: the one command to run; --send-to
//DESCRIPTION                     also proves it with a test mail
//DESCRIPTION   log [FILE...]     count from the mail log which deliveries used TLS
//DESCRIPTION
//DESCRIPTION Examples:
//DESCRIPTION   sac-tls check message.eml
//DESCRIPTION   sudo sac-tls fix --send-to you@gmail.com
//DESCRIPTION   sac-tls log --since 1d
//DESCRIPTION
//DESCRIPTION Exit codes, shared by all commands: 0 all encrypted or done; 1 something went
//DESCRIPTION out without TLS; 2 usage error or input that is not mail; 3 cannot tell;
//DESCRIPTION 4 declined; 5 Postfix, main.cf, log or backup not found; 6 permission denied;
//DESCRIPTION 7 I/O error or time-out; 8 reload failed and was rolled back; 9 the rollback
//DESCRIPTION failed too; 70 internal error. Each command's --help lists its own.
//DESCRIPTION
//DESCRIPTION Known limits: check trusts only the receiving provider's Received fields, and
//DESCRIPTION some receivers never record TLS. log needs smtp_tls_loglevel >= 1 before Postfix
//DESCRIPTION 3.11. patch takes no lock against a concurrent postconf -e (it re-reads main.cf
//DESCRIPTION before the rename instead). restart does not start a stopped Postfix.

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
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

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

    @Command(name = "check", mixinStandardHelpOptions = true, sortOptions = false,
            usageHelpAutoWidth = true,
            header = "Say whether a received message travelled over TLS, hop by hop.",
            description = {
                "",
                "Reads a message as it arrived in the recipient's mailbox and tells whether the",
                "receiving provider accepted it from the sending server over TLS (with version,",
                "cipher and key bits where the receiver wrote them), then lists every hop.",
                "",
                "FILE may be a raw message (.eml), pasted header fields, an mbox holding many",
                "messages, or Gmail's \"Show original\" page saved as HTML. Without FILE, or",
                "with -, the message is read from standard input.",
                "",
                "The verdict comes from the delivery hop: the Received field written when the",
                "final provider took the message from outside. Hops below it were written by",
                "the sending side and can be forged; hops above it are the provider's own.",
                "Some receivers never record TLS (Amazon SES inbound, Coremail, QQ): then",
                "the verdict is unknown.",
                "",
                "Known limits: old OpenSSL wrote \"TLSv1/SSLv3\" whatever the version, and",
                "check reports it as TLSv1, the least it can mean. Large mbox files show the",
                "first 20 messages in full and count the rest.",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:every message was handed over encrypted",
                "1:at least one message was handed over without TLS",
                "2:usage error, or the input is not a mail message",
                "3:none unencrypted, but for some the headers cannot tell"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sac-tls check message.eml             one saved message",
                "  sac-tls check < headers.txt           pasted header fields",
                "  sac-tls check --from mail.example.com ~/Mail/inbox.mbox",
                "  sac-tls check --json original.html | jq '.messages[].verdict'",
                "",
                "To test your own server: send a mail from it to a Gmail address, open it,",
                "choose \"Show original\", then \"Download original\", and check that file."})
    static class Check implements Callable<Integer> {
        /** Messages shown in full; the rest of a large mbox only counts in the summary. */
        static final int SHOWN = 20;

        @CommandLine.Parameters(paramLabel = "FILE", arity = "0..*",
                description = "Message, header block, mbox or saved HTML page (- = stdin).")
        List<String> files = new ArrayList<>();

        @Option(names = "--from", paramLabel = "HOST|IP",
                description = "Judge the hop received from this server (your own) instead"
                        + " of the provider's first hop from outside.")
        String from;

        @Option(names = "--json", description = "Print {\"messages\":[...]} on stdout: for each"
                + " message its source, subject, verdict, deliveryHop and hops (oldest first).")
        boolean json;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            var sources = files.isEmpty() ? List.of("-") : files;
            sources.forEach(MailReader::preflight);
            var tally = new int[Kind.values().length];
            report(sources, tally);
            return tally[Kind.unencrypted.ordinal()] > 0 ? EXIT_UNENCRYPTED
                    : tally[Kind.unknown.ordinal()] > 0 ? EXIT_UNKNOWN : EXIT_OK;
        }

        /**
         * Judges each message as it is read and prints it at once, so memory stays small.
         * A source that turns out not to be mail ends the run, after the output so far is
         * closed (the JSON stays valid).
         */
        private void report(List<String> sources, int[] tally) {
            var out = spec.commandLine().getOut();
            int seen = 0;
            out.print(json ? "{\"messages\":[" : "");
            try {
                for (var source : sources) {
                    try (var reader = MailReader.open(source)) {
                        for (var mail = reader.next(); mail != null; mail = reader.next()) {
                            var verdict = Verdict.of(mail, from);
                            tally[verdict.kind().ordinal()]++;
                            if (json) {
                                out.print((seen > 0 ? "," : "") + Json.write(verdict.toJson()));
                            } else if (seen < SHOWN) {
                                out.print((seen > 0 ? "\n" : "") + Report.text(verdict));
                            }
                            seen++;
                        }
                    }
                }
            } finally {
                out.print(json ? "]}\n" : Report.summary(seen, tally));
                out.flush();
            }
        }
    }

    @Command(name = "patch", mixinStandardHelpOptions = true,
            description = {
                "Turn on opportunistic outbound TLS in main.cf.",
                "",
                "Reads the effective settings from Postfix itself (postconf), then sets only",
                "what is missing: smtp_tls_security_level = may (never lowering a stronger",
                "level, legacy smtp_use_tls/smtp_enforce_tls included), smtp_tls_loglevel = 1,",
                "a TLS session cache of the best map type this Postfix supports (lmdb, then",
                "btree), and smtp_tls_CAfile = the system CA bundle (unless a valid CAfile or",
                "CApath is set). It shows a unified diff, asks on the terminal (the answer is",
                "read from the terminal, not stdin), keeps a timestamped backup, and replaces",
                "main.cf atomically, keeping its owner and mode. A second run changes nothing.",
                "Settings in master.cf (-o) and smtp_tls_policy_maps are reported, never",
                "changed. An explicit smtp_tls_security_level = none changes only when you",
                "confirm it on a terminal.",
                "",
                "main.cf is edited by Postfix's own grammar, and the result is checked with",
                "postconf on a staged copy before it is written. Known limits: concurrent edits",
                "by postconf -e are detected (the file changed) but not locked against; SELinux",
                "labels and ACLs are not copied (run restorecon afterwards on such hosts).",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:main.cf patched, or already as it should be (see \"changed\" in --json)",
                "4:you said no, or there is no terminal to ask on and --yes was not given",
                "5:no Postfix, no main.cf, no TLS support, or postconf cannot read main.cf",
                "6:not root, or main.cf cannot be read or written for lack of permission",
                "7:read-only file system, full disk, or main.cf changed while writing",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sac-tls patch --dry-run                 show the diff, write nothing",
                "  sudo sac-tls patch                      show the diff, ask, write",
                "  sudo sac-tls patch --yes --json         for Ansible and other fleet tools",
                "  sudo sac-tls patch -c /etc/postfix-out  a second Postfix instance",
                "",
                "Then run `sac-tls restart` (or use `sac-tls fix`, which does both)."})
    static class Patch implements Callable<Integer> {
        @CommandLine.Mixin
        ConfigDir config;

        @Option(names = "--dry-run", description = "Show what would change; write nothing.")
        boolean dryRun;

        @Option(names = "--yes", description = "Write without asking (needed with no terminal).")
        boolean yes;

        @Option(names = "--json", description = "Print the result as JSON: \"changed\" and each"
                + " parameter's before and after.")
        boolean json;

        @Override
        public Integer call() {
            var instance = Instance.locate(config.dir);
            TlsPatcher.patch(instance, new PatchOptions(dryRun, yes, json, true));
            return EXIT_OK;
        }
    }

    @Command(name = "restart", mixinStandardHelpOptions = true,
            description = {
                "Validate and reload Postfix; roll back main.cf if it fails.",
                "",
                "Runs `postfix check` and checks the outbound TLS values itself (postfix check",
                "misses a misspelt security level, a missing CA file or an unsupported cache map",
                "type), reloads with `postfix reload`, and confirms that Postfix still runs and",
                "that its log shows the reload and no TLS error. If anything fails, main.cf is",
                "restored from the newest sac-tls backup (the failed file is kept beside it as",
                "main.cf.sac-tls-failed.TIME) and Postfix is reloaded again.",
                "",
                "Known limit: smtp(8) reads the TLS settings only when it next delivers, so a",
                "bad value shows in the log later than the 2 seconds restart watches after the",
                "reload; sac-tls's own validation before the reload is what catches those.",
                "",
                "A stopped Postfix is not started: restart then only validates, and says how to",
                "start it. On Debian with systemd the real unit is postfix@-.service",
                "(postfix.service is a placeholder that always looks active); `postfix reload`",
                "reaches the same master process.",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:Postfix reloaded with the new settings (or is stopped and they are valid)",
                "5:no Postfix or no main.cf",
                "6:not root",
                "8:validation or reload failed; main.cf was restored and Postfix reloaded",
                "9:it failed and the rollback failed too (or there was no backup to restore):"
                        + " fix main.cf by hand now",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sudo sac-tls restart",
                "  sudo sac-tls restart -c /etc/postfix-out"})
    static class Restart implements Callable<Integer> {
        @CommandLine.Mixin
        ConfigDir config;

        @Override
        public Integer call() {
            requireRoot("restart");
            Reloader.restart(Instance.locate(config.dir));
            return EXIT_OK;
        }
    }

    @Command(name = "undo", mixinStandardHelpOptions = true,
            description = {
                "Restore main.cf from the newest backup sac-tls made.",
                "",
                "Shows the diff, replaces main.cf atomically with the newest",
                "main.cf.sac-tls.TIME backup (keeping the replaced file as",
                "main.cf.sac-tls-undone.TIME), then offers to reload Postfix on a terminal, or",
                "says how to.",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:main.cf restored (or already equal to the newest backup)",
                "5:no Postfix, no main.cf, or no sac-tls backup to restore",
                "6:not root, or main.cf cannot be written for lack of permission",
                "7:read-only file system or full disk",
                "8:the offered reload failed and main.cf was restored again",
                "9:the offered reload failed and so did the rollback",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {"  sudo sac-tls undo", "  sudo sac-tls undo -c /etc/postfix-out"})
    static class Undo implements Callable<Integer> {
        @CommandLine.Mixin
        ConfigDir config;

        @Override
        public Integer call() {
            requireRoot("undo");
            TlsPatcher.undo(Instance.locate(config.dir));
            return EXIT_OK;
        }
    }

    @Command(name = "fix", mixinStandardHelpOptions = true,
            description = {
                "Patch main.cf, reload Postfix, and say how to verify.",
                "",
                "The one command to run: `patch` (diff, confirmation, backup, atomic write),",
                "then `restart` (validate, reload, roll back on failure), then the exact steps",
                "to prove that mail now leaves encrypted. When main.cf needs no change, nothing",
                "is written or reloaded.",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:outbound TLS is on (Postfix reloaded, or stopped and told how to start);"
                        + " with --send-to: the test mail went out over TLS",
                "1:with --send-to: the test mail went out in cleartext",
                "2:usage error, such as a --send-to that is not a mail address",
                "4:you said no, there is no terminal and --yes was not given, or main.cf"
                        + " keeps an explicit smtp_tls_security_level = none",
                "5:no Postfix, no main.cf, no TLS support",
                "6:not root, or permission denied on main.cf",
                "7:read-only file system, full disk; with --send-to: the test mail was not"
                        + " delivered in time",
                "8:the reload failed; main.cf was restored and Postfix reloaded",
                "9:the reload failed and so did the rollback: fix main.cf by hand now",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sudo jbang sac-tls@OWNER/REPO fix",
                "  sudo sac-tls fix --send-to you@gmail.com   and prove it with a test mail",
                "  sudo sac-tls fix --yes              no questions (the diff is still shown)",
                "  sudo sac-tls fix -c /etc/postfix-out"})
    static class Fix implements Callable<Integer> {
        @CommandLine.Mixin
        ConfigDir config;

        @Option(names = "--yes", description = "Write and reload without asking.")
        boolean yes;

        @Option(names = "--send-to", paramLabel = "ADDRESS",
                description = "After the reload, send a short test mail to ADDRESS through this"
                        + " Postfix, wait for its delivery in the mail log, and report whether"
                        + " that delivery used TLS (protocol, cipher, trust) and to which MX.")
        String sendTo;

        @Option(names = "--wait", paramLabel = "SECONDS", defaultValue = "120",
                description = "How long --send-to waits for the delivery (default: 120).")
        int waitSeconds;

        @Override
        public Integer call() {
            requireRoot("fix");
            if (sendTo != null) {
                requireAddress(sendTo);
            }
            if (waitSeconds < 1) {
                throw new Failure(EXIT_USAGE, "--wait takes a number of seconds, 1 or more.");
            }
            var instance = Instance.locate(config.dir);

            var outcome = TlsPatcher.patch(instance, new PatchOptions(false, yes, false, false));

            boolean running;
            if (outcome.written()) {
                running = Reloader.restart(instance);
            } else {
                System.out.println("main.cf is unchanged, so Postfix needs no reload.");
                running = instance.running();
            }
            if (outcome.level().equals("none")) {
                throw new Failure(EXIT_DECLINED, "outbound TLS stays off, since main.cf sets"
                        + " smtp_tls_security_level = none and you did not confirm changing"
                        + " it; run sac-tls fix on a terminal, without --yes, to be asked.");
            }

            if (sendTo != null && running) {
                var wait = Duration.ofSeconds(waitSeconds);
                var proof = proveDelivery(instance.configDir(), sendTo, wait);
                System.out.println();
                printProof(proof, System.out);
                return proof.exitCode();
            }
            if (sendTo != null) {
                warn("Postfix is not running, so no test mail was sent to " + sendTo + ".");
            }
            printHowToVerify(instance, running);
            return EXIT_OK;
        }
    }

    @Command(name = "log", mixinStandardHelpOptions = true, usageHelpAutoWidth = true,
            description = {
                "Count from the mail log which deliveries used TLS.",
                "",
                "Reads Postfix's log in one pass and classifies every delivery attempt of the"
                    + " smtp client (status sent, deferred or bounced) by the TLS summary line"
                    + " of the same smtp process and relay, or by the tls= field of Postfix"
                    + " 3.11 and later: Verified, Trusted, Untrusted or Anonymous TLS (all"
                    + " encrypted), or cleartext. Attempts that failed for a TLS reason"
                    + " (Cannot start TLS, TLS is required) are counted apart. Deliveries to"
                    + " local, virtual and LMTP mailboxes, and to relays on this host"
                    + " (content filters such as amavis on 127.0.0.1:10024), are left out.",
                "",
                "Without FILE it reads maillog_file when Postfix logs there, else"
                    + " /var/log/mail.log or /var/log/maillog with their rotated files (oldest"
                    + " first, .gz read as is), else journald. Give '-' to read standard input.",
                "",
                "Limits: with smtp_tls_loglevel = 0 Postfix before 3.11 logs no TLS at all,"
                    + " so every delivery then counts as cleartext (sac-tls fix sets it to 1)."
                    + " A syslog time stamp has no year: --since takes it to be this year.",
                ""},
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {
                "0:every remote delivery found used TLS",
                "1:some deliveries went in cleartext",
                "2:usage error, or a FILE that does not exist",
                "3:no remote delivery found in the log",
                "5:no mail log found (no FILE given)",
                "6:the log may not be read (permission denied)",
                "7:the log could not be read (I/O error)"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sac-tls log                         the system's log, all of it",
                "  sac-tls log --since 1d              the last 24 hours",
                "  sac-tls log /var/log/mail.log*      these files, oldest first",
                "  journalctl -u postfix@- | sac-tls log -",
                "  sac-tls log --json | jq .byClass"})
    static class Log implements Callable<Integer> {
        @CommandLine.Parameters(paramLabel = "FILE", arity = "0..*",
                description = "Log files to read (plain or gzip); '-' is standard input.")
        List<String> files = new ArrayList<>();

        @Option(names = "--since", paramLabel = "TIME",
                description = "Only deliveries since TIME: an age (30m, 2h, 7d, 1w) or a local"
                    + " date and time (2026-12-01, '2026-12-01 08:00').")
        String since;

        @Option(names = "--json", description = "Print the counts as JSON.")
        boolean json;

        @CommandLine.Mixin
        ConfigDir config;

        @Option(names = "--include-loopback",
                description = "Count deliveries to relays on this host (127.0.0.1, ::1) too.")
        boolean includeLoopback;

        @Override
        public Integer call() {
            var dir = config.dir != null ? config.dir : mailConfig();
            if (dir != null && !java.nio.file.Files.isRegularFile(dir.resolve("main.cf"))) {
                throw new Failure(EXIT_USAGE, dir + " holds no main.cf: give Postfix's"
                        + " configuration directory (usually /etc/postfix).");
            }
            long sinceEpoch = since == null ? Long.MIN_VALUE
                    : LogTime.parseSince(since, java.time.Instant.now());
            var sources = sources(dir, sinceEpoch);
            var scanner = new LogScanner(includeLoopback, sinceEpoch, null);
            var tally = LogReader.scan(sources, scanner);
            if (tally.deliveries > 0 && tally.tlsLines == 0 && tally.byClass[CLEARTEXT]
                    == tally.deliveries) {
                warn("the log shows no TLS summary line at all: if smtp_tls_loglevel is 0,"
                        + " Postfix does not log TLS use and every delivery looks like"
                        + " cleartext; set smtp_tls_loglevel = 1 (sac-tls fix does).");
            }
            if (json) {
                System.out.println(Json.write(LogReport.json(tally, sources)));
            } else {
                LogReport.text(tally, sources, System.out);
            }
            if (tally.deliveries == 0) {
                if (!json) {
                    warn("no remote delivery by the smtp client found in the log.");
                }
                return EXIT_UNKNOWN;
            }
            return tally.byClass[CLEARTEXT] > 0 ? EXIT_UNENCRYPTED : EXIT_OK;
        }

        private List<LogSource> sources(Path dir, long sinceEpoch) {
            if (files.isEmpty()) {
                return LogFiles.defaults(dir, sinceEpoch);
            }
            var paths = new ArrayList<Path>();
            var sources = new ArrayList<LogSource>();
            for (var file : files) {
                if (file.equals("-")) {
                    LogFiles.oldestFirst(paths).forEach(p -> sources.add(LogSource.file(p)));
                    paths.clear();
                    sources.add(LogSource.stdin());
                } else {
                    paths.add(Path.of(file));
                }
            }
            LogFiles.oldestFirst(paths).forEach(p -> sources.add(LogSource.file(p)));
            for (var source : sources) {
                if (source.file() != null && !java.nio.file.Files.exists(source.file())) {
                    throw new Failure(EXIT_USAGE, "cannot read " + source.name()
                            + ": there is no such file.");
                }
            }
            return sources;
        }

        private static Path mailConfig() {
            var env = System.getenv("MAIL_CONFIG");
            return env == null || env.isEmpty() ? null : Path.of(env);
        }
    }

    // ----------------------------------------------------------------------------------
    // Engine: reading messages and Received fields
    // ----------------------------------------------------------------------------------

    /*
     * Reads messages in whatever form a user has them (raw message, pasted header fields,
     * mbox, Gmail's saved "Show original" page), keeps only their header fields, parses each
     * Received field into a Hop with its TLS evidence, and picks the delivery hop. Bodies are
     * skipped unread. Not handled: TLS facts outside Received fields (Fastmail's
     * X-ME-Authentication-Results), and the real version behind a "TLSv1/SSLv3" label.
     */

    /** Longest physical line kept; the rest of a longer line is skipped. */
    static final int MAX_LINE = 64 * 1024;

    /** Longest unfolded field value kept. */
    static final int MAX_FIELD = 128 * 1024;

    /** Most header fields kept per message; further ones are skipped. */
    static final int MAX_FIELDS = 1000;

    /** Largest saved web page read (it is parsed whole). */
    static final int MAX_PAGE = 64 * 1024 * 1024;

    /** A header field, unfolded. */
    record Field(String name, String value) {
    }

    /** One message: where it came from, its subject and its Received fields, newest first. */
    record Mail(String source, String subject, List<String> received) {
    }

    enum Kind { encrypted, unencrypted, unknown }

    /**
     * One Received field, parsed. {@code encrypted} is null when the receiver never records
     * TLS; {@code scope} is "external", "provider" (a relay inside one provider or a private
     * network) or "local" (loopback, LMTP, local submission, webmail, retrieval).
     */
    record Hop(String from, String fromRdns, String fromIp, String by, String byComment,
            String with, String id, Boolean encrypted, String protocol, String cipher,
            Integer bits, String scope, String date, String raw) {

        boolean internal() {
            return !scope.equals("external");
        }

        Hop withScope(String newScope) {
            return new Hop(from, fromRdns, fromIp, by, byComment, with, id, encrypted,
                    protocol, cipher, bits, newScope, date, raw);
        }

        boolean authenticated() {
            var w = with == null ? "" : with.toLowerCase(java.util.Locale.ROOT).split(" ")[0];
            return w.matches("(utf8)?e?smtps?a|e?ssmtpa|asmtp|lmtps?a|utf8lmtps?a");
        }

        /** The sending host: its reverse DNS name, else its HELO name. */
        String fromName() {
            var name = fromRdns != null && !fromRdns.equals("unknown") ? fromRdns : from;
            return name == null ? "" : name.replaceFirst("\\.$", "");
        }

        String fromLabel() {
            var name = fromName();
            if (name.startsWith("[") && fromIp != null) {
                return fromIp;
            }
            return fromIp == null || name.contains(fromIp) ? name : name + " [" + fromIp + "]";
        }

        Map<String, Object> toJson() {
            var map = new java.util.LinkedHashMap<String, Object>();
            map.put("from", from);
            map.put("fromIp", fromIp);
            map.put("by", by);
            map.put("with", with);
            map.put("encrypted", encrypted);
            map.put("protocol", protocol);
            map.put("cipher", cipher);
            map.put("bits", bits);
            map.put("internal", internal());
            map.put("date", date);
            map.put("raw", raw);
            map.put("fromRdns", fromRdns);
            map.put("id", id);
            return map;
        }
    }

    /**
     * Reads one source as a stream of messages. The form is detected from the first
     * non-blank line: "From " starts an mbox, "<" a saved web page, a header field a single
     * message or pasted header block. Lines are read as bytes and cut at MAX_LINE, so a huge
     * line or a huge body costs time in proportion to its size but no memory.
     */
    static final class MailReader implements AutoCloseable {
        private final InputStream in;
        private final String name;
        private final byte[] buffer = new byte[1 << 16];
        private int position;
        private int limit;
        private final byte[] line = new byte[MAX_LINE];
        private int length;
        /** The first line, read to detect the form, is still to be handed to readFields. */
        private boolean firstLinePending;
        /** readFields stopped at the next message's "From " line, so there is no body. */
        private boolean atNextMessage;
        private boolean mbox;
        private String indent = "";
        private int count;
        private boolean finished;

        private MailReader(InputStream in, String name) {
            this.in = in;
            this.name = name;
        }

        /**
         * Stops early, before any output, on a source that cannot be opened. It opens
         * nothing, so a Maildir's thousands of files need no file descriptor each.
         */
        static void preflight(String source) {
            if (source.equals("-")) {
                return;
            }
            var path = Path.of(source);
            if (java.nio.file.Files.isDirectory(path)) {
                throw new Failure(EXIT_USAGE, source + " is a directory; give the path of a"
                        + " saved message, header block, mbox or web page.");
            }
            if (!java.nio.file.Files.exists(path)) {
                throw new Failure(EXIT_USAGE, "cannot read " + source + ": there is no such"
                        + " file.");
            }
            if (!java.nio.file.Files.isReadable(path)) {
                throw new Failure(EXIT_USAGE, "cannot read " + source + ": permission denied;"
                        + " copy the message somewhere readable or run as its owner.");
            }
        }

        static MailReader open(String source) {
            if (source.equals("-")) {
                if (System.console() != null) {
                    warn("reading the message from the terminal: paste its header fields, then"
                            + " press Ctrl-D on an empty line.");
                }
                return detect(System.in, "standard input", true);
            }
            preflight(source);
            try {
                return detect(java.nio.file.Files.newInputStream(Path.of(source)), source, true);
            } catch (java.nio.file.NoSuchFileException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + source + ": there is no such"
                        + " file.", e);
            } catch (java.nio.file.AccessDeniedException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + source + ": permission denied;"
                        + " copy the message somewhere readable or run as its owner.", e);
            } catch (IOException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + source + ": " + e.getMessage()
                        + ".", e);
            }
        }

        /** Opens a reader on the first non-blank line; a saved web page is unwrapped first. */
        private static MailReader detect(InputStream in, String name, boolean pageAllowed) {
            var reader = new MailReader(in, name);
            if (reader.startsWithTag() && pageAllowed) {
                return reader.unwrapPage();
            }
            String first;
            do {
                first = reader.readLine();
            } while (first != null && first.isBlank());
            if (first == null) {
                reader.close();
                throw new Failure(EXIT_USAGE, name + " is empty: there is no message to check.");
            }
            reader.mbox = first.startsWith("From ");
            reader.indent = first.substring(0, first.length() - first.stripLeading().length());
            reader.firstLinePending = !reader.mbox;
            if (!reader.mbox && !isFieldStart(first.strip())) {
                reader.close();
                throw notMail(name);
            }
            return reader;
        }

        private static Failure notMail(String name) {
            return new Failure(EXIT_USAGE, name + " does not look like an e-mail message: it"
                    + " does not start with a header field such as \"Received: ...\".");
        }

        /**
         * Whether the input opens, after a byte order mark and white space, with "<": a web
         * page. Looks only at the first buffer and consumes nothing but the mark.
         */
        private boolean startsWithTag() {
            if (!fill()) {
                return false;
            }
            if (limit >= 3 && buffer[0] == (byte) 0xef && buffer[1] == (byte) 0xbb
                    && buffer[2] == (byte) 0xbf) {
                position = 3;
            }
            int i = position;
            while (i < limit && (buffer[i] == ' ' || buffer[i] == '\t' || buffer[i] == '\r'
                    || buffer[i] == '\n')) {
                i++;
            }
            return i < limit && buffer[i] == '<';
        }

        /** The message source inside a saved page, read through jsoup (loaded only here). */
        private MailReader unwrapPage() {
            var page = new java.io.ByteArrayOutputStream();
            try (in) {
                var chunk = new byte[1 << 16];
                page.write(buffer, position, limit - position);
                for (int n; (n = in.read(chunk)) > 0; ) {
                    if (page.size() > MAX_PAGE) {
                        throw new Failure(EXIT_USAGE, name + " is a web page larger than "
                                + MAX_PAGE / 1024 / 1024 + " MB; save only Gmail's \"Show"
                                + " original\" page, or use \"Download original\".");
                    }
                    page.write(chunk, 0, n);
                }
            } catch (IOException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + name + ": " + e.getMessage()
                        + ".", e);
            }
            var text = SavedPage.messageSource(decode(page.toByteArray(), page.size()));
            if (text == null) {
                throw new Failure(EXIT_USAGE, name + " is a web page without a message source"
                        + " in it; in Gmail choose \"Show original\" and save that page.");
            }
            var bytes = text.getBytes(StandardCharsets.UTF_8);
            return detect(new java.io.ByteArrayInputStream(bytes), name, false);
        }

        /** The next message, or null after the last one. */
        Mail next() {
            if (finished) {
                return null;
            }
            var fields = readFields();
            if (fields.isEmpty()) {
                finished = true;
                return null;
            }
            count++;
            String subject = null;
            var received = new ArrayList<String>();
            for (var field : fields) {
                if (field.name().equalsIgnoreCase("Received")) {
                    received.add(field.value());
                } else if (subject == null && field.name().equalsIgnoreCase("Subject")) {
                    subject = EncodedWords.decode(field.value());
                }
            }
            if (mbox && !atNextMessage) {
                skipBody();
            } else if (!mbox) {
                finished = true;
            }
            var source = mbox ? name + " (message " + count + ")" : name;
            return new Mail(source, subject, received);
        }

        /** The header fields of the next message; its body is not read here. */
        private List<Field> readFields() {
            var block = new HeaderBlock();
            atNextMessage = false;
            for (String text; (text = nextLine()) != null; ) {
                text = text.startsWith(indent) ? text.substring(indent.length()) : text;
                if (text.isBlank() && block.started()) {
                    break;
                }
                if (mbox && text.startsWith("From ") && block.started()) {
                    atNextMessage = true;
                    break;
                }
                if (text.isBlank() || mbox && text.startsWith("From ")) {
                    continue;
                }
                if (block.continues(text)) {
                    block.append(text);
                } else if (isFieldStart(text)) {
                    block.start(text);
                } else if (block.started()) {
                    break;
                } else if (count == 0) {
                    throw notMail(name);
                } else {
                    // A later mbox message without header fields: skip it, read the next.
                    skipBody();
                }
            }
            return block.fields();
        }

        /** "Name:" at the start: printable ASCII without spaces, starting with a letter. */
        static boolean isFieldStart(String text) {
            int colon = text.indexOf(':');
            if (colon < 1 || !Character.isLetter(text.charAt(0)) || text.charAt(0) > 'z') {
                return false;
            }
            var name = text.substring(0, colon).stripTrailing();
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                if (c <= ' ' || c > '~') {
                    return false;
                }
            }
            return !name.isEmpty();
        }

        /**
         * Skips a body up to the next line that starts with "From ", which readFields then
         * reads. The scan looks only for line ends, so a large mbox costs little.
         */
        private void skipBody() {
            boolean lineStart = true;
            while (true) {
                if (limit - position < 5 && !refill()) {
                    finished = true;
                    return;
                }
                if (lineStart && buffer[position] == 'F' && buffer[position + 1] == 'r'
                        && buffer[position + 2] == 'o' && buffer[position + 3] == 'm'
                        && buffer[position + 4] == ' ') {
                    return;
                }
                int end = position;
                while (end < limit && buffer[end] != '\n') {
                    end++;
                }
                lineStart = end < limit;
                position = lineStart ? end + 1 : end;
            }
        }

        /** Keeps the unread bytes and reads more until five are there; false at the end. */
        private boolean refill() {
            System.arraycopy(buffer, position, buffer, 0, limit - position);
            limit -= position;
            position = 0;
            try {
                while (limit < 5) {
                    int n = in.read(buffer, limit, buffer.length - limit);
                    if (n <= 0) {
                        return false;
                    }
                    limit += n;
                }
                return true;
            } catch (IOException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + name + ": " + e.getMessage()
                        + ".", e);
            }
        }

        private String nextLine() {
            if (firstLinePending) {
                firstLinePending = false;
                return decode(line, length);
            }
            return readLine();
        }

        /**
         * Reads one line (LF or CRLF) into {@code line}, keeping at most MAX_LINE bytes;
         * returns null at the end of input.
         */
        private String readLine() {
            length = 0;
            boolean any = false;
            while (true) {
                if (position == limit && !fill()) {
                    if (!any) {
                        return null;
                    }
                    break;
                }
                any = true;
                int start = position;
                int end = start;
                while (end < limit && buffer[end] != '\n') {
                    end++;
                }
                int take = Math.min(end - start, MAX_LINE - length);
                if (take > 0) {
                    System.arraycopy(buffer, start, line, length, take);
                    length += take;
                }
                position = end < limit ? end + 1 : end;
                if (end < limit) {
                    break;
                }
            }
            if (length > 0 && line[length - 1] == '\r') {
                length--;
            }
            return decode(line, length);
        }

        private boolean fill() {
            try {
                int n = in.read(buffer);
                position = 0;
                limit = Math.max(n, 0);
                return n > 0;
            } catch (IOException e) {
                throw new Failure(EXIT_USAGE, "cannot read " + name + ": " + e.getMessage()
                        + ".", e);
            }
        }

        @Override
        public void close() {
            try {
                if (in != System.in) {
                    in.close();
                }
            } catch (IOException e) {
                debug("closing " + name + ": " + e.getMessage());
            }
        }
    }

    /**
     * Collects the header fields of one message while its lines arrive, unfolding them
     * (RFC 5322 section 2.2.3). A field whose value is empty takes the next line that is not
     * a field of its own as its value: the form pasted from Outlook's "Received:<TAB>".
     */
    static final class HeaderBlock {
        private final List<Field> fields = new ArrayList<>();
        private final StringBuilder value = new StringBuilder();
        private String name;

        boolean started() {
            return name != null;
        }

        boolean continues(String line) {
            return name != null && (line.charAt(0) == ' ' || line.charAt(0) == '\t'
                    || value.length() == 0 && !MailReader.isFieldStart(line));
        }

        void append(String line) {
            var text = line.strip();
            if (text.isEmpty() || value.length() >= MAX_FIELD) {
                return;
            }
            if (value.length() > 0) {
                value.append(' ');
            }
            value.append(text, 0, Math.min(text.length(), MAX_FIELD - value.length()));
        }

        void start(String line) {
            flush();
            int colon = line.indexOf(':');
            name = line.substring(0, colon).strip();
            value.setLength(0);
            append(line.substring(colon + 1));
        }

        List<Field> fields() {
            flush();
            return fields;
        }

        private void flush() {
            if (name != null && fields.size() < MAX_FIELDS) {
                fields.add(new Field(name, value.toString()));
            }
        }
    }

    /** Bytes as text: UTF-8 when they are valid UTF-8, ISO-8859-1 otherwise. Never throws. */
    static String decode(byte[] bytes, int length) {
        boolean ascii = true;
        for (int i = 0; i < length && ascii; i++) {
            ascii = bytes[i] >= 0;
        }
        if (ascii) {
            return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(bytes, 0, length)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            return new String(bytes, 0, length, StandardCharsets.ISO_8859_1);
        }
    }

    /** Gmail's "Show original" page, or any page with the message source in a pre/textarea. */
    static final class SavedPage {
        private SavedPage() {
        }

        static String messageSource(String html) {
            var document = org.jsoup.Jsoup.parse(html);
            var raw = document.selectFirst("#raw_message_text");
            if (raw != null) {
                return raw.wholeText();
            }
            String best = null;
            for (var element : document.select("pre, textarea")) {
                var text = element.wholeText().stripLeading();
                if (MailReader.isFieldStart(text.lines().findFirst().orElse(""))
                        && (best == null || text.length() > best.length())) {
                    best = text;
                }
            }
            return best;
        }
    }

    /** RFC 2047 encoded words in a Subject, for display only; unknown charsets stay encoded. */
    static final class EncodedWords {
        private EncodedWords() {
        }

        static String decode(String value) {
            if (!value.contains("=?")) {
                return value;
            }
            var words = java.util.regex.Pattern
                    .compile("=\\?([^?\\s]++)\\?([BbQq])\\?([^?\\s]*+)\\?=(\\s++(?==\\?))?")
                    .matcher(value);
            var sb = new StringBuilder();
            while (words.find()) {
                words.appendReplacement(sb, java.util.regex.Matcher.quoteReplacement(
                        word(words.group(1), words.group(2), words.group(3), words.group())));
            }
            return words.appendTail(sb).toString();
        }

        private static String word(String charset, String encoding, String text, String raw) {
            try {
                var cs = java.nio.charset.Charset.forName(charset.replaceAll("\\*.*", ""));
                byte[] bytes = encoding.equalsIgnoreCase("B")
                        ? java.util.Base64.getMimeDecoder().decode(text) : quoted(text);
                return new String(bytes, cs);
            } catch (IllegalArgumentException e) {
                return raw;
            }
        }

        private static byte[] quoted(String text) {
            var out = new java.io.ByteArrayOutputStream();
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c == '=' && i + 2 < text.length()) {
                    out.write(Integer.parseInt(text.substring(i + 1, i + 3), 16));
                    i += 2;
                } else {
                    out.write(c == '_' ? ' ' : c);
                }
            }
            return out.toByteArray();
        }
    }

    /**
     * Splits a Received value (RFC 5321 section 4.4) into words, comments and semicolons.
     * Comments nest and may hold quoted pairs; the scan is a loop with a depth counter, so
     * any depth of nesting costs no stack.
     */
    record Token(char kind, String text) {
        static final char WORD = 'w';
        static final char COMMENT = 'c';
        static final char SEMICOLON = ';';

        static List<Token> scan(String value) {
            var tokens = new ArrayList<Token>();
            int n = value.length();
            int i = 0;
            while (i < n) {
                char c = value.charAt(i);
                if (c <= ' ' || c == ')') {
                    i++;
                } else if (c == ';') {
                    tokens.add(new Token(SEMICOLON, ";"));
                    i++;
                } else if (c == '(') {
                    int end = commentEnd(value, i);
                    tokens.add(new Token(COMMENT, value.substring(i + 1, Math.max(i + 1,
                            end < n ? end : n))));
                    i = end + 1;
                } else {
                    int end = wordEnd(value, i);
                    tokens.add(new Token(WORD, value.substring(i, end)));
                    i = end;
                }
            }
            return tokens;
        }

        /** Index of the parenthesis closing the comment opened at {@code start}, or n. */
        private static int commentEnd(String value, int start) {
            int depth = 0;
            for (int i = start; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c == '\\') {
                    i++;
                } else if (c == '(') {
                    depth++;
                } else if (c == ')' && --depth == 0) {
                    return i;
                }
            }
            return value.length();
        }

        /** A word ends at white space, a comment or a semicolon; quotes and <...> hold. */
        private static int wordEnd(String value, int start) {
            char close = value.charAt(start) == '"' ? '"' : value.charAt(start) == '<' ? '>' : 0;
            int i = start + 1;
            while (i < value.length()) {
                char c = value.charAt(i);
                if (close != 0) {
                    if (c == '\\') {
                        i++;
                    } else if (c == close) {
                        return i + 1;
                    }
                } else if (c <= ' ' || c == '(' || c == ')' || c == ';') {
                    return i;
                }
                i++;
            }
            return Math.min(i, value.length());
        }
    }

    /** Parses Received values into hops: clauses, TCP-info, date and TLS evidence. */
    static final class Received {
        private static final List<String> CLAUSES =
                List.of("from", "by", "via", "with", "id", "for", "tls");

        private Received() {
        }

        static Hop parse(String value) {
            var clauses = new java.util.HashMap<String, String>();
            var comments = new java.util.HashMap<String, List<String>>();
            String current = null;
            int dateStart = -1;
            var tokens = Token.scan(value);
            for (int i = 0; i < tokens.size(); i++) {
                var token = tokens.get(i);
                var lower = token.text().toLowerCase(java.util.Locale.ROOT);
                if (token.kind() == Token.SEMICOLON) {
                    current = null;
                    dateStart = i + 1;
                } else if (token.kind() == Token.COMMENT) {
                    if (current != null) {
                        comments.computeIfAbsent(current, k -> new ArrayList<>())
                                .add(token.text());
                    }
                } else if (CLAUSES.contains(lower) && !clauses.containsKey(lower)
                        && i + 1 < tokens.size() && tokens.get(i + 1).kind() == Token.WORD) {
                    current = lower;
                    clauses.put(lower, null);
                } else if (current != null && clauses.get(current) == null) {
                    clauses.put(current, token.text());
                } else if ("with".equals(current)) {
                    clauses.put(current, clauses.get(current) + " " + token.text());
                }
            }
            return hop(value, clauses, comments, date(tokens, dateStart));
        }

        private static Hop hop(String value, Map<String, String> clauses,
                Map<String, List<String>> comments, String date) {
            var from = clauses.get("from");
            var by = clauses.get("by");
            var with = clauses.get("with");
            var fromComments = comments.getOrDefault("from", List.of());
            var byComments = comments.getOrDefault("by", List.of());
            var byComment = byComments.isEmpty() ? null : byComments.get(0);
            // The TCP-info comment records the connection; the from word is only the HELO.
            String ip = null;
            String rdns = null;
            if (!fromComments.isEmpty()) {
                rdns = Net.hostIn(fromComments.get(0));
            }
            for (var comment : fromComments) {
                ip = ip != null ? ip : Net.addressIn(comment);
            }
            ip = ip != null ? ip : Net.literal(from);
            var tls = Tls.find(value, with, clauses.get("tls"));
            var withComments = comments.getOrDefault("with", List.of());
            var encrypted = Tls.encrypted(tls, value, with, by, byComments, withComments,
                    clauses.get("id"));
            var scope = Scope.of(from, rdns, ip, by, with);
            return new Hop(from, rdns, ip, by, byComment, with, clauses.get("id"), encrypted,
                    tls.protocol(), tls.cipher(), tls.bits(), scope, date,
                    value.strip());
        }

        /** The words after the last semicolon, with a short zone comment like "(PDT)". */
        private static String date(List<Token> tokens, int start) {
            if (start < 0) {
                return null;
            }
            var words = new ArrayList<String>();
            for (int i = start; i < tokens.size(); i++) {
                var token = tokens.get(i);
                if (token.kind() == Token.WORD) {
                    words.add(token.text());
                } else if (token.kind() == Token.COMMENT && token.text().length() <= 5
                        && !words.isEmpty()) {
                    words.add("(" + token.text() + ")");
                } else if (token.kind() == Token.COMMENT) {
                    break;
                }
            }
            return words.isEmpty() ? null : String.join(" ", words);
        }
    }

    /** TLS evidence found in one Received value. */
    record Tls(String protocol, String cipher, Integer bits) {
        static final Tls NONE = new Tls(null, null, null);

        boolean found() {
            return protocol != null || cipher != null;
        }

        /** The patterns are compiled once, on first use, in the order they are tried. */
        private static final class Patterns {
            // Quantifiers are possessive so that hostile input cannot make them backtrack.
            static final java.util.regex.Pattern[] ALL = {
                // Gmail, Sendmail, Haraka, Microsoft: version=X[,] cipher=Y [bits=N]
                compile("\\bversion=([\\w./-]++),?\\s*+cipher=([^\\s);,]++)"
                        + "(?:\\s++bits=(\\d++))?"),
                // Postfix, Stalwart, Yandex, gateways: using X with cipher Y (N/M bits)
                compile("\\busing\\s++(TLSv?[\\d._]*+|SSLv3)\\s++with\\s++cipher\\s++"
                        + "([^\\s()]++)(?:\\s*+\\((\\d++)/\\d++\\s++bits\\))?"),
                // Courier: TLS: version, N bits, cipher
                compile("\\b(?:TLS|SSL):\\s*+(TLS[\\w./-]*+|SSLv3),\\s*+(\\d++)\\s*+bits,"
                        + "\\s*+([\\w-]++)"),
                // Exim <= 4.92, OpenSMTPD: (version:cipher:bits[:verified])
                compile("\\((?:Cipher\\s++|tls_cipher\\s++)?(TLS[\\w.-]*+|SSLv3):([\\w-]++)"
                        + ":(\\d++)(?::\\w++)?\\)"),
                // Exim >= 4.93 (RFC 8314 tls clause) and mox: (TLS1.3) tls X / (TLS1.3 X)
                compile("\\((TLS1\\.[0-3]|TLSv1(?:\\.[0-3])?)(?:\\)\\s++tls\\s++|\\s++)"
                        + "(\\w++)"),
                // Exim >= 4.93 with the version only: with esmtps (TLS1.3)
                compile("\\((TLS1\\.[0-3]|TLSv1(?:\\.[0-3])?)\\)"),
                // Cisco IronPort: with ESMTP/TLS/cipher
                compile("\\bESMTP/TLS/([\\w-]++)"),
            };

            private static java.util.regex.Pattern compile(String regex) {
                return java.util.regex.Pattern.compile(regex);
            }
        }

        static Tls find(String value, String with, String tlsClause) {
            var p = Patterns.ALL;
            var m = p[0].matcher(value);
            if (m.find()) {
                return of(m.group(1), m.group(2), m.group(3));
            }
            if ((m = p[1].matcher(value)).find()) {
                return of(m.group(1), m.group(2), m.group(3));
            }
            if ((m = p[2].matcher(value)).find()) {
                return of(m.group(1), m.group(3), m.group(2));
            }
            if ((m = p[3].matcher(value)).find()) {
                return of(m.group(1), m.group(2), m.group(3));
            }
            if ((m = p[4].matcher(value)).find()) {
                return of(m.group(1), m.group(2), null);
            }
            if ((m = p[5].matcher(value)).find()) {
                return of(m.group(1), tlsClause, null);
            }
            if (with != null && (m = p[6].matcher(with)).find()) {
                return of(null, m.group(1), null);
            }
            var qmail = qmailCipher(value);
            if (qmail != null) {
                return of(null, qmail, null);
            }
            return tlsClause == null ? NONE : of(null, tlsClause, null);
        }

        /**
         * qmail's TLS patches: "with CIPHER encrypted SMTP" or "with (CIPHER encrypted) SMTP".
         * Found by hand rather than by a pattern, which would backtrack on long words.
         */
        private static String qmailCipher(String value) {
            int at = value.indexOf(" encrypted");
            if (at < 0 || !value.startsWith(" SMTP", at + 10)
                    && !value.startsWith(") SMTP", at + 10)) {
                return null;
            }
            int start = at;
            while (start > 0 && (Character.isLetterOrDigit(value.charAt(start - 1))
                    || value.charAt(start - 1) == '-' || value.charAt(start - 1) == '_')) {
                start--;
            }
            return start < at ? value.substring(start, at) : null;
        }

        private static Tls of(String version, String cipher, String bits) {
            // Gmail wrote "cipher=OTHER" for suites it had no name for: that is no cipher.
            var named = cipher == null || cipher.equals("OTHER") ? null : cipher;
            Integer number = null;
            if (bits != null && bits.length() < 6) {
                number = Integer.valueOf(bits);
            }
            return new Tls(protocol(version), named, number);
        }

        /**
         * TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 or SSLv3 from any spelling (TLS1_3, TLSv1.3,
         * TLS1.3, TLS-1.0). OpenSSL 1.0 wrote "TLSv1/SSLv3" for every TLS version; it
         * becomes TLSv1, the floor it guarantees.
         */
        static String protocol(String written) {
            if (written == null) {
                return null;
            }
            var upper = written.toUpperCase(java.util.Locale.ROOT);
            if (upper.startsWith("SSLV3") || upper.startsWith("SSL3")) {
                return "SSLv3";
            }
            var digits = upper.replaceAll("^TLS[V_ -]*", "").replaceAll("[_-]", ".");
            if (!upper.startsWith("TLS") || !digits.startsWith("1")) {
                return null;
            }
            if (digits.length() >= 3 && digits.charAt(1) == '.'
                    && digits.charAt(2) >= '1' && digits.charAt(2) <= '3') {
                return "TLSv1." + digits.charAt(2);
            }
            return "TLSv1";
        }

        /**
         * Whether the hop used TLS: true on any evidence; false when the receiver would have
         * said so (an RFC 3848 keyword without S, Microsoft's bare "Microsoft SMTP Server");
         * null when it never records TLS (a plain "SMTP" from most receivers, ZMailer,
         * Microsoft SMTPSVC, no with clause at all).
         */
        static Boolean encrypted(Tls tls, String value, String with, String by,
                List<String> byComments, List<String> withComments, String id) {
            if (tls.found() || value.contains("Google Transport Security")) {
                return true;
            }
            if (with == null || value.contains("rhost-flags")) {
                return null;
            }
            var w = with.toLowerCase(java.util.Locale.ROOT);
            if (w.startsWith("microsoft smtp server")) {
                return withComments.contains("TLS");
            }
            var keyword = w.split(" ", 2)[0].replaceFirst("^local-", "").replaceFirst("^utf8", "");
            if (keyword.matches("e?smtpsa?|lmtpsa?|e?ssmtpa?|esmtp-tls|https|imaps|pop3s")) {
                return true;
            }
            if (keyword.matches("esmtpa?|lmtpa?|asmtp|smtpa")) {
                return false;
            }
            return keyword.equals("smtp") && honestAboutSmtp(with, by, byComments, id)
                    ? Boolean.FALSE : null;
        }

        /**
         * "with SMTP" means a HELO session, in which STARTTLS cannot happen; but some
         * receivers write SMTP whatever happened (Amazon SES inbound, Coremail, QQ). Trust it
         * from Gmail, Postfix, Exim, Sendmail and qmail (which writes no id clause).
         */
        private static boolean honestAboutSmtp(String with, String by, List<String> byComments,
                String id) {
            var host = by == null ? "" : by.toLowerCase(java.util.Locale.ROOT);
            var comment = String.join(" ", byComments).toLowerCase(java.util.Locale.ROOT);
            boolean sendmailVersion = !comment.isEmpty() && Character.isDigit(comment.charAt(0))
                    && comment.contains("/");
            return host.endsWith("google.com") || with.startsWith("smtp") || sendmailVersion
                    || comment.contains("postfix") || comment.contains("exim")
                    || comment.contains("sendmail") || id == null && byComments.isEmpty();
        }
    }

    /** Addresses and host names inside from clauses and their TCP-info comments. */
    static final class Net {
        private Net() {
        }

        /** The address in "[192.0.2.1]", "[IPv6:2001:db8::1]:25", or a bare literal. */
        static String literal(String word) {
            if (word == null) {
                return null;
            }
            var text = word;
            int open = text.indexOf('[');
            int close = text.indexOf(']', open + 1);
            if (open >= 0 && close > open) {
                text = text.substring(open + 1, close);
            }
            text = text.replaceFirst("(?i)^IPv6:", "");
            return isAddress(text) ? text : null;
        }

        /** The first address in a TCP-info comment: "(rdns [ip])", "(ip)", "([ip] helo=x)". */
        static String addressIn(String comment) {
            for (var word : comment.split("[\\s()]+")) {
                var ip = literal(word.replaceFirst("^[^\\[]*=", ""));
                if (ip != null) {
                    return ip;
                }
            }
            return null;
        }

        /** The reverse DNS name opening a TCP-info comment, if it is a host name. */
        static String hostIn(String comment) {
            var first = comment.strip().split("[\\s\\[]+", 2)[0];
            boolean named = first.indexOf('.') > 0 || first.equals("localhost");
            if (!named || first.contains("=") || first.contains(":") || isAddress(first)
                    || !first.matches("[\\w.-]+")) {
                return null;
            }
            return first;
        }

        static boolean isAddress(String text) {
            if (text.isEmpty()) {
                return false;
            }
            if (text.indexOf(':') >= 0) {
                return text.length() >= 2 && text.matches("[0-9A-Fa-f:.]+")
                        && text.indexOf("::") == text.lastIndexOf("::");
            }
            var parts = text.split("\\.", -1);
            if (parts.length != 4) {
                return false;
            }
            for (var part : parts) {
                if (part.isEmpty() || part.length() > 3
                        || !part.chars().allMatch(c -> c >= '0' && c <= '9')
                        || Integer.parseInt(part) > 255) {
                    return false;
                }
            }
            return true;
        }

        /** Whether two addresses share a /24 (IPv4) or a /48 (IPv6). */
        static boolean sameBlock(String a, String b) {
            if (a == null || b == null || a.indexOf(':') >= 0 != b.indexOf(':') >= 0) {
                return false;
            }
            if (a.indexOf(':') < 0) {
                var blockA = a.substring(0, a.lastIndexOf('.'));
                return blockA.equals(b.substring(0, b.lastIndexOf('.')));
            }
            var x = a.toLowerCase(java.util.Locale.ROOT).split(":");
            var y = b.toLowerCase(java.util.Locale.ROOT).split(":");
            return x.length > 3 && y.length > 3 && x[0].equals(y[0]) && x[1].equals(y[1])
                    && x[2].equals(y[2]) && !a.contains("::") && !b.contains("::");
        }

        /** Loopback, RFC 1918, CGNAT (100.64/10), link-local, ULA and mapped forms of them. */
        static boolean isPrivate(String ip) {
            var text = ip.toLowerCase(java.util.Locale.ROOT).replaceFirst("^::ffff:", "");
            if (text.indexOf(':') >= 0) {
                return text.equals("::1") || text.startsWith("fc") || text.startsWith("fd")
                        || text.startsWith("fe8") || text.startsWith("fe9")
                        || text.startsWith("fea") || text.startsWith("feb");
            }
            var parts = text.split("\\.");
            int a = Integer.parseInt(parts[0]);
            int b = Integer.parseInt(parts[1]);
            return a == 10 || a == 127 || a == 0 || a == 192 && b == 168
                    || a == 172 && b >= 16 && b <= 31 || a == 169 && b == 254
                    || a == 100 && b >= 64 && b <= 127;
        }

        /**
         * The organisation a host name belongs to: its last two labels (three under a
         * two-letter country code with a short second label, as in example.co.uk), with
         * the big providers' several domains folded into one name each.
         */
        static String organisation(String host) {
            if (host == null) {
                return null;
            }
            var name = host.toLowerCase(java.util.Locale.ROOT).replaceFirst("\\.$", "");
            var labels = name.split("\\.");
            if (labels.length < 2) {
                return null;
            }
            int keep = labels.length >= 3 && labels[labels.length - 1].length() == 2
                    && labels[labels.length - 2].length() <= 3 ? 3 : 2;
            var org = String.join(".", java.util.Arrays.asList(labels)
                    .subList(labels.length - keep, labels.length));
            return switch (org) {
                case "google.com", "gmail.com", "googlemail.com" -> "google";
                case "outlook.com", "office365.com", "exchangelabs.com", "hotmail.com" ->
                        "microsoft";
                case "messagingengine.com", "fastmail.com" -> "fastmail";
                case "yandex.net", "yandex.ru" -> "yandex";
                case "protonmail.ch", "mail-europe.com", "proton.me" -> "proton";
                case "gmx.net", "web.de", "kundenserver.de", "1and1.com", "gmx.de" -> "1und1";
                case "yahoo.com", "yahoodns.net", "aol.com" -> "yahoo";
                case "zoho.com", "zohomail.com" -> "zoho";
                default -> org;
            };
        }
    }

    /** Where a hop stands: "external", "provider" or "local" (see Hop). */
    static final class Scope {
        private Scope() {
        }

        static String of(String from, String rdns, String ip, String by, String with) {
            if (isLocal(from, ip, by, with)) {
                return "local";
            }

            // A private address, or a receiver named under a private-use suffix.
            var byName = by == null ? "" : by.toLowerCase(java.util.Locale.ROOT);
            if (ip != null && Net.isPrivate(ip)
                    || byName.matches(".*\\.(local|lan|internal|localdomain|intra|corp)")) {
                return "provider";
            }

            var byOrg = Net.organisation(by);
            var fromOrg = Net.organisation(rdns != null ? rdns : from);
            return byOrg != null && byOrg.equals(fromOrg) ? "provider" : "external";
        }

        /**
         * No sender; a loopback sender (by address, or by name when no address is
         * recorded, since a misconfigured server may say HELO localhost from outside); a
         * receiver named by its address (Google's "by 2002:..."); or a protocol that is not
         * SMTP relay: LMTP, local, HTTP, MAPI, POP3, IMAP.
         */
        private static boolean isLocal(String from, String ip, String by, String with) {
            if (from == null) {
                return true;
            }
            var fromName = from.toLowerCase(java.util.Locale.ROOT);
            if (ip != null ? ip.replaceFirst("^::ffff:", "").matches("::1|127\\..*")
                    : fromName.matches("localhost(\\.localdomain)?|ip6-localhost|.*\\[local]")) {
                return true;
            }
            var byName = by == null ? "" : by.toLowerCase(java.util.Locale.ROOT);
            if (byName.indexOf(':') >= 0 || byName.matches("\\d.*")) {
                return true;
            }
            var protocol = with == null ? "" : with.toLowerCase(java.util.Locale.ROOT);
            return protocol.matches("(utf8)?lmtp.*|local.*|https?|mapi.*|pop3?s?.*|imaps?.*");
        }
    }

    /** The verdict on one message, from its delivery hop. */
    record Verdict(Mail mail, Kind kind, Hop delivery, List<Hop> hops, String note) {

        /**
         * Picks the delivery hop. With --from: the newest hop received from that server
         * (and not written by it). Otherwise the newest external hop that is not an
         * authenticated submission, or failing that the newest relay inside the provider.
         */
        static Verdict of(Mail mail, String server) {
            var newestFirst = new ArrayList<Hop>();
            for (var value : mail.received()) {
                newestFirst.add(Received.parse(value));
            }
            markNeighbours(newestFirst);
            Hop delivery = null;
            if (server != null) {
                var wanted = normalise(server);
                delivery = first(newestFirst, h -> matches(h, wanted)
                        && !wanted.equals(normalise(h.by())));
            } else {
                delivery = first(newestFirst, h -> h.scope().equals("external")
                        && !h.authenticated());
                if (delivery == null) {
                    delivery = first(newestFirst, h -> h.scope().equals("provider")
                            && !h.authenticated());
                }
            }
            var hops = new ArrayList<>(newestFirst);
            java.util.Collections.reverse(hops);
            return new Verdict(mail, kind(delivery), delivery, hops,
                    note(newestFirst, delivery, server));
        }

        /**
         * A relay from the receiver's own address block is inside the provider: when the
         * hop above says from which address the receiver passed the message on, and the
         * sender here shares its /24 (IPv4) or /48 (IPv6), the hop is not external.
         */
        private static void markNeighbours(List<Hop> newestFirst) {
            for (int i = 1; i < newestFirst.size(); i++) {
                var hop = newestFirst.get(i);
                var byName = normalise(hop.by());
                for (int j = i - 1; j >= 0 && byName != null; j--) {
                    var above = newestFirst.get(j);
                    if (byName.equals(normalise(above.from()))
                            || byName.equals(normalise(above.fromRdns()))) {
                        if (hop.scope().equals("external")
                                && Net.sameBlock(hop.fromIp(), above.fromIp())) {
                            newestFirst.set(i, hop.withScope("provider"));
                        }
                        break;
                    }
                }
            }
        }

        private static Hop first(List<Hop> hops, java.util.function.Predicate<Hop> test) {
            for (var hop : hops) {
                if (test.test(hop)) {
                    return hop;
                }
            }
            return null;
        }

        private static boolean matches(Hop hop, String wanted) {
            return wanted.equals(normalise(hop.from())) || wanted.equals(normalise(hop.fromIp()))
                    || wanted.equals(normalise(hop.fromRdns()));
        }

        static String normalise(String host) {
            if (host == null) {
                return null;
            }
            var name = host.toLowerCase(java.util.Locale.ROOT);
            if (name.startsWith("[") && name.endsWith("]")) {
                name = name.substring(1, name.length() - 1);
            }
            if (name.startsWith("ipv6:")) {
                name = name.substring(5);
            }
            return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
        }

        private static Kind kind(Hop delivery) {
            if (delivery == null || delivery.encrypted() == null) {
                return Kind.unknown;
            }
            return delivery.encrypted() ? Kind.encrypted : Kind.unencrypted;
        }

        private static String note(List<Hop> hops, Hop delivery, String server) {
            if (hops.isEmpty()) {
                return "The message has no Received fields, so nothing shows how it travelled."
                        + " Check a copy from the recipient's mailbox, not from your Sent"
                        + " folder.";
            }
            if (delivery == null && server != null) {
                return "No hop shows the message arriving from " + server + "; leave out"
                        + " --from to judge the provider's first hop from outside.";
            }
            if (delivery == null) {
                return "No hop shows the message arriving from another server; this may be"
                        + " the sender's copy rather than the one the recipient received.";
            }
            return null;
        }

        Map<String, Object> toJson() {
            var map = new java.util.LinkedHashMap<String, Object>();
            map.put("source", mail.source());
            map.put("subject", mail.subject());
            map.put("verdict", kind.name());
            map.put("deliveryHop", delivery == null ? null : delivery.toJson());
            var list = new ArrayList<Object>();
            for (var hop : hops) {
                list.add(hop.toJson());
            }
            map.put("hops", list);
            map.put("note", note);
            return map;
        }
    }

    /** The human report: a verdict in plain words, then a compact hop table. */
    static final class Report {
        static final int WIDTH = 96;

        private Report() {
        }

        static String text(Verdict verdict) {
            var sb = new StringBuilder();
            var mail = verdict.mail();
            var subject = mail.subject() == null ? "" : "  \"" + mail.subject() + "\"";
            sb.append(style("@|bold " + escape(clean(cut(mail.source() + subject, WIDTH)))
                    + "|@")).append('\n');
            for (var line : wrap(clean(sentence(verdict)), WIDTH)) {
                sb.append(line).append('\n');
            }
            if (!verdict.hops().isEmpty()) {
                sb.append('\n').append(table(verdict));
            }
            return sb.toString();
        }

        static String summary(int seen, int[] tally) {
            if (seen <= 1) {
                return "";
            }
            var sb = new StringBuilder("\n");
            if (seen > Check.SHOWN) {
                sb.append(String.format("%,d more messages are not shown.%n",
                        seen - Check.SHOWN));
            }
            return sb.append(String.format("%,d messages: %,d encrypted, %,d unencrypted,"
                    + " %,d unknown.%n", seen, tally[0], tally[1], tally[2])).toString();
        }

        private static String sentence(Verdict verdict) {
            var hop = verdict.delivery();
            if (hop == null) {
                return "Unknown. " + verdict.note();
            }
            var receiver = receiverName(hop.by());
            var sender = hop.fromLabel();
            return switch (verdict.kind()) {
                case encrypted -> "Encrypted. " + receiver + " accepted this message from "
                        + sender + " over " + tlsWords(hop) + "." + outdated(hop.protocol());
                case unencrypted -> "Not encrypted. " + receiver + " accepted this message"
                        + " from " + sender + " without TLS, so anyone on the path could read"
                        + " it." + (receiver.contains("Gmail") ? " Gmail shows a red broken"
                        + " lock on such mail." : "") + " If " + hop.fromName() + " is your Postfix"
                        + " server, run `sac-tls fix` to turn on outbound TLS, then send a new"
                        + " test mail and check it again.";
                case unknown -> "Unknown. " + receiver + " accepted this message from " + sender
                        + " but does not record whether TLS was used, so its header cannot"
                        + " tell. Send the test mail to Gmail or Outlook, which record it.";
            };
        }

        private static String outdated(String protocol) {
            if (protocol == null || protocol.equals("TLSv1.2") || protocol.equals("TLSv1.3")) {
                return "";
            }
            return " " + protocol + " is outdated and weak; current servers agree on TLSv1.2 or"
                    + " TLSv1.3.";
        }

        private static String receiverName(String by) {
            var org = Net.organisation(by);
            var name = by == null ? "The receiver" : by;
            if ("google".equals(org)) {
                return name + " (Gmail)";
            }
            return "microsoft".equals(org) ? name + " (Microsoft 365 / Outlook)" : name;
        }

        private static String tlsWords(Hop hop) {
            if (hop.protocol() == null && hop.cipher() == null) {
                return "TLS (the receiver did not record the version or cipher)";
            }
            var words = hop.protocol() == null ? "TLS" : hop.protocol();
            if (hop.cipher() != null) {
                words += " with " + hop.cipher();
            }
            return hop.bits() == null ? words : words + " (" + hop.bits() + " bits)";
        }

        private static String table(Verdict verdict) {
            var sb = new StringBuilder();
            var format = "%-2s%-3s%-32s %-23s %-9s %s";
            sb.append(String.format(format, "", "#", "from", "by", "with", "TLS")
                    .stripTrailing()).append('\n');
            int number = 1;
            for (var hop : verdict.hops()) {
                var mark = hop == verdict.delivery() ? ">" : hop.internal() ? "*" : "";
                // A field with neither from nor by (qmail's "invoked from network") shows raw.
                var from = hop.from() == null && hop.by() == null ? hop.raw() : hop.fromLabel();
                var row = String.format(format, mark, number++, cut(from, 32),
                        cut(hop.by() == null ? "" : hop.by(), 23), cut(withCell(hop), 9),
                        tlsCell(hop));
                sb.append(clean(cut(row, WIDTH + 4))).append('\n');
            }
            return sb.append("> delivery hop   * inside the receiving or sending network\n")
                    .toString();
        }

        private static String withCell(Hop hop) {
            var with = hop.with() == null ? "" : hop.with();
            return with.startsWith("Microsoft SMTP") ? "Microsoft" : with;
        }

        private static String tlsCell(Hop hop) {
            if (hop.encrypted() == null) {
                return "not recorded";
            }
            if (!hop.encrypted()) {
                return "no";
            }
            var cell = hop.protocol() == null ? "yes" : hop.protocol();
            return hop.cipher() == null ? cell : cell + " " + hop.cipher();
        }

        private static String cut(String text, int width) {
            return text.length() <= width ? text : text.substring(0, width - 1) + "~";
        }

        /** picocli markup must not see header text as markup. */
        private static String escape(String text) {
            return text.replace("@|", "@ |").replace("|@", "| @");
        }

        private static List<String> wrap(String text, int width) {
            var lines = new ArrayList<String>();
            var line = new StringBuilder();
            for (var word : text.split(" ")) {
                if (line.length() > 0 && line.length() + 1 + word.length() > width) {
                    lines.add(line.toString());
                    line.setLength(0);
                }
                line.append(line.length() > 0 ? " " : "").append(word);
            }
            lines.add(line.toString());
            return lines;
        }
    }

    // ----------------------------------------------------------------------------------
    // Engine: main.cf and Postfix control
    // ----------------------------------------------------------------------------------

    /*
     * Finds a Postfix instance and reads its effective settings through postconf, decides the
     * outbound TLS settings without ever weakening a stronger choice, edits main.cf by
     * Postfix's own grammar, writes it with a backup and an atomic rename, and reloads with a
     * rollback. Not handled yet: master.cf -o overrides are reported, never changed; SELinux
     * labels and ACLs of main.cf are not copied; a single-file bind mount (rename fails with
     * EBUSY) is refused rather than rewritten in place.
     */

    static final Duration POSTFIX_TIMEOUT = Duration.ofSeconds(60);

    /** The outbound TLS security levels Postfix knows, weakest first. */
    static final List<String> TLS_LEVELS = List.of(
            "none", "may", "encrypt", "fingerprint", "dane", "dane-only", "verify", "secure");

    /**
     * Where distributions keep the CA bundle: Debian, Ubuntu, Alpine and Arch; RHEL and
     * Fedora; SUSE; FreeBSD base; FreeBSD ports.
     */
    static final List<String> CA_BUNDLES = List.of(
            "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem",
            "/usr/local/share/certs/ca-root-nss.crt");

    /** Map types that can hold a TLS session cache (they support update and sequence). */
    static final Set<String> CACHE_MAP_TYPES = Set.of("lmdb", "btree", "memcache", "proxy");

    static final List<String> SETTINGS = List.of("mail_version", "compatibility_level",
            "queue_directory", "data_directory", "maillog_file", "syslog_name",
            "smtp_tls_security_level", "smtp_use_tls", "smtp_enforce_tls",
            "smtp_tls_enforce_peername", "smtp_tls_loglevel", "smtp_tls_session_cache_database",
            "smtp_tls_CAfile", "smtp_tls_CApath", "smtp_tls_policy_maps");

    static final String LEVEL = "smtp_tls_security_level";
    static final String LOGLEVEL = "smtp_tls_loglevel";
    static final String CACHE = "smtp_tls_session_cache_database";
    static final String CAFILE = "smtp_tls_CAfile";

    /** Log lines after a reload that mean outbound (or any) TLS is broken. */
    static final Pattern LOG_TROUBLE = Pattern.compile("fatal:|panic:|bad command startup"
            + "|disabling TLS support|cannot load Certification Authority data"
            + "|unsupported dictionary type|is unavailable|Invalid TLS level"
            + "|error opening chain file|cannot get \\S+ certificate");

    static void requireRoot(String command) {
        if (!isRoot()) {
            throw new Failure(EXIT_PERMISSION, command + " changes Postfix's configuration and"
                    + " must run as root; run it again with sudo.");
        }
    }

    static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }

    /** A Postfix instance: its config directory, its main.cf and the commands that run it. */
    record Instance(Path configDir, Path mainCf, String postconfPath, String postfixPath) {

        static Instance locate(Path option) {
            var postconf = findProgram("postconf");
            var postfix = findProgram("postfix");
            if (postconf == null || postfix == null) {
                throw new Failure(EXIT_NO_POSTFIX, "Postfix is not installed here (there is no"
                        + " postconf or postfix command); install Postfix first.");
            }
            var env = System.getenv("MAIL_CONFIG");
            Path dir;
            if (option != null) {
                dir = option;
            } else if (env != null && !env.isBlank()) {
                dir = Path.of(env);
            } else {
                var result = run(List.of(postconf, "-dh", "config_directory"), POSTFIX_TIMEOUT);
                dir = Path.of(result.ok() ? result.out().trim() : "/etc/postfix");
            }
            dir = dir.toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new Failure(EXIT_NO_POSTFIX, "the Postfix config directory " + dir
                        + " does not exist; name the right one with -c.");
            }
            var mainCf = dir.resolve("main.cf");
            if (!Files.exists(mainCf)) {
                throw new Failure(EXIT_NO_POSTFIX, dir + " holds no main.cf, so this Postfix is"
                        + " not configured yet (Debian's \"No configuration\" leaves it out);"
                        + " configure it first, for example with dpkg-reconfigure postfix.");
            }
            return new Instance(dir, mainCf, postconf, postfix);
        }

        Result postconf(List<String> args) {
            var command = new ArrayList<>(List.of(postconfPath, "-c", configDir.toString()));
            command.addAll(args);
            return run(command, POSTFIX_TIMEOUT);
        }

        /**
         * Runs `postfix -c DIR ARGS`. Postfix 3.7 and older print their diagnostics only
         * to a terminal, so when `script` is at hand the command runs on a pseudo-terminal
         * and its messages land in the result.
         */
        Result postfix(String... args) {
            var command = new ArrayList<>(List.of(postfixPath, "-c", configDir.toString()));
            command.addAll(List.of(args));
            var script = findProgram("script");
            if (script == null) {
                return run(command, POSTFIX_TIMEOUT);
            }
            var quoted = new StringBuilder();
            for (var word : command) {
                quoted.append('\'').append(word.replace("'", "'\\''")).append("' ");
            }
            var result = run(List.of(script, "-qec", quoted.toString(), "/dev/null"),
                    POSTFIX_TIMEOUT);
            return new Result(result.status(), result.out().replace("\r", ""), result.err());
        }

        boolean running() {
            return run(List.of(postfixPath, "-c", configDir.toString(), "status"),
                    POSTFIX_TIMEOUT).ok();
        }

        /** The file to edit: main.cf itself, or the target of a symbolic link. */
        Path realMainCf() {
            try {
                return mainCf.toRealPath();
            } catch (IOException e) {
                throw ioFailure(mainCf, "read", e, false);
            }
        }
    }

    /** What Postfix says about an instance: effective values, map types, master.cf -o. */
    record Settings(Map<String, String> values, Set<String> mapTypes, List<String> overrides) {

        static Settings read(Instance instance) {
            var values = effectiveValues(instance, instance.configDir(), SETTINGS);
            var types = instance.postconf(List.of("-m"));
            var overrides = instance.postconf(List.of("-P"));
            var tls = instance.postconf(List.of("-T", "run-version"));
            if (tls.ok() && tls.out().isBlank()) {
                throw new Failure(EXIT_NO_POSTFIX, "this Postfix was built without TLS support,"
                        + " so it cannot encrypt outbound mail; install a Postfix package with"
                        + " TLS.");
            }
            var tlsOverrides = overrides.out().lines()
                    .filter(line -> line.matches("[^/]+/[^/]+/smtp_(tls_|use_tls|enforce_tls).*"))
                    .toList();
            return new Settings(values, Set.copyOf(types.out().lines().toList()), tlsOverrides);
        }

        String get(String name) {
            return values.getOrDefault(name, "");
        }

        /** A version such as "3.7.11" compared with "3.11": true when at least that. */
        boolean versionAtLeast(int major, int minor) {
            var parts = get("mail_version").split("\\.");
            try {
                int ma = Integer.parseInt(parts[0]);
                int mi = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
                return ma > major || ma == major && mi >= minor;
            } catch (NumberFormatException e) {
                return false;
            }
        }
    }

    /** `postconf -c DIR -x NAME...`: each name's value with every $name expanded. */
    static Map<String, String> effectiveValues(Instance instance, Path dir, List<String> names) {
        var args = new ArrayList<>(List.of("-x"));
        args.addAll(names);
        return postconfValues(instance, dir, args);
    }

    /** Runs `postconf -c DIR ARGS` and reads its "name = value" lines, in their order. */
    static Map<String, String> postconfValues(Instance instance, Path dir, List<String> args) {
        var command = new ArrayList<>(List.of(instance.postconfPath(), "-c", dir.toString()));
        command.addAll(args);
        var result = run(command, POSTFIX_TIMEOUT);
        if (!result.ok()) {
            throw new Failure(EXIT_NO_POSTFIX, "postconf cannot read " + dir.resolve("main.cf")
                    + ": " + firstLine(result.err()) + ".");
        }
        var values = new LinkedHashMap<String, String>();
        for (var line : result.out().split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                values.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
            }
        }
        return values;
    }

    static String firstLine(String text) {
        var line = text.strip().lines().findFirst().orElse("no reason given");
        return line.replaceFirst("^postconf: (fatal: )?", "").replaceAll("[.]$", "");
    }

    /**
     * The effective outbound level as smtp(8) computes it (smtp_tls_policy.c): the level
     * when set, else the legacy smtp_enforce_tls / smtp_tls_enforce_peername /
     * smtp_use_tls booleans.
     */
    static String effectiveLevel(Settings settings) {
        var level = settings.get(LEVEL).toLowerCase(Locale.ROOT);
        if (!level.isEmpty()) {
            return level;
        }
        if (isYes(settings.get("smtp_enforce_tls"))) {
            return isYes(settings.get("smtp_tls_enforce_peername")) ? "verify" : "encrypt";
        }
        return isYes(settings.get("smtp_use_tls")) ? "may" : "none";
    }

    static boolean isYes(String value) {
        return "yes".equalsIgnoreCase(value.trim());
    }

    /** One parameter sac-tls may set: its value before, the value to write (null: keep it). */
    record Decision(String name, String before, String write, String reason) {
        boolean changes() {
            return write != null;
        }
    }

    /** The four decisions, in the order they appear in the diff and the report. */
    static List<Decision> decide(Settings settings, MainCf file, boolean noneConfirmed) {
        return List.of(decideLevel(settings, file, noneConfirmed), decideLoglevel(settings),
                decideCache(settings), decideCaFile(settings));
    }

    /** True when main.cf itself asks for no TLS, as opposed to inheriting the default. */
    static boolean explicitNone(Settings settings, MainCf file) {
        if (!effectiveLevel(settings).equals("none") || file.entries(LEVEL).isEmpty()) {
            return false;
        }
        var raw = file.entries(LEVEL).get(file.entries(LEVEL).size() - 1).value();
        return !settings.get(LEVEL).isEmpty() || raw.contains("$")
                || settings.versionAtLeast(3, 11);
    }

    static Decision decideLevel(Settings settings, MainCf file, boolean noneConfirmed) {
        var before = settings.get(LEVEL);
        var level = effectiveLevel(settings);
        var legacy = before.isEmpty() && !level.equals("none")
                ? " (through the legacy smtp_use_tls/smtp_enforce_tls)" : "";
        if (!TLS_LEVELS.contains(level)) {
            return new Decision(LEVEL, before, null, "\"" + level + "\" is not a security level"
                    + " Postfix knows and stops all outbound mail; correct it by hand");
        }
        if (TLS_LEVELS.indexOf(level) > TLS_LEVELS.indexOf("may")) {
            return new Decision(LEVEL, before, null, "already " + level + legacy
                    + ", stronger than may");
        }
        if (level.equals("may") && !before.isEmpty()) {
            return new Decision(LEVEL, before, null, "already may");
        }
        if (explicitNone(settings, file) && !noneConfirmed) {
            return new Decision(LEVEL, before, null, "main.cf turns TLS off on purpose; sac-tls"
                    + " changes that only when you confirm it on a terminal");
        }
        return new Decision(LEVEL, before, "may", level.equals("may")
                ? "states the level that the deprecated smtp_use_tls gave"
                : "opportunistic TLS: encrypt whenever the receiver offers STARTTLS");
    }

    static Decision decideLoglevel(Settings settings) {
        var before = settings.get(LOGLEVEL);
        var digits = Pattern.compile("^(\\d+)").matcher(before);
        if (digits.find() && new java.math.BigInteger(digits.group(1)).signum() > 0) {
            return new Decision(LOGLEVEL, before, null, "already " + before);
        }
        return new Decision(LOGLEVEL, before, "1", "logs one line per TLS connection, so"
                + " `sac-tls log` can prove it");
    }

    static Decision decideCache(Settings settings) {
        var before = settings.get(CACHE);
        var type = before.contains(":") ? before.substring(0, before.indexOf(':')) : before;
        var usable = settings.mapTypes().contains(type) && CACHE_MAP_TYPES.contains(type);
        if (!before.isEmpty() && usable) {
            return new Decision(CACHE, before, null, "already a " + type + " cache");
        }
        var best = settings.mapTypes().contains("lmdb") ? "lmdb"
                : settings.mapTypes().contains("btree") ? "btree" : null;
        if (best == null) {
            return new Decision(CACHE, before, null, "this Postfix lists neither lmdb nor btree"
                    + " in postconf -m, so it has no map type for a session cache");
        }
        var reason = before.isEmpty() ? "reuses TLS sessions, so repeat deliveries are faster"
                : "this Postfix cannot use a " + type + " session cache";
        return new Decision(CACHE, before, best + ":${data_directory}/smtp_scache", reason);
    }

    static Decision decideCaFile(Settings settings) {
        var before = settings.get(CAFILE);
        var caPath = settings.get("smtp_tls_CApath");
        String problem = null;
        if (!before.isEmpty()) {
            problem = pemProblem(resolveIn(settings.get("queue_directory"), before));
            if (problem == null) {
                return new Decision(CAFILE, before, null, "already a CA bundle");
            }
        } else if (!caPath.isEmpty()
                && Files.isDirectory(resolveIn(settings.get("queue_directory"), caPath))) {
            return new Decision(CAFILE, before, null, "smtp_tls_CApath already names "
                    + caPath);
        }
        var bundle = CA_BUNDLES.stream().filter(path -> pemProblem(Path.of(path)) == null)
                .findFirst().orElse(null);
        if (bundle == null) {
            return new Decision(CAFILE, before, null, "no system CA bundle was found (install"
                    + " the ca-certificates package)");
        }
        return new Decision(CAFILE, before, bundle, problem == null
                ? "lets Postfix tell a trusted receiver from an untrusted one"
                : "the current file " + problem + ", which turns outbound TLS off");
    }

    static Path resolveIn(String directory, String path) {
        try {
            return directory.isEmpty() ? Path.of(path) : Path.of(directory).resolve(path);
        } catch (java.nio.file.InvalidPathException e) {
            return Path.of("/nonexistent");
        }
    }

    /** Why a CA file is unusable (missing, unreadable, no PEM certificate), or null. */
    static String pemProblem(Path file) {
        if (!Files.isRegularFile(file)) {
            return "does not exist";
        }
        byte[] bytes;
        try (var in = Files.newInputStream(file)) {
            bytes = in.readNBytes(64 << 20);
        } catch (IOException e) {
            return "cannot be read";
        }
        var text = new String(bytes, StandardCharsets.ISO_8859_1);
        var begin = text.indexOf("-----BEGIN CERTIFICATE-----");
        var end = text.indexOf("-----END CERTIFICATE-----", Math.max(begin, 0));
        if (begin < 0 || end < 0) {
            return "holds no PEM certificate";
        }
        var pem = text.substring(begin, end + "-----END CERTIFICATE-----".length());
        try {
            java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(
                    new java.io.ByteArrayInputStream(pem.getBytes(StandardCharsets.ISO_8859_1)));
            return null;
        } catch (java.security.cert.CertificateException e) {
            return "holds no readable PEM certificate";
        }
    }

    /**
     * main.cf as Postfix reads it (postconf(5) "main.cf file format", readlline.c): a line
     * whose first non-space character is '#' is a comment, a blank line is ignored, a line
     * that starts with white space continues the logical line before it even across comment
     * and blank lines, and the last of several entries for one name wins. CR counts as
     * white space. Lines are kept byte for byte (ISO-8859-1 maps each byte to one char),
     * each with its own line ending, so untouched lines are written back identical.
     *
     * sac-tls edits the text itself rather than running `postconf -e`: postconf 3.7 glues
     * an appended line onto a last line without a newline, writes LF into CRLF files,
     * resets owner and mode to 0644 and the caller, replaces a symbolic link with a plain
     * file, and makes no backup. The edit is then checked with postconf on a staged copy.
     */
    static final class MainCf {
        final List<String> lines;
        final List<Entry> entries;

        /** A logical line: its name, first physical line, continuation lines and value. */
        record Entry(String name, int first, List<Integer> continuations, String value) {
        }

        MainCf(List<String> lines) {
            this.lines = List.copyOf(lines);
            this.entries = parse(this.lines);
        }

        static MainCf of(byte[] bytes) {
            var text = new String(bytes, StandardCharsets.ISO_8859_1);
            var lines = new ArrayList<String>();
            int start = 0;
            while (start < text.length()) {
                int nl = text.indexOf('\n', start);
                int end = nl < 0 ? text.length() : nl + 1;
                lines.add(text.substring(start, end));
                start = end;
            }
            return new MainCf(lines);
        }

        byte[] bytes() {
            return String.join("", lines).getBytes(StandardCharsets.ISO_8859_1);
        }

        static boolean space(char c) {
            return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0x0b;
        }

        /** A comment line or a blank line: Postfix skips it, even inside a logical line. */
        static boolean ignored(String line) {
            for (int i = 0; i < line.length(); i++) {
                if (!space(line.charAt(i))) {
                    return line.charAt(i) == '#';
                }
            }
            return true;
        }

        private static List<Entry> parse(List<String> lines) {
            var entries = new ArrayList<Entry>();
            String name = null;
            int first = -1;
            var continuations = new ArrayList<Integer>();
            var value = new StringBuilder();
            for (int i = 0; i <= lines.size(); i++) {
                var line = i < lines.size() ? lines.get(i) : null;
                if (line != null && ignored(line)) {
                    continue;
                }
                if (line != null && space(line.charAt(0))) {
                    if (name != null) {
                        continuations.add(i);
                        value.append(stripEnd(line));
                    }
                    continue;
                }
                if (name != null) {
                    entries.add(new Entry(name, first, List.copyOf(continuations),
                            value.toString().strip()));
                }
                if (line != null) {
                    int eq = line.indexOf('=');
                    var head = eq < 0 ? stripEnd(line) : line.substring(0, eq);
                    name = head.split("[ \t\r\f\u000b]", 2)[0];
                    first = i;
                    continuations.clear();
                    value.setLength(0);
                    value.append(eq < 0 ? "" : stripEnd(line.substring(eq + 1)));
                }
            }
            return List.copyOf(entries);
        }

        private static String stripEnd(String line) {
            int end = line.length();
            while (end > 0 && space(line.charAt(end - 1))) {
                end--;
            }
            return line.substring(0, end);
        }

        List<Entry> entries(String name) {
            return entries.stream().filter(entry -> entry.name().equals(name)).toList();
        }

        /** The line ending most lines use: CRLF or LF. */
        String lineEnding() {
            long crlf = lines.stream().filter(line -> line.endsWith("\r\n")).count();
            long lf = lines.stream().filter(line -> line.endsWith("\n")).count() - crlf;
            return crlf > lf ? "\r\n" : "\n";
        }

        /**
         * Sets each name to its value: every entry of that name is replaced where it stands
         * (its continuation lines go with it; comments between them stay), and a name that
         * has no entry is appended at the end under one comment line.
         */
        MainCf with(Map<String, String> settings) {
            var replaced = new java.util.HashMap<Integer, String>();
            var dropped = new java.util.HashSet<Integer>();
            var appended = new ArrayList<String>();
            var eol = lineEnding();
            for (var setting : settings.entrySet()) {
                var assignment = setting.getKey() + " = " + setting.getValue();
                var found = entries(setting.getKey());
                for (var entry : found) {
                    var old = lines.get(entry.first());
                    var ending = old.endsWith("\r\n") ? "\r\n" : old.endsWith("\n") ? "\n" : "";
                    replaced.put(entry.first(), assignment + ending);
                    dropped.addAll(entry.continuations());
                }
                if (found.isEmpty()) {
                    appended.add(assignment + eol);
                }
            }

            var result = new ArrayList<String>();
            for (int i = 0; i < lines.size(); i++) {
                if (!dropped.contains(i)) {
                    result.add(replaced.getOrDefault(i, lines.get(i)));
                }
            }
            if (!appended.isEmpty()) {
                int last = result.size() - 1;
                if (last >= 0 && !result.get(last).endsWith("\n")) {
                    result.set(last, result.get(last) + eol);
                }
                result.add(eol);
                result.add("# Outbound TLS, added by sac-tls (sac-tls undo restores the backup)."
                        + eol);
                result.addAll(appended);
            }
            return new MainCf(result);
        }
    }

    /** How patch runs; `suggestRestart` is off when fix goes on to restart by itself. */
    record PatchOptions(boolean dryRun, boolean yes, boolean json, boolean suggestRestart) {
    }

    /** What patch did, and the effective security level main.cf now gives. */
    record PatchOutcome(boolean changed, boolean written, Path backup, String level) {
    }

    /** patch and undo: decide, show, confirm, back up and write main.cf. */
    static final class TlsPatcher {
        private TlsPatcher() {
        }

        static PatchOutcome patch(Instance instance, PatchOptions options) {
            if (!options.dryRun()) {
                requireRoot("patch");
            }
            var target = instance.realMainCf();
            var oldBytes = readMainCf(target);
            var file = MainCf.of(oldBytes);
            var settings = Settings.read(instance);

            boolean noneConfirmed = false;
            if (explicitNone(settings, file) && !options.dryRun() && !options.yes()) {
                noneConfirmed = Terminal.confirm(instance.mainCf() + " sets " + LEVEL + " = none"
                        + " on purpose. Change it to may (encrypt when the receiver offers"
                        + " STARTTLS)? [y/N] ") == Boolean.TRUE;
            }
            var decisions = decide(settings, file, noneConfirmed);
            var writes = new LinkedHashMap<String, String>();
            decisions.stream().filter(Decision::changes)
                    .forEach(decision -> writes.put(decision.name(), decision.write()));
            var newFile = file.with(writes);
            var after = writes.isEmpty() ? settings.values()
                    : verifyStaged(instance, settings, oldBytes, newFile.bytes(), writes);
            var diff = Diff.unified(instance.mainCf().toString(), file.lines, newFile.lines);

            reportOverrides(settings);
            boolean changed = !writes.isEmpty();
            if (!options.json()) {
                printPlan(instance, settings, decisions, diff, changed);
            }
            Path backup = null;
            if (changed && !options.dryRun()) {
                confirmWrite(diff, options);
                backup = Writer.backupAndReplace(target, oldBytes, newFile.bytes());
            }
            var level = effectiveLevel(new Settings(after, Set.of(), List.of()));
            var outcome = new PatchOutcome(changed, backup != null, backup, level);
            if (options.json()) {
                printJson(instance, settings, decisions, after, diff, options, outcome);
            } else {
                printResult(instance, options, outcome);
            }
            return outcome;
        }

        static byte[] readMainCf(Path target) {
            try {
                if (Files.size(target) > (16 << 20)) {
                    throw new Failure(EXIT_NO_POSTFIX, target + " is larger than 16 MB, which no"
                            + " main.cf is; check the path.");
                }
                return Files.readAllBytes(target);
            } catch (IOException e) {
                throw ioFailure(target, "read", e, false);
            }
        }

        /**
         * Checks the edit with Postfix's own parser on a staged copy: only the parameters
         * written may differ from `postconf -n` of the live file, each must read as written,
         * and the effective level must not be lower. Returns the effective values after.
         */
        static Map<String, String> verifyStaged(Instance instance, Settings settings,
                byte[] oldBytes, byte[] newBytes, Map<String, String> writes) {
            Path stage = null;
            try {
                stage = Files.createTempDirectory("sac-tls-stage");
                Files.write(stage.resolve("main.cf"), newBytes);
                // Postfix waits until a file it reads is a second old; this one need not be.
                Files.setLastModifiedTime(stage.resolve("main.cf"), java.nio.file.attribute
                        .FileTime.fromMillis(System.currentTimeMillis() - 60_000));
                // Without master.cf beside it, postconf -n stalls for seconds.
                var masterCf = instance.configDir().resolve("master.cf");
                if (Files.isReadable(masterCf)) {
                    Files.copy(masterCf, stage.resolve("master.cf"));
                }
                var oldExplicit = explicitSettings(instance, instance.configDir());
                var newExplicit = explicitSettings(instance, stage);
                var names = new java.util.TreeSet<>(oldExplicit.keySet());
                names.addAll(newExplicit.keySet());
                names.remove("config_directory");
                for (var name : names) {
                    var expected = writes.containsKey(name) ? writes.get(name)
                            : oldExplicit.get(name);
                    if (!java.util.Objects.equals(expected, newExplicit.get(name))) {
                        throw new Failure(EXIT_INTERNAL, "the edited main.cf would read " + name
                                + " differently than intended, so nothing was written; please"
                                + " report this with a copy of main.cf.");
                    }
                }
                var after = effectiveValues(instance, stage, SETTINGS);
                var afterLevel = effectiveLevel(new Settings(after, Set.of(), List.of()));
                if (TLS_LEVELS.indexOf(afterLevel) < TLS_LEVELS.indexOf(effectiveLevel(settings))) {
                    throw new Failure(EXIT_INTERNAL, "the edit would lower the TLS security level,"
                            + " so nothing was written; please report this.");
                }
                return after;
            } catch (IOException e) {
                throw new Failure(EXIT_IO, "cannot stage a copy of main.cf in "
                        + System.getProperty("java.io.tmpdir") + " to check the edit: "
                        + e.getMessage() + ".", e);
            } finally {
                deleteTree(stage);
            }
        }

        /** `postconf -n` of a config directory: the names main.cf sets, with raw values. */
        static Map<String, String> explicitSettings(Instance instance, Path dir) {
            return postconfValues(instance, dir, List.of("-n"));
        }

        static void deleteTree(Path dir) {
            if (dir == null) {
                return;
            }
            try (var walk = Files.walk(dir)) {
                walk.sorted(java.util.Comparator.reverseOrder()).forEach(path -> {
                    try {
                        Files.deleteIfExists(path);
                    } catch (IOException e) {
                        debug("cannot remove " + path + ": " + e.getMessage());
                    }
                });
            } catch (IOException e) {
                debug("cannot remove " + dir + ": " + e.getMessage());
            }
        }

        static void reportOverrides(Settings settings) {
            for (var override : settings.overrides()) {
                warn("master.cf overrides main.cf for one service: " + override
                        + " (sac-tls leaves master.cf alone; check that this is intended).");
            }
            if (!settings.get("smtp_tls_policy_maps").isEmpty()) {
                warn("smtp_tls_policy_maps = " + settings.get("smtp_tls_policy_maps")
                        + " sets TLS per destination and wins over main.cf for those"
                        + " destinations; sac-tls leaves it alone.");
            }
        }

        /** Asks on the terminal, unless --yes; with --json the diff goes to the terminal. */
        static void confirmWrite(String diff, PatchOptions options) {
            if (options.yes()) {
                return;
            }
            var answer = Terminal.confirm((options.json() ? diff : "")
                    + "Write these changes to main.cf? [y/N] ");
            if (answer == null) {
                throw new Failure(EXIT_DECLINED, "there is no terminal to ask for confirmation,"
                        + " so main.cf was left unchanged; review the diff and rerun with --yes"
                        + " to apply it.");
            }
            if (!answer) {
                throw new Failure(EXIT_DECLINED, "you did not confirm, so main.cf was left"
                        + " unchanged.");
            }
        }

        static void printPlan(Instance instance, Settings settings, List<Decision> decisions,
                String diff, boolean changed) {
            var out = System.out;
            out.println("Postfix " + settings.get("mail_version") + ", config directory "
                    + instance.configDir() + " (compatibility_level "
                    + settings.get("compatibility_level") + ")");
            out.print(diff);
            if (!diff.isEmpty()) {
                out.println();
            }
            for (var decision : decisions) {
                var before = decision.before().isEmpty() ? "(empty)" : decision.before();
                out.println(clean(String.format("  %-32s %s", decision.name(), decision.changes()
                        ? before + " -> " + decision.write() : "kept: " + before)));
                out.println(clean("      " + decision.reason()));
            }
            if (!changed) {
                out.println("Outbound TLS is already set up as sac-tls would set it; nothing to"
                        + " change, nothing written.");
            }
            out.flush();
        }

        static void printResult(Instance instance, PatchOptions options, PatchOutcome outcome) {
            var out = System.out;
            if (options.dryRun() && outcome.changed()) {
                out.println("Dry run: nothing was written. Run without --dry-run to apply it.");
            } else if (outcome.written()) {
                out.println("Wrote " + instance.mainCf() + "; the previous file is kept as "
                        + outcome.backup() + ".");
            }
            if (outcome.written() && options.suggestRestart()) {
                out.println("Next: `sac-tls restart" + configOption(instance) + "` validates"
                        + " the change and reloads Postfix.");
            }
            out.flush();
        }

        static void printJson(Instance instance, Settings settings, List<Decision> decisions,
                Map<String, String> after, String diff, PatchOptions options,
                PatchOutcome outcome) {
            var parameters = new LinkedHashMap<String, Object>();
            for (var decision : decisions) {
                var entry = new LinkedHashMap<String, Object>();
                entry.put("before", decision.before());
                entry.put("after", after.getOrDefault(decision.name(), decision.before()));
                entry.put("changed", decision.changes());
                entry.put("reason", decision.reason());
                parameters.put(decision.name(), entry);
            }
            var json = new LinkedHashMap<String, Object>();
            json.put("config_directory", instance.configDir().toString());
            json.put("main_cf", instance.mainCf().toString());
            json.put("mail_version", settings.get("mail_version"));
            json.put("compatibility_level", settings.get("compatibility_level"));
            json.put("changed", outcome.changed());
            json.put("dry_run", options.dryRun());
            json.put("written", outcome.written());
            json.put("backup", outcome.backup() == null ? null : outcome.backup().toString());
            json.put("parameters", parameters);
            json.put("master_cf_overrides", settings.overrides());
            json.put("diff", diff);
            System.out.println(Json.write(json));
            System.out.flush();
        }

        static void undo(Instance instance) {
            var target = instance.realMainCf();
            var backup = Writer.newestBackup(target);
            if (backup == null) {
                throw new Failure(EXIT_NO_POSTFIX, "there is no sac-tls backup of main.cf in "
                        + target.getParent() + ", so there is nothing to undo.");
            }
            var current = readMainCf(target);
            var restored = readMainCf(backup);
            if (java.util.Arrays.equals(current, restored)) {
                System.out.println(instance.mainCf() + " already equals the newest backup, "
                        + backup.getFileName() + "; nothing to undo.");
                return;
            }
            System.out.print(Diff.unified(instance.mainCf().toString(),
                    MainCf.of(current).lines, MainCf.of(restored).lines));

            var undone = Writer.sibling(target, "sac-tls-undone");
            Writer.atomicWrite(undone, current, Writer.attributes(target), current);
            Writer.atomicWrite(target, restored, Writer.attributes(target), current);
            System.out.println("Restored " + instance.mainCf() + " from " + backup
                    + "; the replaced file is kept as " + undone + ".");
            System.out.flush();

            offerReload(instance);
        }

        static void offerReload(Instance instance) {
            var hint = "`sac-tls restart" + configOption(instance) + "` validates and reloads"
                    + " Postfix so the restored main.cf takes effect.";
            if (!instance.running()) {
                System.out.println("Postfix is not running; the restored main.cf takes effect"
                        + " when it starts.");
                return;
            }
            var answer = Terminal.confirm("Reload Postfix now so the restored main.cf takes"
                    + " effect? [y/N] ");
            if (answer == Boolean.TRUE) {
                Reloader.restart(instance);
            } else {
                System.out.println("Postfix still runs the previous settings: " + hint);
            }
        }
    }

    static String configOption(Instance instance) {
        return System.getenv("MAIL_CONFIG") == null
                && instance.configDir().equals(Path.of("/etc/postfix"))
                ? "" : " -c " + instance.configDir();
    }

    /** Questions go to the controlling terminal, and answers come from it, never stdin. */
    static final class Terminal {
        private Terminal() {
        }

        /** True for yes, false for anything else, null when there is no terminal. */
        static Boolean confirm(String question) {
            try (var tty = new java.io.RandomAccessFile("/dev/tty", "rw")) {
                tty.write(question.getBytes(StandardCharsets.UTF_8));
                var answer = tty.readLine();
                return answer != null && answer.trim().toLowerCase(Locale.ROOT).matches("y|yes");
            } catch (IOException e) {
                debug("no terminal to ask on: " + e.getMessage());
                return null;
            }
        }
    }

    /**
     * Backups and atomic replacement. A new main.cf is written to a temporary file in the
     * same directory, flushed to disk, given the old file's owner, group and mode, and
     * renamed over main.cf; then the directory is flushed. A kill at any moment leaves
     * main.cf either the old file or the new one, never a mix.
     */
    static final class Writer {
        private Writer() {
        }

        static final Pattern BACKUP = Pattern.compile("\\.sac-tls\\.\\d{8}T\\d{6}\\.\\d{3}Z");

        static final java.time.format.DateTimeFormatter STAMP = java.time.format
                .DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
                .withZone(java.time.ZoneOffset.UTC);

        static Path backupAndReplace(Path target, byte[] oldBytes, byte[] newBytes) {
            var attributes = attributes(target);
            var backup = sibling(target, "sac-tls");
            atomicWrite(backup, oldBytes, attributes, oldBytes);
            pause("backup written");
            atomicWrite(target, newBytes, attributes, oldBytes);
            return backup;
        }

        /** NAME.KIND.TIMESTAMP beside target, unused so far. */
        static Path sibling(Path target, String kind) {
            while (true) {
                var name = target.getFileName() + "." + kind + "."
                        + STAMP.format(java.time.Instant.now());
                var path = target.resolveSibling(name);
                if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    return path;
                }
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Failure(EXIT_IO, "interrupted while naming a backup.");
                }
            }
        }

        static Path newestBackup(Path target) {
            var prefix = target.getFileName().toString();
            try (var files = Files.list(target.getParent())) {
                return files.filter(path -> {
                    var name = path.getFileName().toString();
                    return name.startsWith(prefix)
                            && BACKUP.matcher(name.substring(prefix.length())).matches();
                }).max(java.util.Comparator.comparing(path -> path.getFileName().toString()))
                        .orElse(null);
            } catch (IOException e) {
                throw ioFailure(target.getParent(), "read", e, false);
            }
        }

        static PosixFileAttributes attributes(Path file) {
            try {
                return Files.readAttributes(file, PosixFileAttributes.class);
            } catch (IOException e) {
                throw ioFailure(file, "read", e, false);
            }
        }

        /**
         * Writes bytes to target through a temporary file and a rename. When `expected` is
         * given and target exists, target must still hold it just before the rename.
         */
        static void atomicWrite(Path target, byte[] bytes, PosixFileAttributes like,
                byte[] expected) {
            var dir = target.getParent();
            var temp = dir.resolve("." + target.getFileName() + ".sac-tls-tmp-"
                    + ProcessHandle.current().pid());
            removeStaleTemporaries(dir);
            try {
                writeSynced(temp, bytes);
                Files.setOwner(temp, like.owner());
                Files.getFileAttributeView(temp, PosixFileAttributeView.class)
                        .setGroup(like.group());
                Files.setPosixFilePermissions(temp, like.permissions());
                pause("temporary file written");
                if (Files.exists(target) && !java.util.Arrays.equals(
                        Files.readAllBytes(target), expected)) {
                    throw new Failure(EXIT_IO, target + " changed while sac-tls was working"
                            + " (another editor?), so it was left as it is; run sac-tls again.");
                }
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw ioFailure(target, "write", e, false);
            } finally {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException e) {
                    debug("cannot remove " + temp + ": " + e.getMessage());
                }
            }
            pause("renamed");
            try (var channel = java.nio.channels.FileChannel.open(dir, StandardOpenOption.READ)) {
                channel.force(true);
            } catch (IOException e) {
                throw ioFailure(dir, "flush", e, true);
            }
        }

        private static void writeSynced(Path file, byte[] bytes) throws IOException {
            var mode = PosixFilePermissions.asFileAttribute(
                    PosixFilePermissions.fromString("rw-------"));
            var options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            try (var channel = java.nio.channels.FileChannel.open(file, options, mode)) {
                var buffer = java.nio.ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
        }

        /** Temporary files left by a sac-tls that was killed. */
        private static void removeStaleTemporaries(Path dir) {
            try (var files = Files.list(dir)) {
                files.filter(path -> path.getFileName().toString().matches(
                        "\\..+\\.sac-tls-tmp-\\d+")).forEach(path -> {
                            var name = path.getFileName().toString();
                            long pid = Long.parseLong(name.substring(name.lastIndexOf('-') + 1));
                            if (ProcessHandle.of(pid).isEmpty()) {
                                try {
                                    Files.deleteIfExists(path);
                                } catch (IOException e) {
                                    debug("cannot remove " + path + ": " + e.getMessage());
                                }
                            }
                        });
            } catch (IOException e) {
                debug("cannot list " + dir + ": " + e.getMessage());
            }
        }

        /**
         * A test hook: SAC_TLS_TEST_PAUSE_MS makes the writer announce each step on stderr
         * and sleep after it, so tests can kill sac-tls between any two steps.
         */
        static void pause(String step) {
            var pause = System.getenv("SAC_TLS_TEST_PAUSE_MS");
            if (pause == null || !pause.matches("\\d{1,5}")) {
                return;
            }
            System.err.println("sac-tls: step: " + step);
            try {
                Thread.sleep(Long.parseLong(pause));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One sentence for an I/O error on a file, by its cause; `changed` says if main.cf was. */
    static Failure ioFailure(Path file, String verb, IOException e, boolean changed) {
        var reason = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null
                ? fse.getReason() : String.valueOf(e.getMessage());
        var state = changed ? "" : " Nothing was changed.";
        if (reason.contains("Read-only file system")) {
            return new Failure(EXIT_IO, "cannot " + verb + " " + file + " because its file system"
                    + " is mounted read-only; remount it read-write and run again." + state, e);
        }
        if (reason.contains("No space left") || reason.contains("quota")) {
            return new Failure(EXIT_IO, "cannot " + verb + " " + file + " because the disk is"
                    + " full; free some space and run again." + state, e);
        }
        if (e instanceof java.nio.file.AccessDeniedException
                || reason.contains("Operation not permitted")
                || reason.contains("Permission denied")) {
            return new Failure(EXIT_PERMISSION, "not allowed to " + verb + " " + file
                    + " (run as root; an immutable file needs chattr -i)." + state, e);
        }
        if (e instanceof java.nio.file.NoSuchFileException) {
            return new Failure(EXIT_NO_POSTFIX, file + " does not exist." + state, e);
        }
        if (reason.contains("busy")) {
            return new Failure(EXIT_IO, "cannot replace " + file + " because it is busy (a"
                    + " single-file bind mount?); edit it where it is mounted from." + state, e);
        }
        return new Failure(EXIT_IO, "cannot " + verb + " " + file + ": " + reason + "." + state, e);
    }

    /** restart: validate, reload, confirm, and roll back to the newest backup on failure. */
    static final class Reloader {
        private Reloader() {
        }

        /** Returns true when Postfix runs with the new settings, false when it is stopped. */
        static boolean restart(Instance instance) {
            boolean running = instance.running();
            var problems = validate(instance);
            if (!problems.isEmpty()) {
                rollBack(instance, String.join("; ", problems), running);
            }
            if (!running) {
                System.out.println("The configuration is valid. Postfix is not running, so"
                        + " nothing was reloaded; start it with `systemctl start postfix@-`"
                        + " (Debian) or `postfix" + configOption(instance) + " start`.");
                return false;
            }
            var trouble = reloadAndWatch(instance);
            if (trouble != null) {
                rollBack(instance, trouble, true);
            }
            System.out.println("Postfix reloaded and runs with the new settings (config"
                    + " directory " + instance.configDir() + ").");
            System.out.flush();
            return true;
        }

        /** `postfix check` and the TLS values that postfix check does not look at. */
        static List<String> validate(Instance instance) {
            var problems = new ArrayList<String>();
            var check = instance.postfix("check");
            if (!check.ok()) {
                var said = (check.out() + check.err()).lines().filter(l -> !l.isBlank())
                        .findFirst().orElse("it printed nothing");
                problems.add("postfix check failed (" + said.strip() + ")");
                return problems;
            }
            Settings settings;
            try {
                settings = Settings.read(instance);
            } catch (Failure e) {
                problems.add(e.getMessage().replaceAll("[.]$", ""));
                return problems;
            }
            var level = settings.get(LEVEL).toLowerCase(Locale.ROOT);
            if (!level.isEmpty() && !TLS_LEVELS.contains(level)) {
                problems.add(LEVEL + " = " + level + " is not a level Postfix knows");
            }
            for (var name : List.of("smtp_use_tls", "smtp_enforce_tls",
                    "smtp_tls_enforce_peername")) {
                if (!settings.get(name).matches("(?i)yes|no")) {
                    problems.add(name + " must be yes or no");
                }
            }
            if (!settings.get(LOGLEVEL).matches("\\d+(\\s*,\\s*trace)?")) {
                problems.add(LOGLEVEL + " = " + settings.get(LOGLEVEL) + " is not a number");
            }
            var cache = settings.get(CACHE);
            var type = cache.contains(":") ? cache.substring(0, cache.indexOf(':')) : cache;
            if (!cache.isEmpty() && !settings.mapTypes().contains(type)) {
                problems.add(CACHE + " uses the map type " + type
                        + ", which this Postfix does not support");
            }
            var caFile = settings.get(CAFILE);
            if (!caFile.isEmpty()) {
                var problem = pemProblem(resolveIn(settings.get("queue_directory"), caFile));
                if (problem != null) {
                    problems.add(CAFILE + " = " + caFile + " " + problem);
                }
            }
            var caPath = settings.get("smtp_tls_CApath");
            if (!caPath.isEmpty()
                    && !Files.isDirectory(resolveIn(settings.get("queue_directory"), caPath))) {
                problems.add("smtp_tls_CApath = " + caPath + " is not a directory");
            }
            return problems;
        }

        /** Reloads and watches the log; returns what went wrong, or null. */
        static String reloadAndWatch(Instance instance) {
            var log = MailLog.open(instance);
            var reload = instance.postfix("reload");
            if (!reload.ok()) {
                return "postfix reload failed (" + firstLine(reload.out() + reload.err()) + ")";
            }
            var trouble = log.awaitReload(instance.configDir());
            if (trouble != null) {
                return trouble;
            }
            if (!instance.running()) {
                return "Postfix stopped running after the reload";
            }
            return null;
        }

        static void rollBack(Instance instance, String what, boolean reload) {
            var target = instance.realMainCf();
            var backup = Writer.newestBackup(target);
            if (backup == null) {
                throw new Failure(EXIT_BROKEN, "restart failed: " + what + "; there is no sac-tls"
                        + " backup of main.cf to go back to, so fix " + instance.mainCf()
                        + " by hand" + (reload ? " and reload Postfix." : "."));
            }
            Path failed;
            try {
                var current = TlsPatcher.readMainCf(target);
                failed = Writer.sibling(target, "sac-tls-failed");
                Writer.atomicWrite(failed, current, Writer.attributes(target), current);
                Writer.atomicWrite(target, TlsPatcher.readMainCf(backup),
                        Writer.attributes(target), current);
            } catch (Failure e) {
                throw new Failure(EXIT_BROKEN, "restart failed: " + what + "; restoring "
                        + backup + " failed too: " + e.getMessage(), e);
            }
            var invalid = validate(instance);
            if (!invalid.isEmpty()) {
                throw new Failure(EXIT_BROKEN, "restart failed: " + what + "; main.cf was"
                        + " restored from " + backup + " but that fails validation too: "
                        + String.join("; ", invalid) + ". Fix main.cf by hand now.");
            }
            var again = reload ? reloadAndWatch(instance) : null;
            if (again != null) {
                throw new Failure(EXIT_BROKEN, "restart failed: " + what + "; main.cf was"
                        + " restored from " + backup + " but reloading that failed too: " + again
                        + ". Fix main.cf by hand now.");
            }
            throw new Failure(EXIT_ROLLED_BACK, "restart failed: " + what + ". main.cf was"
                    + " restored from " + backup + (reload ? " and Postfix reloaded" : "")
                    + "; the failed file is kept as " + failed + ".");
        }
    }

    /**
     * Reads what one instance logs after a point in time, from the source `sac-tls log`
     * would read (maillog_file, else mail.log or maillog, else journald). Used only to
     * confirm a reload.
     */
    static final class MailLog {
        final LogSource source;
        final long offset;
        final long since;
        final String tag;

        private MailLog(LogSource source, long offset, long since, String tag) {
            this.source = source;
            this.offset = offset;
            this.since = since;
            this.tag = tag;
        }

        static MailLog open(Instance instance) {
            var tag = effectiveValues(instance, instance.configDir(), List.of("syslog_name"))
                    .getOrDefault("syslog_name", "postfix") + "/";
            var since = System.currentTimeMillis() / 1000 - 1;
            try {
                var sources = LogFiles.defaults(instance.configDir(), since);
                var source = sources.get(sources.size() - 1);
                var offset = source.file() == null ? 0 : Files.size(source.file());
                return new MailLog(source, offset, since, tag);
            } catch (Failure | IOException e) {
                debug(e.getMessage());
                return new MailLog(null, -1, since, tag);
            }
        }

        List<String> newLines() {
            if (offset < 0) {
                return List.of();
            }
            if (source.file() == null) {
                var journal = run(LogSource.journal(since).command(), Duration.ofSeconds(20));
                return journal.out().lines().filter(line -> line.contains(tag)).toList();
            }
            var file = source.file();
            try (var channel = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ)) {
                channel.position(Math.min(offset, channel.size()));
                var bytes = java.nio.channels.Channels.newInputStream(channel)
                        .readNBytes(8 << 20);
                return new String(bytes, StandardCharsets.UTF_8).lines()
                        .filter(line -> line.contains(tag)).toList();
            } catch (IOException e) {
                debug("cannot read " + file + ": " + e.getMessage());
                return List.of();
            }
        }

        /**
         * Waits up to 15 s for master's "reload -- version" line, then 2 s more for trouble.
         * Returns what went wrong, or null. With no log to read it only warns.
         */
        String awaitReload(Path configDir) {
            if (offset < 0) {
                warn("found no mail log to confirm the reload in; set maillog_file to let"
                        + " sac-tls check it.");
                return null;
            }
            var reloadLine = Pattern.compile("/master\\[\\d+\\]: reload -- version .*"
                    + "configuration " + Pattern.quote(configDir.toString()));
            long deadline = System.currentTimeMillis() + 15_000;
            long quietUntil = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, quietUntil)) {
                var lines = newLines();
                int at = -1;
                for (int i = 0; i < lines.size() && at < 0; i++) {
                    if (reloadLine.matcher(lines.get(i)).find()) {
                        at = i;
                    }
                }
                for (var line : lines.subList(Math.max(at, 0), lines.size())) {
                    if (LOG_TROUBLE.matcher(line).find()) {
                        return "the log shows trouble after the reload: "
                                + clean(line.strip());
                    }
                }
                if (at >= 0 && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.currentTimeMillis() + 2_000;
                }
                sleep(250);
            }
            if (quietUntil == Long.MAX_VALUE) {
                warn("the log " + source.name() + " shows no reload line"
                        + " within 15 seconds; check that Postfix took the new settings.");
            }
            return null;
        }
    }

    static void printHowToVerify(Instance instance, boolean running) {
        var sendmail = configOption(instance).isEmpty() ? "sendmail"
                : "sendmail -C " + instance.configDir();
        var out = System.out;
        out.println();
        out.println("To verify that mail now leaves encrypted:");
        if (!running) {
            out.println("  0. Start Postfix: `systemctl start postfix@-` (Debian) or `postfix"
                    + configOption(instance) + " start`.");
        }
        out.println("  1. Send a test mail from this server to a Gmail address you can read:");
        out.println("       printf 'Subject: TLS test\\n\\nTest.\\n' | " + sendmail
                + " you@gmail.com");
        out.println("  2. In Gmail open it, choose \"Show original\", then \"Download original\",");
        out.println("     and run:  sac-tls check original.eml");
        out.println("     It should say encrypted, with TLSv1.2 or TLSv1.3.");
        out.println("  Or, once some mail has gone out:  sac-tls log");
        out.flush();
    }

    /** A unified diff of two line lists (each line with its own ending), 3 lines of context. */
    static final class Diff {
        private Diff() {
        }

        private record Op(char kind, String line, int a, int b) {
        }

        static String unified(String name, List<String> a, List<String> b) {
            var ops = script(a, b);
            var out = new StringBuilder();
            int i = 0;
            while (i < ops.size()) {
                if (ops.get(i).kind() == ' ') {
                    i++;
                    continue;
                }
                int start = Math.max(0, i - 3);
                int end = i;
                int lastChange = i;
                while (end < ops.size() && end - lastChange <= 6) {
                    if (ops.get(end).kind() != ' ') {
                        lastChange = end;
                    }
                    end++;
                }
                end = Math.min(ops.size(), lastChange + 4);
                if (out.length() == 0) {
                    out.append("--- ").append(name).append('\n');
                    out.append("+++ ").append(name).append(" (new)\n");
                }
                hunk(out, ops.subList(start, end));
                i = end;
            }
            return out.toString();
        }

        private static void hunk(StringBuilder out, List<Op> ops) {
            int aCount = (int) ops.stream().filter(op -> op.kind() != '+').count();
            int bCount = (int) ops.stream().filter(op -> op.kind() != '-').count();
            int aStart = ops.get(0).a() + (aCount == 0 ? 0 : 1);
            int bStart = ops.get(0).b() + (bCount == 0 ? 0 : 1);
            out.append("@@ -").append(aStart).append(',').append(aCount)
                    .append(" +").append(bStart).append(',').append(bCount).append(" @@\n");
            for (var op : ops) {
                var line = op.line();
                var text = line.endsWith("\r\n") ? line.substring(0, line.length() - 2)
                        : line.endsWith("\n") ? line.substring(0, line.length() - 1) : line;
                out.append(op.kind()).append(clean(text)).append('\n');
                if (!line.endsWith("\n")) {
                    out.append("\\ No newline at end of file\n");
                }
            }
        }

        /** The edit script: common prefix and suffix, and a longest common subsequence. */
        private static List<Op> script(List<String> a, List<String> b) {
            int prefix = 0;
            while (prefix < a.size() && prefix < b.size() && a.get(prefix).equals(b.get(prefix))) {
                prefix++;
            }
            int suffix = 0;
            while (suffix < a.size() - prefix && suffix < b.size() - prefix
                    && a.get(a.size() - 1 - suffix).equals(b.get(b.size() - 1 - suffix))) {
                suffix++;
            }
            int n = a.size() - prefix - suffix;
            int m = b.size() - prefix - suffix;
            var ops = new ArrayList<Op>();
            for (int i = 0; i < prefix; i++) {
                ops.add(new Op(' ', a.get(i), i, i));
            }
            var middle = (long) (n + 1) * (m + 1) <= 4_000_000 ? lcs(a, b, prefix, n, m) : null;
            int i = 0;
            int j = 0;
            while (i < n || j < m) {
                if (middle != null && i < n && j < m
                        && a.get(prefix + i).equals(b.get(prefix + j))
                        && middle[i][j] == middle[i + 1][j + 1] + 1) {
                    ops.add(new Op(' ', a.get(prefix + i), prefix + i, prefix + j));
                    i++;
                    j++;
                } else if (i < n && (j == m || middle == null
                        || middle[i + 1][j] >= middle[i][j + 1])) {
                    ops.add(new Op('-', a.get(prefix + i), prefix + i, prefix + j));
                    i++;
                } else {
                    ops.add(new Op('+', b.get(prefix + j), prefix + i, prefix + j));
                    j++;
                }
            }
            for (int k = 0; k < suffix; k++) {
                ops.add(new Op(' ', a.get(prefix + n + k), prefix + n + k, prefix + m + k));
            }
            return ops;
        }

        private static int[][] lcs(List<String> a, List<String> b, int offset, int n, int m) {
            var table = new int[n + 1][m + 1];
            for (int i = n - 1; i >= 0; i--) {
                for (int j = m - 1; j >= 0; j--) {
                    table[i][j] = a.get(offset + i).equals(b.get(offset + j))
                            ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
                }
            }
            return table;
        }
    }

    // ----------------------------------------------------------------------------------
    // Engine: the mail log
    // ----------------------------------------------------------------------------------

    /*
     * Reads Postfix's mail log in one streaming pass of bytes and tells, for each delivery by
     * the smtp client, whether it used TLS and how (the TLS summary line of the same process
     * and relay, or Postfix 3.11's tls= field); and follows one test mail (fix --send-to).
     * Not handled yet: before 3.11, smtp_tls_loglevel 0 hides TLS, so deliveries then count
     * as cleartext; journald may drop lines under load, so its counts can fall short.
     */

    static final String[] TLS_CLASSES = {"Verified", "Trusted", "Untrusted", "Anonymous",
        "cleartext", "Unknown"};
    static final int CLEARTEXT = 4;
    static final int UNKNOWN_TRUST = 5;

    /** One delivery attempt by the smtp client, decoded for a report. */
    record Delivery(String time, String queueId, String recipient, String relay, String status,
            String dsn, String reply, String tlsClass, String protocol, String cipher) {
        boolean encrypted() {
            return !"cleartext".equals(tlsClass);
        }
    }

    /** A cleartext delivery as the report lists it. */
    record Listed(String time, String domain, String relay) {
    }

    /**
     * A buffer of whole lines handed from the reader thread to the parser, with the smtp
     * client lines the reader thread already found in its second half (from middle on).
     */
    static final class Chunk {
        final byte[] bytes;
        int length;
        int middle;
        final Tags tags = new Tags();

        Chunk(int size) {
            bytes = new byte[size];
        }
    }

    /**
     * The smtp client lines found, four numbers each: where the tag starts, where the
     * message after "[PID]: " starts, where the line ends, and the process ID.
     */
    static final class Tags {
        int[] at = new int[16384];
        int count;

        void add(int tag, int message, int end, int pid) {
            if (4 * count == at.length) {
                at = java.util.Arrays.copyOf(at, 2 * at.length);
            }
            at[4 * count] = tag;
            at[4 * count + 1] = message;
            at[4 * count + 2] = end;
            at[4 * count + 3] = pid;
            count++;
        }
    }

    /**
     * The TLS session each smtp process announced last, keyed by process ID in a fixed
     * two-way set-associative table, so memory stays the same however long the log is. A
     * process not seen for long is forgotten when a newer one needs its slot.
     */
    static final class Sessions {
        private static final int SETS = 1 << 14;

        private final int[] pids = new int[2 * SETS];
        private final long[] used = new long[2 * SETS];
        final byte[] tlsClass = new byte[2 * SETS];
        final long[] relayHash = new long[2 * SETS];
        final long[] queueIdHash = new long[2 * SETS];
        final int[] protocolLength = new int[2 * SETS];
        final byte[][] details = new byte[2 * SETS][];
        private long clock;

        /** The slot of process {@code pid}, or -1 when it announced no session. */
        int find(int pid) {
            int slot = (pid & (SETS - 1)) << 1;
            if (pids[slot] == pid) {
                used[slot] = ++clock;
                return slot;
            }
            if (pids[slot + 1] == pid) {
                used[slot + 1] = ++clock;
                return slot + 1;
            }
            return -1;
        }

        /** The slot for a new session of process {@code pid}. */
        int claim(int pid) {
            int slot = find(pid);
            if (slot < 0) {
                slot = (pid & (SETS - 1)) << 1;
                slot = used[slot] <= used[slot + 1] ? slot : slot + 1;
                pids[slot] = pid;
                used[slot] = ++clock;
            }
            return slot;
        }
    }

    /**
     * What the scan counted. Memory is bounded: at most MAX_DOMAINS domains are kept (the
     * rest are summed under one row) and only the newest MAX_LISTED cleartext deliveries.
     */
    static final class LogTally {
        static final int MAX_DOMAINS = 50_000;
        static final int MAX_LISTED = 100;
        static final String OTHER_DOMAINS = "(other domains)";
        private static final int SLOTS = 1 << 17;

        final long[] byClass = new long[TLS_CLASSES.length];
        long deliveries;
        long sent;
        long deferred;
        long bounced;
        long cannotStartTls;
        long tlsDeferrals;
        long tlsBounces;
        long tlsLines;
        long loopback;
        private final long[] domainHashes = new long[SLOTS];
        private final String[] domainNames = new String[SLOTS];
        private final long[] domainCounts = new long[2 * SLOTS];
        private int domainCount;
        private final byte[][] listedLines = new byte[MAX_LISTED][];
        private final int[][] listedFields = new int[MAX_LISTED][5];
        private long listed;

        long encrypted() {
            return deliveries - byClass[CLEARTEXT];
        }

        /** Counts a delivery to the domain b[start, end), whose lower-case hash is given. */
        void count(byte[] b, int start, int end, long hash, int tlsClass) {
            int slot = (int) (hash ^ hash >>> 29) & (SLOTS - 1);
            while (domainNames[slot] != null && domainHashes[slot] != hash) {
                slot = (slot + 1) & (SLOTS - 1);
            }
            if (domainNames[slot] == null) {
                if (domainCount == MAX_DOMAINS) {
                    var other = LogScanner.ascii(OTHER_DOMAINS);
                    count(other, 0, other.length, LogScanner.hashLower(other, 0, other.length),
                            tlsClass);
                    return;
                }
                domainCount++;
                domainHashes[slot] = hash;
                domainNames[slot] = start == end ? "(no domain)"
                        : LogScanner.text(b, start, end).toLowerCase(java.util.Locale.ROOT);
            }
            domainCounts[2 * slot]++;
            if (tlsClass != CLEARTEXT) {
                domainCounts[2 * slot + 1]++;
            }
        }

        /** Keeps a copy of a cleartext delivery's line, with where its fields lie. */
        void listCleartext(byte[] b, int lineStart, int lineEnd, int timeEnd, int domain,
                int domainEnd, int relay, int relayEnd) {
            int i = (int) (listed++ % MAX_LISTED);
            int length = Math.min(lineEnd - lineStart, 4096);
            if (listedLines[i] == null || listedLines[i].length < length) {
                listedLines[i] = new byte[Math.max(length, 512)];
            }
            System.arraycopy(b, lineStart, listedLines[i], 0, length);
            int[] fields = listedFields[i];
            fields[0] = timeEnd;
            fields[1] = domain;
            fields[2] = domainEnd;
            fields[3] = relay;
            fields[4] = relayEnd;
            for (int f = 0; f < fields.length; f++) {
                fields[f] = Math.min(length, fields[f] - lineStart);
            }
        }

        /** The newest cleartext deliveries kept, oldest first. */
        List<Listed> cleartextList() {
            var list = new ArrayList<Listed>();
            long first = Math.max(0, listed - MAX_LISTED);
            for (long n = first; n < listed; n++) {
                int i = (int) (n % MAX_LISTED);
                byte[] line = listedLines[i];
                int[] f = listedFields[i];
                list.add(new Listed(LogScanner.text(line, 0, f[0]),
                        LogScanner.text(line, f[1], f[2]).toLowerCase(java.util.Locale.ROOT),
                        LogScanner.text(line, f[3], f[4])));
            }
            return list;
        }

        record DomainRow(String domain, long deliveries, long encrypted) {
        }

        List<DomainRow> domainsByVolume() {
            var rows = new ArrayList<DomainRow>();
            for (int slot = 0; slot < SLOTS; slot++) {
                if (domainNames[slot] != null) {
                    rows.add(new DomainRow(domainNames[slot], domainCounts[2 * slot],
                            domainCounts[2 * slot + 1]));
                }
            }
            rows.sort(java.util.Comparator.comparingLong(DomainRow::deliveries).reversed()
                    .thenComparing(DomainRow::domain));
            return rows;
        }
    }

    /**
     * The byte-level parser. Feed it whole lines with {@link #scan}; it finds smtp client
     * lines by their tag ("postfix.../smtp[PID]: "), remembers each process's TLS session
     * and counts each delivery into a tally. Nothing else on a line is decoded.
     */
    static final class LogScanner {
        private static final VarHandle LONGS =
                MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
        private static final VarHandle INTS =
                MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
        private static final long ONES = 0x0101010101010101L;
        private static final long HIGHS = 0x8080808080808080L;
        private static final long BRACKETS = ONES * '[';
        private static final long NEWLINES = ONES * '\n';
        private static final long COMMAS = ONES * ',';
        private static final int SMTP = 's' | 'm' << 8 | 't' << 16 | 'p' << 24;
        private static final int POST = 'p' | 'o' << 8 | 's' << 16 | 't' << 24;
        private static final byte[] TLS_CONNECTION = ascii(" TLS connection ");
        private static final byte[] CANNOT_START_TLS = ascii("Cannot start TLS");
        private static final byte[] TO = ascii("to=<");
        private static final byte[] RELAY = ascii("relay=");
        private static final byte[] TLS_FIELD = ascii("tls=");
        private static final byte[] DSN = ascii("dsn=");
        private static final byte[] STATUS = ascii("status=");
        private static final byte[] WITH_CIPHER = ascii(" with cipher ");
        private static final byte[] ESTABLISHED_TO = ascii("established to ");
        private static final byte[] REUSED_TO = ascii("reused to ");
        private static final byte[] TLS = ascii("TLS");
        private static final byte[] LOCALHOST = ascii("localhost[");
        private static final byte[][] CLASS_WORDS = {ascii("Verified"), ascii("Trusted"),
            ascii("Untrusted"), ascii("Anonymous")};
        private static final byte[][] LOOPBACK = {ascii("127."), ascii("::1]"),
            ascii("ipv6:::1]")};

        final LogTally tally = new LogTally();
        private final Sessions sessions = new Sessions();
        private final boolean includeLoopback;
        private final long sinceEpoch;
        private final java.util.function.Consumer<Delivery> detail;

        /**
         * @param sinceEpoch count only deliveries logged at or after this second (or
         *     Long.MIN_VALUE)
         * @param detail receives every delivery decoded in full (loopback ones too), or null
         */
        LogScanner(boolean includeLoopback, long sinceEpoch,
                java.util.function.Consumer<Delivery> detail) {
            this.includeLoopback = includeLoopback || detail != null;
            this.sinceEpoch = sinceEpoch;
            this.detail = detail;
        }

        /** Scans the whole lines in bytes[from, to); the last one may lack its newline. */
        void scan(byte[] bytes, int from, int to) {
            var tags = new Tags();
            findTags(bytes, from, to, tags);
            scanTags(bytes, from, to, tags);
        }

        /**
         * Finds the smtp client lines in bytes[from, to) by the "/smtp[" that ends their tag.
         * This is the only pass over every byte, so it may run on another thread.
         */
        static void findTags(byte[] bytes, int from, int to, Tags tags) {
            tags.count = 0;
            int i = from;
            for (; i <= to - 8; i += 8) {
                long x = (long) LONGS.get(bytes, i) ^ BRACKETS;
                long found = (x - ONES) & ~x & HIGHS;
                while (found != 0) {
                    int open = i + (Long.numberOfTrailingZeros(found) >>> 3);
                    found &= found - 1;
                    if (isSmtpTag(bytes, from, open)) {
                        int end = indexOf(bytes, open, to, NEWLINES);
                        end = end < 0 ? to : end;
                        addLine(bytes, from, open, end, tags);
                        i = end + 1 - 8;
                        found = 0;
                    }
                }
            }
            for (; i < to; i++) {
                if (isSmtpTag(bytes, from, i)) {
                    int end = indexOf(bytes, i, to, NEWLINES);
                    end = end < 0 ? to : end;
                    addLine(bytes, from, i, end, tags);
                    i = end;
                }
            }
        }

        private static boolean isSmtpTag(byte[] bytes, int from, int open) {
            return open - from >= 12 && bytes[open] == '[' && bytes[open - 5] == '/'
                    && (int) INTS.get(bytes, open - 4) == SMTP;
        }

        /** Adds the line if its tag is Postfix's: "postfix[-NAME][/SERVICE]/smtp[PID]: ". */
        private static void addLine(byte[] b, int from, int open, int end, Tags tags) {
            int tag = open - 5;
            while (tag > from && b[tag - 1] != ' ' && b[tag - 1] != '\n') {
                tag--;
            }
            if (open - tag < 12 || (int) INTS.get(b, tag) != POST) {
                return;
            }
            int pid = 0;
            int i = open + 1;
            for (; i < end && b[i] >= '0' && b[i] <= '9'; i++) {
                pid = pid * 10 + (b[i] - '0');
            }
            if (i + 3 < end && b[i] == ']' && b[i + 1] == ':' && b[i + 2] == ' ') {
                tags.add(tag, i + 3, end, pid);
            }
        }

        /** Decodes the lines found by findTags; bytes[from, to) holds whole lines. */
        void scanTags(byte[] bytes, int from, int to, Tags tags) {
            int[] at = tags.at;
            for (int k = 0; k < 4 * tags.count; k += 4) {
                message(bytes, from, at[k], at[k + 3], at[k + 1], at[k + 2]);
            }
        }

        /** Finds the first byte equal to the one repeated in {@code pattern}, eight at a time. */
        static int indexOf(byte[] bytes, int from, int to, long pattern) {
            int i = from;
            for (; i <= to - 8; i += 8) {
                long x = (long) LONGS.get(bytes, i) ^ pattern;
                long found = (x - ONES) & ~x & HIGHS;
                if (found != 0) {
                    return i + (Long.numberOfTrailingZeros(found) >>> 3);
                }
            }
            for (; i < to; i++) {
                if (bytes[i] == (byte) pattern) {
                    return i;
                }
            }
            return -1;
        }

        private void message(byte[] b, int from, int tag, int pid, int start, int end) {
            int tlsClass = sessionClass(b, start, end);
            if (tlsClass >= 0) {
                tlsSession(b, pid, tlsClass, start, end);
                return;
            }
            int colon = start;
            while (colon < end && isAlnum(b[colon])) {
                colon++;
            }
            if (colon == start || colon + 2 >= end || b[colon] != ':' || b[colon + 1] != ' ') {
                return;
            }
            if (startsWith(b, colon + 2, end, TO)) {
                delivery(b, from, tag, pid, start, colon, end);
            } else if (startsWith(b, colon + 2, end, CANNOT_START_TLS) && !tooOld(b, from, tag)) {
                tally.cannotStartTls++;
            }
        }

        /** The trust class that opens a TLS summary line, or -1 for any other line. */
        private static int sessionClass(byte[] b, int start, int end) {
            int word = switch (b[start]) {
                case 'V' -> 0;
                case 'T' -> 1;
                case 'U' -> 2;
                case 'A' -> 3;
                default -> -1;
            };
            if (word < 0 || !startsWith(b, start, end, CLASS_WORDS[word])) {
                return -1;
            }
            int after = start + CLASS_WORDS[word].length;
            return startsWith(b, after, end, TLS_CONNECTION) ? word : -1;
        }

        /** "CLASS TLS connection established to HOST[ADDR]:PORT: PROTO with cipher C (..)" */
        private void tlsSession(byte[] b, int pid, int tlsClass, int start, int end) {
            int verb = start + CLASS_WORDS[tlsClass].length + TLS_CONNECTION.length;
            int relay = startsWith(b, verb, end, ESTABLISHED_TO) ? verb + ESTABLISHED_TO.length
                    : startsWith(b, verb, end, REUSED_TO) ? verb + REUSED_TO.length : -1;
            if (relay < 0) {
                return;
            }
            int close = relay;
            while (close < end && b[close] != ']') {
                close++;
            }
            int relayEnd = close + 1;
            while (relayEnd < end && b[relayEnd] != ' ') {
                relayEnd++;
            }
            if (relayEnd >= end || b[relayEnd - 1] != ':') {
                return;
            }
            tally.tlsLines++;
            int slot = sessions.claim(pid);
            sessions.tlsClass[slot] = (byte) tlsClass;
            sessions.relayHash[slot] = hashLower(b, relay, relayEnd - 1);
            sessions.queueIdHash[slot] = 0;
            if (detail != null) {
                int protocolEnd = find(b, relayEnd + 1, end, WITH_CIPHER);
                int cipherEnd = protocolEnd < 0 ? relayEnd + 1
                        : wordEnd(b, protocolEnd + WITH_CIPHER.length, end);
                sessions.details[slot] = java.util.Arrays.copyOfRange(b, relayEnd + 1,
                        cipherEnd);
                sessions.protocolLength[slot] = protocolEnd < 0 ? 0 : protocolEnd - relayEnd - 1;
            }
        }

        /**
         * "QID: to=<RCPT>, [orig_to=<..>, ]relay=R, ..., [tls=T, ]dsn=D, status=S (REPLY)".
         * Deliveries that are not remote (relay none or loopback) are left out.
         */
        private void delivery(byte[] b, int from, int tag, int pid, int qid, int qidEnd,
                int end) {
            int rcpt = qidEnd + 2 + TO.length;
            int relay = field(b, rcpt, end, RELAY);
            if (relay < 0) {
                return;
            }
            int relayEnd = indexOf(b, relay, end, COMMAS);
            int tls = -1;
            int dsn = -1;
            for (int comma = relayEnd; comma >= 0 && dsn < 0; ) {
                if (startsWith(b, comma + 2, end, DSN)) {
                    dsn = comma + 2 + DSN.length;
                } else if (startsWith(b, comma + 2, end, TLS_FIELD)) {
                    tls = comma + 2 + TLS_FIELD.length;
                }
                comma = dsn < 0 ? indexOf(b, comma + 1, end, COMMAS) : comma;
            }
            int statusWord = dsn < 0 ? -1 : field(b, dsn, end, STATUS);
            if (statusWord < 0 || relayEnd - relay == 4 && b[relay] == 'n' && b[relay + 1] == 'o') {
                return;
            }
            if (!includeLoopback && isLoopback(b, relay, relayEnd)) {
                tally.loopback++;
                return;
            }
            int statusEnd = wordEnd(b, statusWord, end);
            int outcome = outcome(b, statusWord, statusEnd);
            if (outcome < 0 || tooOld(b, from, tag)) {
                return;
            }
            int tlsClass = tlsClass(b, pid, qid, qidEnd, hashLower(b, relay, relayEnd), tls,
                    dsn);
            if (detail != null) {
                detail(b, from, tag, pid, qid, qidEnd, rcpt, relay, relayEnd, dsn, statusWord,
                        statusEnd, end, tlsClass);
            }
            if (outcome != 0 && find(b, statusEnd, end, TLS) >= 0) {
                if (find(b, statusEnd, end, CANNOT_START_TLS) >= 0) {
                    tally.cannotStartTls++;
                }
                if (outcome == 1) {
                    tally.tlsDeferrals++;
                } else {
                    tally.tlsBounces++;
                }
                return;
            }
            count(b, from, tag, rcpt, relay, relayEnd, outcome, tlsClass);
        }

        /** Where the value of the first field "NAME=" after {@code from} starts, or -1. */
        private static int field(byte[] b, int from, int end, byte[] name) {
            for (int comma = indexOf(b, from, end, COMMAS); comma >= 0;
                    comma = indexOf(b, comma + 1, end, COMMAS)) {
                if (startsWith(b, comma + 2, end, name)) {
                    return comma + 2 + name.length;
                }
            }
            return -1;
        }

        private void count(byte[] b, int from, int tag, int rcpt, int relay, int relayEnd,
                int outcome, int tlsClass) {
            tally.deliveries++;
            switch (outcome) {
                case 0 -> tally.sent++;
                case 1 -> tally.deferred++;
                default -> tally.bounced++;
            }
            tally.byClass[tlsClass]++;
            int domainEnd = relay - RELAY.length;
            while (domainEnd > rcpt && b[domainEnd] != '>') {
                domainEnd--;
            }
            int domain = domainEnd;
            while (domain > rcpt && b[domain - 1] != '@') {
                domain--;
            }
            if (domain == rcpt) {
                domain = domainEnd;
            }
            tally.count(b, domain, domainEnd, hashLower(b, domain, domainEnd), tlsClass);
            if (tlsClass == CLEARTEXT) {
                int start = lineStart(b, from, tag);
                tally.listCleartext(b, start, relayEnd, timeEnd(b, start, tag), domain,
                        domainEnd, relay, relayEnd);
            }
        }

        /** 0 sent, 1 deferred, 2 bounced, -1 any other status (expired, undeliverable...). */
        private static int outcome(byte[] b, int start, int end) {
            int length = end - start;
            if (length == 4 && b[start] == 's' && b[start + 1] == 'e' && b[start + 2] == 'n') {
                return 0;
            }
            if (length == 8 && b[start] == 'd' && b[start + 2] == 'f') {
                return 1;
            }
            if (length == 7 && b[start] == 'b' && b[start + 1] == 'o') {
                return 2;
            }
            return -1;
        }

        /**
         * The trust class of a delivery: that of the TLS session its smtp process announced
         * for the same relay and for no other message; Postfix 3.11's tls= field overrides.
         */
        private int tlsClass(byte[] b, int pid, int qid, int qidEnd, long relayHash, int tls,
                int dsn) {
            int slot = sessions.find(pid);
            int fromSession = CLEARTEXT;
            if (slot >= 0 && sessions.relayHash[slot] == relayHash) {
                long queueId = hashLower(b, qid, qidEnd) | 1;
                if (sessions.queueIdHash[slot] == 0 || sessions.queueIdHash[slot] == queueId) {
                    sessions.queueIdHash[slot] = queueId;
                    fromSession = sessions.tlsClass[slot];
                }
            }
            return tls < 0 ? fromSession : FeatureStatus.tlsClass(b, tls, dsn, fromSession);
        }

        private void detail(byte[] b, int from, int tag, int pid, int qid, int qidEnd, int rcpt,
                int relay, int relayEnd, int dsn, int status, int statusEnd, int end,
                int tlsClass) {
            int slot = sessions.find(pid);
            String protocol = null;
            String cipher = null;
            if (tlsClass != CLEARTEXT && slot >= 0 && sessions.details[slot] != null) {
                byte[] details = sessions.details[slot];
                int length = sessions.protocolLength[slot];
                protocol = text(details, 0, length);
                cipher = text(details, Math.min(details.length, length + WITH_CIPHER.length),
                        details.length);
            }
            int rcptEnd = rcpt;
            while (rcptEnd < relay && b[rcptEnd] != '>') {
                rcptEnd++;
            }
            int start = lineStart(b, from, tag);
            detail.accept(new Delivery(text(b, start, timeEnd(b, start, tag)),
                    text(b, qid, qidEnd), text(b, rcpt, rcptEnd), text(b, relay, relayEnd),
                    text(b, status, statusEnd), text(b, dsn, wordEnd(b, dsn, end) - 1),
                    replyText(b, statusEnd, end), TLS_CLASSES[tlsClass], protocol, cipher));
        }

        /** Whether --since leaves this line out; lines without a readable time stay in. */
        private boolean tooOld(byte[] b, int from, int tag) {
            if (sinceEpoch == Long.MIN_VALUE) {
                return false;
            }
            long time = LogTime.epoch(b, lineStart(b, from, tag), tag);
            return time != Long.MIN_VALUE && time < sinceEpoch;
        }

        /** A relay on this host: content filters such as amavis on 127.0.0.1:10024. */
        static boolean isLoopback(byte[] b, int start, int end) {
            int addr = start;
            while (addr < end && b[addr] != '[') {
                addr++;
            }
            if (addr == end) {
                return false;
            }
            addr++;
            for (var prefix : LOOPBACK) {
                if (startsWith(b, addr, end, prefix)) {
                    return true;
                }
            }
            return startsWith(b, start, end, LOCALHOST);
        }

        private static String replyText(byte[] b, int statusEnd, int end) {
            int open = statusEnd + 1;
            if (open >= end || b[statusEnd] != ' ' || b[open] != '(') {
                return "";
            }
            int close = end;
            while (close > open && b[close - 1] != ')') {
                close--;
            }
            return text(b, open + 1, close > open + 1 ? close - 1 : end);
        }

        private static int lineStart(byte[] b, int from, int pos) {
            int i = pos;
            while (i > from && b[i - 1] != '\n') {
                i--;
            }
            return i;
        }

        /** Where the time stamp ends: before the host name that precedes the tag. */
        private static int timeEnd(byte[] b, int start, int tag) {
            int host = tag - 1;
            while (host > start && b[host - 1] != ' ') {
                host--;
            }
            int end = host;
            while (end > start && b[end - 1] == ' ') {
                end--;
            }
            return end;
        }

        private static int wordEnd(byte[] b, int start, int end) {
            int i = start;
            while (i < end && b[i] != ' ') {
                i++;
            }
            return i;
        }

        static boolean isAlnum(byte c) {
            return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z';
        }

        static boolean startsWith(byte[] b, int at, int end, byte[] prefix) {
            if (end - at < prefix.length) {
                return false;
            }
            for (int i = 0; i < prefix.length; i++) {
                if (b[at + i] != prefix[i]) {
                    return false;
                }
            }
            return true;
        }

        static int find(byte[] b, int from, int end, byte[] needle) {
            byte first = needle[0];
            for (int i = from; i <= end - needle.length; i++) {
                if (b[i] == first && startsWith(b, i, end, needle)) {
                    return i;
                }
            }
            return -1;
        }

        /** A 64-bit hash of b[start, end) that ignores ASCII case, eight bytes at a time. */
        static long hashLower(byte[] b, int start, int end) {
            long h = 0x9E3779B97F4A7C15L ^ (end - start);
            int i = start;
            for (; i <= end - 8; i += 8) {
                long word = (long) LONGS.get(b, i) | 0x2020202020202020L;
                h = Long.rotateLeft((h ^ word) * 0xff51afd7ed558ccdL, 29);
            }
            long tail = 0;
            for (; i < end; i++) {
                tail = tail << 8 | ((b[i] | 0x20) & 0xff);
            }
            h = (h ^ tail) * 0xc4ceb9fe1a85ec53L;
            return h ^ h >>> 32;
        }

        static String text(byte[] b, int start, int end) {
            return new String(b, start, Math.max(0, end - start), StandardCharsets.UTF_8);
        }

        static byte[] ascii(String s) {
            return s.getBytes(StandardCharsets.US_ASCII);
        }
    }

    /**
     * Postfix 3.11's tls= field of a delivery line: LEVEL[?][:DOWNGRADE][/requiretls...],
     * "!" first when the policy was violated. The effective level "none" means cleartext.
     */
    static final class FeatureStatus {
        private static final byte[] NONE = LogScanner.ascii("none");

        private FeatureStatus() {
        }

        static int tlsClass(byte[] b, int start, int end, int fromSession) {
            int i = start < end && b[start] == '!' ? start + 1 : start;
            int levelEnd = wordEnd(b, i, end);
            if (levelEnd < end && b[levelEnd] == '?') {
                return fromSession;
            }
            int effective = i;
            int effectiveEnd = levelEnd;
            if (levelEnd < end && b[levelEnd] == ':') {
                effective = levelEnd + 1;
                effectiveEnd = wordEnd(b, effective, end);
            }
            if (effectiveEnd - effective == NONE.length
                    && LogScanner.startsWith(b, effective, effectiveEnd, NONE)) {
                return CLEARTEXT;
            }
            if (fromSession != CLEARTEXT) {
                return fromSession;
            }
            return switch (LogScanner.text(b, effective, effectiveEnd)) {
                case "dane", "dane-only", "fingerprint", "verify", "secure" -> 0;
                case "halfdane" -> 1;
                default -> UNKNOWN_TRUST;
            };
        }

        private static int wordEnd(byte[] b, int start, int end) {
            int i = start;
            while (i < end && (LogScanner.isAlnum(b[i]) || b[i] == '-' || b[i] == '_')) {
                i++;
            }
            return i;
        }
    }

    /**
     * Time stamps at the start of a log line: syslog's "Dec  3 15:04:05", as maillog_file
     * and journalctl -o short write it too (the year is guessed: this year, or last year for
     * a date in the future), and ISO 8601 as rsyslog and journalctl -o short-iso write it.
     */
    static final class LogTime {
        private static final String MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";
        private static final java.time.ZoneId ZONE = java.time.ZoneId.systemDefault();
        private static final java.time.ZonedDateTime NOW = java.time.ZonedDateTime.now(ZONE);

        private LogTime() {
        }

        /** Seconds since the epoch, or Long.MIN_VALUE when the line starts otherwise. */
        static long epoch(byte[] b, int start, int end) {
            try {
                if (end - start >= 19 && digits(b, start, 4) >= 0 && b[start + 4] == '-') {
                    return iso(b, start, end);
                }
                if (end - start >= 15 && b[start + 3] == ' ') {
                    return syslog(b, start);
                }
            } catch (java.time.DateTimeException e) {
                return Long.MIN_VALUE;
            }
            return Long.MIN_VALUE;
        }

        private static long syslog(byte[] b, int s) {
            int month = MONTHS.indexOf(new String(b, s, 3, StandardCharsets.US_ASCII));
            int day = b[s + 4] == ' ' ? digits(b, s + 5, 1) : digits(b, s + 4, 2);
            int hour = digits(b, s + 7, 2);
            int minute = digits(b, s + 10, 2);
            int second = digits(b, s + 13, 2);
            if (month < 0 || month % 3 != 0 || day < 1 || hour < 0 || minute < 0 || second < 0) {
                return Long.MIN_VALUE;
            }
            var time = java.time.ZonedDateTime.of(NOW.getYear(), month / 3 + 1, day, hour,
                    minute, second, 0, ZONE);
            if (time.isAfter(NOW.plusDays(2))) {
                time = time.minusYears(1);
            }
            return time.toEpochSecond();
        }

        private static long iso(byte[] b, int s, int end) {
            int year = digits(b, s, 4);
            int month = digits(b, s + 5, 2);
            int day = digits(b, s + 8, 2);
            int hour = digits(b, s + 11, 2);
            int minute = digits(b, s + 14, 2);
            int second = digits(b, s + 17, 2);
            if (month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
                return Long.MIN_VALUE;
            }
            var local = java.time.LocalDateTime.of(year, month, day, hour, minute, second);
            int i = s + 19;
            while (i < end && (b[i] == '.' || b[i] >= '0' && b[i] <= '9')) {
                i++;
            }
            if (i < end && b[i] == 'Z') {
                return local.toEpochSecond(java.time.ZoneOffset.UTC);
            }
            if (i + 4 < end && (b[i] == '+' || b[i] == '-')) {
                int hours = digits(b, i + 1, 2);
                int minutes = b[i + 3] == ':' ? digits(b, i + 4, 2) : digits(b, i + 3, 2);
                int sign = b[i] == '-' ? -1 : 1;
                if (hours >= 0 && minutes >= 0) {
                    var offset = java.time.ZoneOffset.ofHoursMinutes(sign * hours,
                            sign * minutes);
                    return local.toEpochSecond(offset);
                }
            }
            return local.atZone(ZONE).toEpochSecond();
        }

        private static int digits(byte[] b, int start, int count) {
            int value = 0;
            for (int i = start; i < start + count; i++) {
                if (b[i] < '0' || b[i] > '9') {
                    return -1;
                }
                value = value * 10 + (b[i] - '0');
            }
            return value;
        }

        /**
         * --since: "30m", "2h", "7d", "1w" before now, or a local date and time
         * "2026-12-01", "2026-12-01 08:00", "2026-12-01T08:00:00".
         */
        static long parseSince(String text, java.time.Instant now) {
            var relative = java.util.regex.Pattern.compile("(\\d{1,6})\\s*([smhdw])")
                    .matcher(text.trim());
            if (relative.matches()) {
                long n = Long.parseLong(relative.group(1));
                long unit = switch (relative.group(2)) {
                    case "s" -> 1;
                    case "m" -> 60;
                    case "h" -> 3600;
                    case "d" -> 86_400;
                    default -> 604_800;
                };
                return now.getEpochSecond() - n * unit;
            }
            try {
                var normal = text.trim().replace(' ', 'T');
                var local = normal.contains("T")
                        ? java.time.LocalDateTime.parse(normal.length() == 16 ? normal + ":00"
                        : normal)
                        : java.time.LocalDate.parse(normal).atStartOfDay();
                return local.atZone(ZONE).toEpochSecond();
            } catch (java.time.format.DateTimeParseException e) {
                throw new Failure(EXIT_USAGE, "--since '" + text + "' is not a time: give an"
                        + " age such as 30m, 2h, 7d or 1w, or a date such as 2026-12-01 or"
                        + " '2026-12-01 08:00'.");
            }
        }
    }

    /** Where log lines come from: a file (gzip or plain), standard input, or journald. */
    record LogSource(String name, Path file, List<String> command) {
        static LogSource file(Path path) {
            return new LogSource(path.toString(), path, null);
        }

        static LogSource stdin() {
            return new LogSource("standard input", null, null);
        }

        static LogSource journal(long sinceEpoch) {
            var command = new ArrayList<>(List.of("journalctl", "--no-pager", "--quiet",
                    "--output=short-iso", "SYSLOG_FACILITY=2"));
            if (sinceEpoch != Long.MIN_VALUE) {
                command.add("--since=@" + sinceEpoch);
            }
            return new LogSource("journald (journalctl)", null, command);
        }
    }

    /** Finds the log Postfix writes and its rotated predecessors, oldest first. */
    static final class LogFiles {
        private static final java.util.regex.Pattern ROTATED =
                java.util.regex.Pattern.compile("(.*?)(?:([.-])(\\d+))?(?:\\.gz)?");

        private LogFiles() {
        }

        /** maillog_file if Postfix logs there, else mail.log or maillog, else journald. */
        static List<LogSource> defaults(Path configDir, long sinceEpoch) {
            var maillog = postconf(configDir, "maillog_file");
            var candidates = new ArrayList<Path>();
            if (!maillog.isEmpty() && !maillog.startsWith("/dev/")) {
                candidates.add(Path.of(maillog));
            }
            candidates.add(Path.of("/var/log/mail.log"));
            candidates.add(Path.of("/var/log/maillog"));
            for (var candidate : candidates) {
                if (java.nio.file.Files.exists(candidate)) {
                    debug("reading " + candidate + " and its rotated files");
                    return withRotated(candidate, sinceEpoch);
                }
            }
            if (findProgram("journalctl") != null) {
                debug("no log file found; reading journald");
                return List.of(LogSource.journal(sinceEpoch));
            }
            throw new Failure(EXIT_NO_POSTFIX, "found no mail log: neither maillog_file, nor"
                    + " /var/log/mail.log or /var/log/maillog, nor journald; name the log"
                    + " file on the command line.");
        }

        /** A parameter's expanded value from postconf, or "" when postconf cannot tell. */
        static String postconf(Path configDir, String parameter) {
            var postconf = findProgram("postconf");
            if (postconf == null) {
                return "";
            }
            var command = new ArrayList<>(List.of(postconf));
            if (configDir != null) {
                command.addAll(List.of("-c", configDir.toString()));
            }
            command.addAll(List.of("-xh", parameter));
            try {
                var result = run(command, Duration.ofSeconds(20));
                return result.ok() ? result.out().trim() : "";
            } catch (Failure e) {
                debug(e.getMessage());
                return "";
            }
        }

        /** The file and its rotated siblings (mail.log.1, mail.log.2.gz, mail.log-DATE). */
        static List<LogSource> withRotated(Path log, long sinceEpoch) {
            var dir = log.toAbsolutePath().getParent();
            var name = log.getFileName().toString();
            var files = new ArrayList<Path>();
            try (var entries = java.nio.file.Files.newDirectoryStream(dir, name + "[.-]*")) {
                for (var entry : entries) {
                    var m = ROTATED.matcher(entry.getFileName().toString());
                    if (m.matches() && m.group(1).equals(name) && m.group(3) != null) {
                        files.add(entry);
                    }
                }
            } catch (IOException e) {
                debug("cannot list " + dir + ": " + e.getMessage());
            }
            files.add(log);
            var sources = new ArrayList<LogSource>();
            for (var file : oldestFirst(files)) {
                if (sinceEpoch == Long.MIN_VALUE || file.equals(log)
                        || modified(file) >= sinceEpoch) {
                    sources.add(LogSource.file(file));
                }
            }
            return sources;
        }

        private static long modified(Path file) {
            try {
                return java.nio.file.Files.getLastModifiedTime(file).toInstant()
                        .getEpochSecond();
            } catch (IOException e) {
                return Long.MAX_VALUE;
            }
        }

        /**
         * Orders rotated files oldest first: mail.log.3.gz, mail.log.2, mail.log.1, mail.log;
         * and mail.log-20261101, mail.log-20261201, mail.log. Other files keep their order.
         */
        static List<Path> oldestFirst(List<Path> files) {
            var bases = new ArrayList<String>();
            var sorted = new ArrayList<>(files);
            java.util.function.ToLongFunction<Path> age = path -> {
                var m = ROTATED.matcher(path.toString());
                if (!m.matches() || m.group(3) == null || m.group(3).length() > 12) {
                    return Long.MIN_VALUE;
                }
                long n = Long.parseLong(m.group(3));
                return m.group(2).equals(".") ? n : Long.MAX_VALUE / 2 - n;
            };
            java.util.function.Function<Path, String> base = path -> {
                var m = ROTATED.matcher(path.toString());
                var key = m.matches() ? m.group(1) : path.toString();
                if (!bases.contains(key)) {
                    bases.add(key);
                }
                return key;
            };
            files.forEach(base::apply);
            sorted.sort(java.util.Comparator
                    .<Path>comparingInt(path -> bases.indexOf(base.apply(path)))
                    .thenComparing(java.util.Comparator.comparingLong(age).reversed()));
            return sorted;
        }
    }

    /**
     * Reads the sources on its own thread into a few reused buffers, each handed over
     * holding whole lines only. The byte scan for smtp client lines is split between the
     * reader thread and the parser thread, so reading and decoding share two cores evenly.
     */
    static final class LogReader implements Runnable {
        static final int CHUNK = 4 << 20;
        private static final Chunk END = new Chunk(0);
        private static final long PROGRESS_FROM = 64L << 20;

        private final List<LogSource> sources;
        private final java.util.concurrent.BlockingQueue<Chunk> full =
                new java.util.concurrent.ArrayBlockingQueue<>(4);
        private final java.util.concurrent.BlockingQueue<Chunk> free =
                new java.util.concurrent.ArrayBlockingQueue<>(4);
        private volatile RuntimeException failure;
        private final Progress progress;

        LogReader(List<LogSource> sources) {
            this.sources = sources;
            for (int i = 0; i < 3; i++) {
                free.add(new Chunk(CHUNK));
            }
            long total = 0;
            for (var source : sources) {
                total += source.file() == null ? 0 : sizeOf(source.file());
            }
            progress = total >= PROGRESS_FROM && stderrIsTerminal() ? new Progress(total) : null;
        }

        /** Reads every source through {@code scanner} and returns its tally. */
        static LogTally scan(List<LogSource> sources, LogScanner scanner) {
            var reader = new LogReader(sources);
            var thread = new Thread(reader, "sac-tls-log-reader");
            thread.setDaemon(true);
            thread.start();
            var firstHalf = new Tags();
            try {
                for (var chunk = reader.full.take(); chunk != END; chunk = reader.full.take()) {
                    LogScanner.findTags(chunk.bytes, 0, chunk.middle, firstHalf);
                    scanner.scanTags(chunk.bytes, 0, chunk.length, firstHalf);
                    scanner.scanTags(chunk.bytes, 0, chunk.length, chunk.tags);
                    reader.free.put(chunk);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Failure(EXIT_IO, "interrupted while reading the mail log.");
            }
            if (reader.failure != null) {
                throw reader.failure;
            }
            return scanner.tally;
        }

        @Override
        public void run() {
            try {
                for (var source : sources) {
                    read(source);
                }
            } catch (RuntimeException e) {
                failure = e;
            } catch (InterruptedException e) {
                failure = new Failure(EXIT_IO, "interrupted while reading the mail log.");
            } finally {
                if (progress != null) {
                    progress.done();
                }
                full.offer(END);
            }
        }

        private void read(LogSource source) throws InterruptedException {
            debug("reading " + source.name());
            var chunk = free.take();
            int length = 0;
            try (var input = LogInput.open(source)) {
                while (true) {
                    int n = input.read(chunk.bytes, length, chunk.bytes.length - length);
                    if (n < 0) {
                        break;
                    }
                    length += n;
                    if (progress != null) {
                        progress.show(source, input.position());
                    }
                    if (length == chunk.bytes.length) {
                        chunk = handOver(chunk, length);
                        length = carried;
                    }
                }
            } catch (java.util.zip.ZipException | java.io.EOFException e) {
                warn(source.name() + " ends early or is not valid gzip (" + e.getMessage()
                        + "); counted the lines before that point.");
            } catch (IOException e) {
                free.put(chunk);
                throw LogInput.failure(source, e);
            }
            pass(chunk, length);
        }

        private int carried;

        /** Passes the whole lines on, returning a fresh buffer that starts with the rest. */
        private Chunk handOver(Chunk chunk, int length) throws InterruptedException {
            int cut = length;
            while (cut > 0 && chunk.bytes[cut - 1] != '\n') {
                cut--;
            }
            if (cut == 0) {
                cut = length;
            }
            var next = free.take();
            carried = length - cut;
            System.arraycopy(chunk.bytes, cut, next.bytes, 0, carried);
            pass(chunk, cut);
            return next;
        }

        /**
         * Finds the smtp client lines in the second half of the buffer, then queues it for
         * the parser thread, which does the first half: so both threads share the work.
         */
        private void pass(Chunk chunk, int length) throws InterruptedException {
            if (length == 0) {
                free.put(chunk);
                return;
            }
            int newline = LogScanner.indexOf(chunk.bytes, length / 2, length,
                    0x0101010101010101L * '\n');
            chunk.length = length;
            chunk.middle = newline < 0 ? length : newline + 1;
            LogScanner.findTags(chunk.bytes, chunk.middle, length, chunk.tags);
            full.put(chunk);
        }

        static long sizeOf(Path file) {
            try {
                return java.nio.file.Files.size(file);
            } catch (IOException e) {
                return 0;
            }
        }

        /** Whether stderr is a terminal (Linux: where /proc/self/fd/2 points). */
        static boolean stderrIsTerminal() {
            try {
                var target = java.nio.file.Files.readSymbolicLink(Path.of("/proc/self/fd/2"))
                        .toString();
                return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
            } catch (IOException | UnsupportedOperationException e) {
                return false;
            }
        }
    }

    /** A progress line on stderr (a terminal) while a large log is read. */
    static final class Progress {
        private final long total;
        private long lastShown;
        private long before;
        private LogSource current;

        Progress(long total) {
            this.total = total;
        }

        /** Shows how far the reader got: {@code position} bytes into {@code source}. */
        void show(LogSource source, long position) {
            if (source != current) {
                before += current == null || current.file() == null ? 0
                        : LogReader.sizeOf(current.file());
                current = source;
            }
            long now = System.nanoTime();
            if (position >= 0 && now - lastShown > 250_000_000L) {
                lastShown = now;
                System.err.printf("\rsac-tls: reading the mail log: %d%% of %d MiB ",
                        Math.min(100, (before + position) * 100 / total), total >> 20);
            }
        }

        void done() {
            System.err.print("\r" + " ".repeat(60) + "\r");
        }
    }

    /** One opened source: reads bytes, and tells how far into its file it got. */
    static final class LogInput implements java.io.Closeable {
        private final java.nio.channels.FileChannel channel;
        private final InputStream stream;
        private final Process process;

        private LogInput(java.nio.channels.FileChannel channel, InputStream stream,
                Process process) {
            this.channel = channel;
            this.stream = stream;
            this.process = process;
        }

        /** Opens a source; a file is read as gzip when it starts with gzip's magic bytes. */
        static LogInput open(LogSource source) throws IOException {
            if (source.command() != null) {
                var process = new ProcessBuilder(source.command())
                        .redirectError(ProcessBuilder.Redirect.DISCARD)
                        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                        .start();
                return new LogInput(null, process.getInputStream(), process);
            }
            var channel = source.file() == null
                    ? new java.io.FileInputStream(java.io.FileDescriptor.in).getChannel()
                    : java.nio.channels.FileChannel.open(source.file());
            var head = java.nio.ByteBuffer.allocate(2);
            if (source.file() != null) {
                channel.read(head, 0);
            }
            if (head.position() == 2 && head.get(0) == (byte) 0x1f && head.get(1) == (byte) 0x8b) {
                var in = java.nio.channels.Channels.newInputStream(channel);
                return new LogInput(channel, new java.util.zip.GZIPInputStream(in, 1 << 16),
                        null);
            }
            return new LogInput(channel, null, null);
        }

        int read(byte[] buffer, int offset, int length) throws IOException {
            if (stream != null) {
                return stream.read(buffer, offset, length);
            }
            return channel.read(java.nio.ByteBuffer.wrap(buffer, offset, length));
        }

        /** How far into its file (compressed bytes for gzip) it has read, or -1. */
        long position() {
            try {
                return channel == null ? -1 : channel.position();
            } catch (IOException e) {
                return -1;
            }
        }

        @Override
        public void close() throws IOException {
            if (stream != null) {
                stream.close();
            }
            if (channel != null) {
                channel.close();
            }
            if (process != null) {
                finish(process);
            }
        }

        /** journalctl's exit status: a failure is worth a warning, as it looks like no mail. */
        private static void finish(Process process) {
            try {
                if (!process.waitFor(5, TimeUnit.SECONDS)) {
                    process.destroy();
                } else if (process.exitValue() != 0) {
                    warn("journalctl failed (status " + process.exitValue() + "); run sac-tls"
                            + " as root or as a member of the systemd-journal or adm group.");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroy();
            }
        }

        static Failure failure(LogSource source, IOException e) {
            if (e instanceof java.nio.file.NoSuchFileException) {
                return new Failure(EXIT_USAGE, "cannot read " + source.name()
                        + ": there is no such file.", e);
            }
            if (e instanceof java.nio.file.AccessDeniedException) {
                return new Failure(EXIT_PERMISSION, "cannot read " + source.name()
                        + ": permission denied; run sac-tls as root (sudo) or as a member of"
                        + " the group that may read the mail log (adm on Debian).", e);
            }
            return new Failure(EXIT_IO, "cannot read " + source.name() + ": "
                    + e.getMessage() + ".", e);
        }
    }

    /** The report of a scan: text for a person, or the same as JSON. */
    static final class LogReport {
        static final int DOMAINS_SHOWN = 20;
        static final int CLEARTEXT_SHOWN = 20;

        private LogReport() {
        }

        static Map<String, Object> json(LogTally tally, List<LogSource> sources) {
            var json = new java.util.LinkedHashMap<String, Object>();
            json.put("sources", sources.stream().map(LogSource::name).toList());
            json.put("deliveries", tally.deliveries);
            json.put("encrypted", tally.encrypted());
            json.put("cleartext", tally.byClass[CLEARTEXT]);
            var byClass = new java.util.LinkedHashMap<String, Object>();
            for (int i = 0; i < TLS_CLASSES.length; i++) {
                byClass.put(TLS_CLASSES[i], tally.byClass[i]);
            }
            json.put("byClass", byClass);
            var byStatus = new java.util.LinkedHashMap<String, Object>();
            byStatus.put("sent", tally.sent);
            byStatus.put("deferred", tally.deferred);
            byStatus.put("bounced", tally.bounced);
            json.put("byStatus", byStatus);
            json.put("cannotStartTls", tally.cannotStartTls);
            json.put("tlsDeferrals", tally.tlsDeferrals);
            json.put("tlsBounces", tally.tlsBounces);
            json.put("tlsSummaryLines", tally.tlsLines);
            json.put("loopbackLeftOut", tally.loopback);
            var domains = new ArrayList<Object>();
            for (var row : tally.domainsByVolume()) {
                var domain = new java.util.LinkedHashMap<String, Object>();
                domain.put("domain", row.domain());
                domain.put("deliveries", row.deliveries());
                domain.put("encrypted", row.encrypted());
                domains.add(domain);
            }
            json.put("domains", domains);
            var listed = new ArrayList<Object>();
            for (var delivery : tally.cleartextList()) {
                var item = new java.util.LinkedHashMap<String, Object>();
                item.put("time", delivery.time());
                item.put("domain", delivery.domain());
                item.put("relay", delivery.relay());
                listed.add(item);
            }
            json.put("cleartextDeliveries", listed);
            json.put("cleartextNotListed", tally.byClass[CLEARTEXT] - listed.size());
            return json;
        }

        static void text(LogTally tally, List<LogSource> sources, java.io.PrintStream out) {
            out.println("Read: " + String.join(", ", sources.stream().map(LogSource::name)
                    .toList()));
            out.printf("Remote deliveries by the smtp client: %d%n", tally.deliveries);
            if (tally.deliveries == 0) {
                return;
            }
            out.printf("  encrypted   %8d  (%s)%n", tally.encrypted(),
                    percent(tally.encrypted(), tally.deliveries));
            for (int i = 0; i < TLS_CLASSES.length; i++) {
                if (i != CLEARTEXT && (i != UNKNOWN_TRUST || tally.byClass[i] > 0)) {
                    out.printf("    %-9s %8d%n", TLS_CLASSES[i], tally.byClass[i]);
                }
            }
            var cleartext = tally.byClass[CLEARTEXT];
            out.println(style((cleartext > 0 ? "@|bold,red " : "@|green ")
                    + String.format("  cleartext   %8d  (%s)", cleartext,
                    percent(cleartext, tally.deliveries)) + "|@"));
            out.printf("Cannot start TLS: %d; attempts deferred for a TLS reason: %d,"
                    + " bounced: %d%n", tally.cannotStartTls, tally.tlsDeferrals,
                    tally.tlsBounces);
            if (tally.loopback > 0) {
                out.printf("Left out: %d deliveries to relays on this host (content filters"
                        + " such as amavis).%n", tally.loopback);
            }
            domains(tally, out);
            cleartextList(tally, out);
        }

        private static void domains(LogTally tally, java.io.PrintStream out) {
            var rows = tally.domainsByVolume();
            int width = 20;
            for (var row : rows.subList(0, Math.min(DOMAINS_SHOWN, rows.size()))) {
                width = Math.max(width, Math.min(50, row.domain().length()));
            }
            out.println();
            out.printf("%-" + width + "s %10s %10s%n", "Domain", "Deliveries", "Encrypted");
            for (var row : rows.subList(0, Math.min(DOMAINS_SHOWN, rows.size()))) {
                out.printf("%-" + width + "s %10d %10d  %s%n", clean(row.domain()),
                        row.deliveries(), row.encrypted(), percent(row.encrypted(),
                        row.deliveries()));
            }
            if (rows.size() > DOMAINS_SHOWN) {
                out.printf("... and %d more domains (--json lists them all).%n",
                        rows.size() - DOMAINS_SHOWN);
            }
        }

        private static void cleartextList(LogTally tally, java.io.PrintStream out) {
            long cleartext = tally.byClass[CLEARTEXT];
            if (cleartext == 0) {
                return;
            }
            var newest = tally.cleartextList();
            newest = new ArrayList<>(newest.subList(Math.max(0, newest.size()
                    - CLEARTEXT_SHOWN), newest.size()));
            out.println();
            out.println("Cleartext deliveries" + (cleartext > newest.size()
                    ? " (the newest " + newest.size() + " of " + cleartext + "):" : ":"));
            for (var delivery : newest) {
                out.printf("  %s  %s  via %s%n", clean(delivery.time()),
                        clean(delivery.domain()), clean(delivery.relay()));
            }
            if (cleartext > newest.size()) {
                out.printf("  ... %d more not shown.%n", cleartext - newest.size());
            }
        }

        private static String percent(long part, long whole) {
            if (whole == 0) {
                return "-";
            }
            double share = 100.0 * part / whole;
            return part != whole && share > 99.9 ? ">99.9%" : part != 0 && share < 0.1
                    ? "<0.1%" : String.format(java.util.Locale.ROOT, "%.1f%%", share);
        }
    }

    /**
     * What became of a test mail sent by {@link #proveDelivery}: its last delivery attempt
     * by the smtp client, or null with the reason none was seen.
     */
    record DeliveryProof(String address, String messageId, String queueId, Delivery delivery,
            String log, String problem) {
        boolean encrypted() {
            return delivery != null && delivery.encrypted();
        }

        /** 0 delivered over TLS, 1 in cleartext, 7 no delivery seen in time. */
        int exitCode() {
            return delivery == null ? EXIT_IO : encrypted() ? EXIT_OK : EXIT_UNENCRYPTED;
        }
    }

    private static final java.util.regex.Pattern ADDRESS =
            java.util.regex.Pattern.compile("[^\\s@<>()\"',;\\\\-][^\\s@<>()\"',;\\\\]*@"
                    + "[A-Za-z0-9.-]+");
    private static final java.util.regex.Pattern QUEUED_AS =
            java.util.regex.Pattern.compile("queued as ([0-9A-Za-z]+)");
    private static final Duration FILTER_GRACE = Duration.ofSeconds(2);

    /**
     * Sends a short test mail to {@code address} through the local Postfix (its sendmail,
     * with MAIL_CONFIG set to {@code configDir} when given), finds its queue ID in the mail
     * log by its unique Message-ID, and waits up to {@code timeout} for its delivery line.
     * A mail passed through a content filter on this host is followed to its re-queued ID.
     */
    static DeliveryProof proveDelivery(Path configDir, String address, Duration timeout) {
        requireAddress(address);
        var sources = LogFiles.defaults(configDir, Long.MIN_VALUE);
        var log = sources.get(sources.size() - 1);
        var host = LogFiles.postconf(configDir, "myhostname");
        var messageId = "<sac-tls." + System.currentTimeMillis() + "."
                + Long.toHexString(new java.security.SecureRandom().nextLong() >>> 1) + "@"
                + (host.isEmpty() ? "localhost" : host) + ">";
        var watch = new LogWatch(log, java.time.Instant.now().getEpochSecond() - 1, messageId);
        sendTestMail(configDir, address, messageId);

        var deadline = System.nanoTime() + timeout.toNanos();
        var queueIds = new java.util.LinkedHashSet<String>();
        Delivery last = null;
        long lastSeen = 0;
        while (System.nanoTime() < deadline) {
            var found = watch.poll(queueIds);
            if (found != null && found != last) {
                last = found;
                lastSeen = System.nanoTime();
                if (!last.status().equals("sent") || !followFilter(last, queueIds)) {
                    break;
                }
            }
            if (last != null && System.nanoTime() - lastSeen > FILTER_GRACE.toNanos()) {
                break;
            }
            sleep(200);
        }
        var queueId = queueIds.isEmpty() ? null : queueIds.iterator().next();
        String problem = last != null ? null : queueId == null
                ? "the test mail did not show up in " + log.name() + " within "
                    + timeout.toSeconds() + " seconds"
                : "Postfix took the test mail (queue ID " + queueId + ") but did not try to"
                    + " deliver it within " + timeout.toSeconds() + " seconds; see mailq";
        return new DeliveryProof(address, messageId, queueId, last, log.name(), problem);
    }

    /** Refuses what sendmail could not take as one recipient (or would read as an option). */
    static void requireAddress(String address) {
        if (!ADDRESS.matcher(address).matches()) {
            throw new Failure(EXIT_USAGE, "'" + address + "' is not a mail address such as"
                    + " you@gmail.com.");
        }
    }

    /** A delivery to a filter on this host that re-queued the mail: follow the new ID. */
    private static boolean followFilter(Delivery delivery, Set<String> queueIds) {
        var relay = delivery.relay().getBytes(StandardCharsets.UTF_8);
        var queued = QUEUED_AS.matcher(delivery.reply());
        if (!LogScanner.isLoopback(relay, 0, relay.length) || !queued.find()) {
            return false;
        }
        queueIds.add(queued.group(1));
        return true;
    }

    private static void sendTestMail(Path configDir, String address, String messageId) {
        var sendmail = LogFiles.postconf(configDir, "sendmail_path");
        var command = List.of(sendmail.isEmpty() ? "/usr/sbin/sendmail" : sendmail, "-i",
                "--", address);
        var date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME
                .format(java.time.ZonedDateTime.now());
        var message = "To: <" + address + ">\r\n"
                + "Subject: sac-tls delivery test " + messageId + "\r\n"
                + "Date: " + date + "\r\n"
                + "Message-ID: " + messageId + "\r\n"
                + "\r\n"
                + "This message tests whether this server hands its mail over with TLS.\r\n"
                + "It was sent by sac-tls; you may delete it.\r\n";
        var environment = configDir == null ? Map.<String, String>of()
                : Map.of("MAIL_CONFIG", configDir.toString());
        var result = run(command, Duration.ofSeconds(60),
                message.getBytes(StandardCharsets.UTF_8), environment);
        if (!result.ok()) {
            throw new Failure(EXIT_IO, "sendmail refused the test mail (status "
                    + result.status() + "): " + (result.out() + result.err()).trim());
        }
    }

    /**
     * Follows the log while a test mail is delivered: the new part of a log file (from its
     * size at the start), or journald's lines since the start.
     */
    static final class LogWatch {
        private final LogSource log;
        private final long startEpoch;
        private final java.util.regex.Pattern marker;
        private long offset;
        private final List<Delivery> deliveries = new ArrayList<>();
        private LogScanner scanner = new LogScanner(true, Long.MIN_VALUE, deliveries::add);

        /** Watches log for the queue IDs of the message with this Message-ID. */
        LogWatch(LogSource log, long startEpoch, String messageId) {
            this.log = log;
            this.startEpoch = startEpoch;
            this.marker = java.util.regex.Pattern.compile("([0-9A-Za-z]+): message-id="
                    + java.util.regex.Pattern.quote(messageId));
            try {
                offset = log.file() == null ? 0 : java.nio.file.Files.size(log.file());
            } catch (IOException e) {
                offset = 0;
            }
        }

        /** Reads what is new; returns the last delivery of the test mail seen so far. */
        Delivery poll(Set<String> queueIds) {
            var bytes = log.file() != null ? readNew() : readJournal();
            var found = marker.matcher(new String(bytes, StandardCharsets.UTF_8));
            while (found.find()) {
                queueIds.add(found.group(1));
            }
            scanner.scan(bytes, 0, bytes.length);
            Delivery last = null;
            for (var delivery : deliveries) {
                if (queueIds.contains(delivery.queueId())) {
                    last = delivery;
                }
            }
            return last;
        }

        private byte[] readNew() {
            try (var channel = java.nio.channels.FileChannel.open(log.file())) {
                if (channel.size() < offset) {
                    offset = 0;
                }
                long length = Math.min(channel.size() - offset, 64L << 20);
                var buffer = java.nio.ByteBuffer.allocate((int) length);
                channel.read(buffer, offset);
                int whole = buffer.position();
                while (whole > 0 && buffer.get(whole - 1) != '\n') {
                    whole--;
                }
                offset += whole;
                return java.util.Arrays.copyOf(buffer.array(), whole);
            } catch (IOException e) {
                throw LogInput.failure(log, e);
            }
        }

        private byte[] readJournal() {
            deliveries.clear();
            scanner = new LogScanner(true, Long.MIN_VALUE, deliveries::add);
            var result = run(LogSource.journal(startEpoch).command(), Duration.ofSeconds(30));
            return result.out().getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Tells a non-expert what became of the test mail and what to do next. */
    static void printProof(DeliveryProof proof, java.io.PrintStream out) {
        out.println("Test mail to " + clean(proof.address()) + " (Message-ID "
                + clean(proof.messageId()) + ")");
        var d = proof.delivery();
        if (d == null) {
            out.println(style("@|bold,yellow Not seen:|@ ") + clean(proof.problem()) + ".");
            out.println("Look in " + clean(proof.log()) + " for the Message-ID above, or run"
                    + " sac-tls log later.");
            return;
        }
        out.println("  queue ID   " + clean(d.queueId()) + ", status " + clean(d.status())
                + " (" + clean(d.reply()) + ")");
        out.println("  handed to  " + clean(d.relay()) + " at " + clean(d.time()));
        if (d.encrypted()) {
            out.println(style("@|bold,green Encrypted:|@ ") + "the mail travelled over TLS"
                    + (d.protocol() == null ? "" : ", " + clean(d.protocol()) + " with cipher "
                    + clean(d.cipher())) + ".");
            out.println("  trust      " + d.tlsClass());
            out.println("             " + trustMeaning(d.tlsClass()));
        } else {
            out.println(style("@|bold,red Cleartext:|@ ") + "this delivery did not use TLS;"
                    + " anyone on the path could read it.");
            out.println("  Run sac-tls fix to turn on opportunistic TLS, then test again.");
        }
        if (d.status().equals("deferred")) {
            out.println("  Postfix will try again later; this attempt was deferred.");
        }
        out.println("To see it from the receiver's side too, save the received message with all"
                + " its headers");
        out.println("and run: sac-tls check message.eml");
    }

    private static String trustMeaning(String tlsClass) {
        return switch (tlsClass) {
            case "Verified" -> "The receiver's certificate matched its name, as policy asked.";
            case "Trusted" -> "The receiver's certificate is signed by a known authority"
                    + " (its name was not required to match).";
            case "Untrusted" -> "Encrypted; the certificate was not checked, as usual for"
                    + " opportunistic TLS.";
            case "Anonymous" -> "Encrypted, but the receiver showed no certificate.";
            default -> "Encrypted; Postfix did not log how far the certificate was trusted.";
        };
    }

    // ----------------------------------------------------------------------------------
    // Shared plumbing
    // ----------------------------------------------------------------------------------

    /** The -c option of every command that works on a Postfix instance. */
    static final class ConfigDir {
        @Option(names = {"-c", "--config-dir"}, paramLabel = "DIR",
                description = "Postfix configuration directory (default: $MAIL_CONFIG, else"
                        + " Postfix's config_directory, usually /etc/postfix).")
        Path dir;
    }

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

    /**
     * The path of a program on PATH or in the sbin directories, where Postfix's commands
     * live but which a user's PATH often lacks; null when there is none.
     */
    static String findProgram(String name) {
        var dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"));
        for (var dir : dirs) {
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        return null;
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
        return run(command, timeout, null, Map.of());
    }

    /** The same, writing {@code input} (when not null) to its stdin, with extra environment. */
    static Result run(List<String> command, Duration timeout, byte[] input,
            Map<String, String> environment) {
        debug("running: " + (environment.isEmpty() ? "" : environment + " ")
                + String.join(" ", command));
        Process process;
        try {
            var builder = new ProcessBuilder(command);
            builder.environment().putAll(environment);
            if (input == null) {
                builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            }
            process = builder.start();
        } catch (IOException e) {
            throw new Failure(EXIT_NO_POSTFIX, "cannot run " + command.get(0) + ": "
                    + e.getMessage() + ".", e);
        }
        try {
            var out = readAllAsync(process.getInputStream());
            var err = readAllAsync(process.getErrorStream());
            if (input != null) {
                writeInput(process, input);
            }
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

    /** A program that exits without reading all its input is judged by its exit status. */
    private static void writeInput(Process process, byte[] input) {
        try (var in = process.getOutputStream()) {
            in.write(input);
        } catch (IOException e) {
            debug("the program stopped reading its input: " + e.getMessage());
        }
    }

    /** Waits, and turns an interruption (which nothing in sac-tls sends) into a Failure. */
    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(EXIT_IO, "interrupted while waiting.");
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
        err.println("Try '" + cmd.getCommandSpec().qualifiedName()
                + " --help' for more information.");
        err.flush();
        return EXIT_USAGE;
    }

    /** The commands, in the order --help lists them. */
    static final Map<String, Class<?>> COMMANDS = commands();

    private static Map<String, Class<?>> commands() {
        var commands = new java.util.LinkedHashMap<String, Class<?>>();
        commands.put("check", Check.class);
        commands.put("patch", Patch.class);
        commands.put("restart", Restart.class);
        commands.put("undo", Undo.class);
        commands.put("fix", Fix.class);
        commands.put("log", Log.class);
        return commands;
    }

    /**
     * Builds the command line with only the command being run, when the arguments name one:
     * picocli reads every registered command's annotations at start-up, and that reading is
     * most of sac-tls's own start-up time. Help, version and usage errors get them all.
     */
    static CommandLine commandLine(String... args) {
        var cmd = new CommandLine(new sac_tls());
        String first = null;
        for (var arg : args) {
            if (!arg.startsWith("-")) {
                first = arg;
                break;
            }
        }
        if (COMMANDS.containsKey(first)) {
            cmd.addSubcommand(first, COMMANDS.get(first));
        } else {
            COMMANDS.forEach(cmd::addSubcommand);
        }
        return cmd;
    }

    public static void main(String... args) {
        var cmd = commandLine(args)
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
