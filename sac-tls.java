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
        @Option(names = "-c", paramLabel = "CONFIG_DIR",
                description = "Postfix config directory (default: $MAIL_CONFIG, else Postfix's"
                        + " config_directory).")
        Path configDir;

        @Option(names = "--dry-run", description = "Show what would change; write nothing.")
        boolean dryRun;

        @Option(names = "--yes", description = "Write without asking (needed with no terminal).")
        boolean yes;

        @Option(names = "--json", description = "Print the result as JSON: \"changed\" and each"
                + " parameter's before and after.")
        boolean json;

        @Override
        public Integer call() {
            var instance = Instance.locate(configDir);
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
        @Option(names = "-c", paramLabel = "CONFIG_DIR",
                description = "Postfix config directory (default: $MAIL_CONFIG, else Postfix's"
                        + " config_directory).")
        Path configDir;

        @Override
        public Integer call() {
            requireRoot("restart");
            Reloader.restart(Instance.locate(configDir));
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
                "3:there is no sac-tls backup to restore",
                "5:no Postfix or no main.cf",
                "6:not root, or main.cf cannot be written for lack of permission",
                "7:read-only file system or full disk",
                "8:the offered reload failed and main.cf was restored again",
                "9:the offered reload failed and so did the rollback",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {"  sudo sac-tls undo", "  sudo sac-tls undo -c /etc/postfix-out"})
    static class Undo implements Callable<Integer> {
        @Option(names = "-c", paramLabel = "CONFIG_DIR",
                description = "Postfix config directory (default: $MAIL_CONFIG, else Postfix's"
                        + " config_directory).")
        Path configDir;

        @Override
        public Integer call() {
            requireRoot("undo");
            TlsPatcher.undo(Instance.locate(configDir));
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
                "0:outbound TLS is on (Postfix reloaded, or stopped and told how to start)",
                "4:you said no, there is no terminal and --yes was not given, or main.cf"
                        + " keeps an explicit smtp_tls_security_level = none",
                "5:no Postfix, no main.cf, no TLS support",
                "6:not root, or permission denied on main.cf",
                "7:read-only file system, full disk",
                "8:the reload failed; main.cf was restored and Postfix reloaded",
                "9:the reload failed and so did the rollback: fix main.cf by hand now",
                "70:internal error (a bug; run again with --verbose)"},
            footerHeading = "%nExamples:%n",
            footer = {
                "  sudo jbang sac-tls@OWNER/REPO fix",
                "  sudo sac-tls fix --yes              no questions (the diff is still shown)",
                "  sudo sac-tls fix -c /etc/postfix-out"})
    static class Fix implements Callable<Integer> {
        @Option(names = "-c", paramLabel = "CONFIG_DIR",
                description = "Postfix config directory (default: $MAIL_CONFIG, else Postfix's"
                        + " config_directory).")
        Path configDir;

        @Option(names = "--yes", description = "Write and reload without asking.")
        boolean yes;

        @Override
        public Integer call() {
            requireRoot("fix");
            var instance = Instance.locate(configDir);

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

            // Steps that need Postfix running with the new settings go here, when `running`.

            printHowToVerify(instance, running);
            return EXIT_OK;
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

    /*
     * Finds a Postfix instance and reads its effective settings through postconf, decides the
     * outbound TLS settings without ever weakening a stronger choice, edits main.cf by
     * Postfix's own grammar, writes it with a backup and an atomic rename, and reloads with a
     * rollback. Not handled yet: master.cf -o overrides are reported, never changed; SELinux
     * labels and ACLs of main.cf are not copied; a single-file bind mount (rename fails with
     * EBUSY) is refused rather than rewritten in place.
     */

    static final Duration POSTFIX_TIMEOUT = Duration.ofSeconds(60);

    /** The outbound TLS security levels Postfix knows (src/tls/tls_level.c), weakest first. */
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

    static String findProgram(String name) {
        var dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"));
        for (var dir : dirs) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, name))) {
                return Path.of(dir, name).toString();
            }
        }
        return null;
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
        var args = new ArrayList<>(List.of(instance.postconfPath(), "-c", dir.toString(), "-x"));
        args.addAll(names);
        var result = run(args, POSTFIX_TIMEOUT);
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
            var result = run(List.of(instance.postconfPath(), "-c", dir.toString(), "-n"),
                    POSTFIX_TIMEOUT);
            if (!result.ok()) {
                throw new Failure(EXIT_NO_POSTFIX, "postconf cannot read " + dir.resolve("main.cf")
                        + ": " + firstLine(result.err()) + ".");
            }
            var values = new java.util.TreeMap<String, String>();
            for (var line : result.out().split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    values.put(line.substring(0, eq).trim(), line.substring(eq + 1).trim());
                }
            }
            return values;
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
            for (var decision : decisions) {
                var before = decision.before().isEmpty() ? "(empty)" : decision.before();
                out.println(clean(String.format("  %-32s %s", decision.name(), decision.changes()
                        ? before + " -> " + decision.write() + "  (" + decision.reason() + ")"
                        : "kept: " + before + "  (" + decision.reason() + ")")));
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
                throw new Failure(EXIT_UNKNOWN, "there is no sac-tls backup of main.cf in "
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
     * Reads what one instance logs after a point in time: its maillog_file, else journald,
     * else /var/log/mail.log or /var/log/maillog. Used only to confirm a reload.
     */
    static final class MailLog {
        final Path file;
        final long offset;
        final long since;
        final String tag;

        private MailLog(Path file, long offset, long since, String tag) {
            this.file = file;
            this.offset = offset;
            this.since = since;
            this.tag = tag;
        }

        static MailLog open(Instance instance) {
            var values = effectiveValues(instance, instance.configDir(),
                    List.of("maillog_file", "syslog_name"));
            var tag = values.getOrDefault("syslog_name", "postfix") + "/";
            var since = System.currentTimeMillis() / 1000 - 1;
            var maillog = values.getOrDefault("maillog_file", "");
            if (maillog.isEmpty() && findProgram("journalctl") != null
                    && Files.exists(Path.of("/run/systemd/journal/socket"))) {
                return new MailLog(null, 0, since, tag);
            }
            for (var candidate : List.of(maillog, "/var/log/mail.log", "/var/log/maillog")) {
                if (!candidate.isEmpty() && Files.isRegularFile(Path.of(candidate))) {
                    var path = Path.of(candidate);
                    try {
                        return new MailLog(path, Files.size(path), since, tag);
                    } catch (IOException e) {
                        debug("cannot read " + path + ": " + e.getMessage());
                    }
                }
            }
            return new MailLog(null, -1, since, tag);
        }

        List<String> newLines() {
            if (offset < 0) {
                return List.of();
            }
            if (file == null) {
                var journal = run(List.of("journalctl", "--no-pager", "-q", "-o", "short",
                        "--since", "@" + since, "SYSLOG_FACILITY=2"), Duration.ofSeconds(20));
                return journal.out().lines().filter(line -> line.contains(tag)).toList();
            }
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
                warn("the log " + (file == null ? "(journald)" : file) + " shows no reload line"
                        + " within 15 seconds; check that Postfix took the new settings.");
            }
            return null;
        }

        private static void sleep(long millis) {
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
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
