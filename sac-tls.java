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
            exitCodeListHeading = "%nExit status:%n",
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
