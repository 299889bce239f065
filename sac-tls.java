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
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

        @Option(names = {"-c", "--config-dir"}, paramLabel = "DIR",
                description = "Postfix configuration directory, to find its maillog_file"
                    + " (default: MAIL_CONFIG, or Postfix's own default).")
        Path configDir;

        @Option(names = "--include-loopback",
                description = "Count deliveries to relays on this host (127.0.0.1, ::1) too.")
        boolean includeLoopback;

        @Option(names = "--prove-send-to", hidden = true, paramLabel = "ADDRESS",
                description = "Test-only entry of the fix --send-to engine.")
        String proveSendTo;

        @Option(names = "--prove-timeout", hidden = true, paramLabel = "SECONDS",
                defaultValue = "60")
        int proveTimeout;

        @Override
        public Integer call() {
            var dir = configDir != null ? configDir : mailConfig();
            if (dir != null && !java.nio.file.Files.isRegularFile(dir.resolve("main.cf"))) {
                throw new Failure(EXIT_USAGE, dir + " holds no main.cf: give Postfix's"
                        + " configuration directory (usually /etc/postfix).");
            }
            if (proveSendTo != null) {
                var proof = proveDelivery(dir, proveSendTo, Duration.ofSeconds(proveTimeout));
                printProof(proof, System.out);
                return proof.exitCode();
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

    // (the check engine goes here)

    // ----------------------------------------------------------------------------------
    // Engine: main.cf and Postfix control
    // ----------------------------------------------------------------------------------

    // (the patch, restart and undo engine goes here)

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
            if (onPath("journalctl")) {
                debug("no log file found; reading journald");
                return List.of(LogSource.journal(sinceEpoch));
            }
            throw new Failure(EXIT_NO_POSTFIX, "found no mail log: neither maillog_file, nor"
                    + " /var/log/mail.log or /var/log/maillog, nor journald; name the log"
                    + " file on the command line.");
        }

        /** A parameter's expanded value from postconf, or "" when postconf cannot tell. */
        static String postconf(Path configDir, String parameter) {
            var command = new ArrayList<>(List.of("postconf"));
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

        private static boolean onPath(String program) {
            var path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
            for (var dir : path.split(":")) {
                if (!dir.isEmpty() && java.nio.file.Files.isExecutable(Path.of(dir, program))) {
                    return true;
                }
            }
            return false;
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
        if (!ADDRESS.matcher(address).matches()) {
            throw new Failure(EXIT_USAGE, "'" + address + "' is not a mail address such as"
                    + " you@gmail.com.");
        }
        var sources = LogFiles.defaults(configDir, Long.MIN_VALUE);
        var log = sources.get(sources.size() - 1);
        var watch = new LogWatch(log, java.time.Instant.now().getEpochSecond() - 1);
        var host = LogFiles.postconf(configDir, "myhostname");
        var messageId = "<sac-tls." + System.currentTimeMillis() + "."
                + Long.toHexString(new java.security.SecureRandom().nextLong() >>> 1) + "@"
                + (host.isEmpty() ? "localhost" : host) + ">";
        sendTestMail(configDir, address, messageId);

        var deadline = System.nanoTime() + timeout.toNanos();
        var queueIds = new java.util.LinkedHashSet<String>();
        Delivery last = null;
        long lastSeen = 0;
        while (System.nanoTime() < deadline) {
            var found = watch.poll(messageId, queueIds);
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
        debug("running: " + String.join(" ", command) + (configDir == null ? ""
                : " with MAIL_CONFIG=" + configDir));
        var date = java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME
                .format(java.time.ZonedDateTime.now());
        var message = "To: <" + address + ">\r\n"
                + "Subject: sac-tls delivery test " + messageId + "\r\n"
                + "Date: " + date + "\r\n"
                + "Message-ID: " + messageId + "\r\n"
                + "\r\n"
                + "This message tests whether this server hands its mail over with TLS.\r\n"
                + "It was sent by sac-tls; you may delete it.\r\n";
        try {
            var builder = new ProcessBuilder(command).redirectErrorStream(true);
            if (configDir != null) {
                builder.environment().put("MAIL_CONFIG", configDir.toString());
            }
            var process = builder.start();
            var output = readAllAsync(process.getInputStream());
            try (var in = process.getOutputStream()) {
                in.write(message.getBytes(StandardCharsets.UTF_8));
            }
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new Failure(EXIT_IO, "sendmail did not take the test mail within 60"
                        + " seconds.");
            }
            if (process.exitValue() != 0) {
                throw new Failure(EXIT_IO, "sendmail refused the test mail (status "
                        + process.exitValue() + "): " + output.get().trim());
            }
        } catch (IOException e) {
            throw new Failure(EXIT_NO_POSTFIX, "cannot run " + command.get(0) + ": "
                    + e.getMessage() + ".", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(EXIT_IO, "interrupted while sending the test mail.");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new Failure(EXIT_IO, "cannot read what sendmail said.", e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Failure(EXIT_IO, "interrupted while waiting for the test delivery.");
        }
    }

    /**
     * Follows the log while a test mail is delivered: the new part of a log file (from its
     * size at the start), or journald's lines since the start.
     */
    static final class LogWatch {
        private final LogSource log;
        private final long startEpoch;
        private long offset;
        private final List<Delivery> deliveries = new ArrayList<>();
        private LogScanner scanner = new LogScanner(true, Long.MIN_VALUE, deliveries::add);

        LogWatch(LogSource log, long startEpoch) {
            this.log = log;
            this.startEpoch = startEpoch;
            try {
                offset = log.file() == null ? 0 : java.nio.file.Files.size(log.file());
            } catch (IOException e) {
                offset = 0;
            }
        }

        /** Reads what is new; returns the last delivery of the test mail seen so far. */
        Delivery poll(String messageId, Set<String> queueIds) {
            var bytes = log.file() != null ? readNew() : readJournal();
            var text = new String(bytes, StandardCharsets.UTF_8);
            var marker = java.util.regex.Pattern.compile("([0-9A-Za-z]+): message-id="
                    + java.util.regex.Pattern.quote(messageId)).matcher(text);
            while (marker.find()) {
                queueIds.add(marker.group(1));
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
            out.println("  trust      " + d.tlsClass() + ": " + trustMeaning(d.tlsClass()));
        } else {
            out.println(style("@|bold,red Cleartext:|@ ") + "this delivery did not use TLS;"
                    + " anyone on the path could read it.");
            out.println("  Run sac-tls fix to turn on opportunistic TLS, then test again.");
        }
        if (d.status().equals("deferred")) {
            out.println("  Postfix will try again later; this attempt was deferred.");
        }
        out.println("To see it from the receiver's side too, save the received message with"
                + " all its headers and run: sac-tls check message.eml");
    }

    private static String trustMeaning(String tlsClass) {
        return switch (tlsClass) {
            case "Verified" -> "the receiver's certificate matched its name, as policy asked.";
            case "Trusted" -> "the receiver's certificate is signed by a known authority"
                    + " (its name was not required to match).";
            case "Untrusted" -> "encrypted, but the receiver's certificate was not checked;"
                    + " that is normal for opportunistic TLS.";
            case "Anonymous" -> "encrypted, but the receiver showed no certificate.";
            default -> "encrypted; Postfix did not log how far the certificate was trusted.";
        };
    }

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
