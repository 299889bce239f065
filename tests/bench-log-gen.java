// tests/bench-log-gen.java SIZE_MB OUT_FILE: write a synthetic Postfix 3.7 mail log of about
// SIZE_MB MiB to OUT_FILE and print, on stdout, the counts `sac-tls log --json` must report
// for it (JSON). Run with `java tests/bench-log-gen.java 100 /tmp/mail.log`.
//
// The log mixes every TLS class, cleartext deliveries (including a later message on a
// process whose earlier message used TLS), multi-recipient messages, greylisting deferrals,
// Cannot start TLS with the plaintext retry, "TLS is required" deferrals, unreachable hosts
// (relay=none), bounces, Postfix 3.11 tls= fields, amavis on 127.0.0.1:10024, local and
// LMTP deliveries and other daemons' lines. Each message also has the lines of its way in
// (smtpd, cleanup, qmgr) and out (qmgr removed), as in a real log. Several smtp processes
// run at once, so their lines interleave. Output is deterministic.

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

class LogGen {
    static final String[] CLASSES = {"Verified", "Trusted", "Untrusted", "Anonymous"};
    static final String[] DOMAINS = {"gmail.com", "outlook.com", "example.org", "mail.example",
        "yahoo.com", "gmx.de", "posteo.de", "plain.example", "old.example", "tiny.example"};

    final StringBuilder sb = new StringBuilder(1 << 16);
    final OutputStream out;
    long seed = 42;
    long seconds;
    int queue = 0x1000000;
    long written;

    long deliveries, cleartext, cannotStartTls, tlsDeferrals, loopback;
    long sent, deferred, bounced;
    final long[] byClass = new long[4];
    final Map<String, long[]> domains = new TreeMap<>();

    LogGen(OutputStream out) {
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        long target = Long.parseLong(args[0]) << 20;
        try (var out = new BufferedOutputStream(new FileOutputStream(args[1]), 1 << 20)) {
            var gen = new LogGen(out);
            while (gen.written < target) {
                gen.round();
            }
            gen.flush();
            System.out.println(gen.expected());
        }
    }

    int next(int bound) {
        seed = seed * 6364136223846793005L + 1442695040888963407L;
        return (int) ((seed >>> 33) % bound);
    }

    void line(String tag, int pid, String text) {
        long t = seconds / 8;
        sb.append("Dec  3 ").append(two(t / 3600 % 24)).append(':').append(two(t / 60 % 60))
                .append(':').append(two(t % 60)).append(" mx1 ").append(tag).append('[')
                .append(pid).append("]: ").append(text).append('\n');
        seconds++;
        if (sb.length() > 60_000) {
            flush();
        }
    }

    static String two(long n) {
        return n < 10 ? "0" + n : Long.toString(n);
    }

    void flush() {
        try {
            byte[] bytes = sb.toString().getBytes(StandardCharsets.ISO_8859_1);
            out.write(bytes);
            written += bytes.length;
            sb.setLength(0);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    String qid() {
        return Integer.toHexString(queue++).toUpperCase();
    }

    /** A new queue ID, with the lines of the message's way into the queue. */
    String intake() {
        String q = qid();
        int pid = 2000 + next(3000);
        line("postfix/smtpd", pid, "connect from client" + pid + ".example[192.0.2."
                + next(250) + "]");
        line("postfix/smtpd", pid, q + ": client=client" + pid + ".example[192.0.2.7],"
                + " sasl_method=PLAIN, sasl_username=user" + pid);
        line("postfix/cleanup", 1000 + next(100), q + ": message-id=<" + q + "." + pid
                + "@client.example>");
        line("postfix/qmgr", 900, q + ": from=<user" + pid + "@mx1.example>, size="
                + (1000 + next(90_000)) + ", nrcpt=1 (queue active)");
        line("postfix/smtpd", pid, "disconnect from client" + pid + ".example[192.0.2.7]"
                + " ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8");
        removed[intakes++ % removed.length] = q;
        return q;
    }

    final String[] removed = new String[16];
    int intakes;

    /** One round: eight messages handed to eight smtp processes whose lines interleave. */
    void round() {
        int base = 10_000 + next(50_000);
        String[][] pending = new String[8][];
        for (int p = 0; p < 8; p++) {
            pending[p] = message(base + p);
        }
        for (int step = 0; step < 6; step++) {
            for (int p = 0; p < 8; p++) {
                if (step < pending[p].length && pending[p][step] != null) {
                    line(pending[p][step].substring(0, pending[p][step].indexOf(' ')), base + p,
                            pending[p][step].substring(pending[p][step].indexOf(' ') + 1));
                }
            }
            noise();
        }
        for (int k = 0; k < Math.min(intakes, removed.length); k++) {
            line("postfix/qmgr", 900, removed[k] + ": removed");
        }
        intakes = 0;
    }

    void noise() {
        int pid = 2000 + next(3000);
        String q = qid();
        switch (next(6)) {
            case 0 -> {
                line("postfix/smtpd", pid, "connect from client" + pid + ".example[192.0.2."
                        + next(250) + "]");
                line("postfix/smtpd", pid, "Anonymous TLS connection established from client"
                        + pid + ".example[192.0.2.7]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
                        + " (256/256 bits) key-exchange X25519 server-signature ECDSA"
                        + " (prime256v1) server-digest SHA256");
                line("postfix/smtpd", pid, q + ": client=client" + pid + ".example[192.0.2.7]");
            }
            case 1 -> {
                line("postfix/cleanup", pid, q + ": message-id=<" + q + "." + pid
                        + "@client.example>");
                line("postfix/qmgr", 900, q + ": from=<alice@client.example>, size="
                        + (1000 + next(90_000)) + ", nrcpt=1 (queue active)");
            }
            case 2 -> line("dovecot", pid, "imap-login: Login: user=<me@mx1.example>,"
                    + " method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, mpid=" + pid
                    + ", TLS, session=<abcdefgh>");
            case 3 -> line("postfix/lmtp", pid, q + ": to=<me@mx1.example>, relay=mx1.example"
                    + "[private/dovecot-lmtp], delay=0.1, delays=0/0/0/0.1, dsn=2.0.0,"
                    + " status=sent (250 2.0.0 <me@mx1.example> Saved)");
            case 4 -> line("postfix/local", pid, q + ": to=<root@mx1.example>, relay=local,"
                    + " delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to"
                    + " mailbox)");
            default -> {
                line("postfix/qmgr", 900, q + ": removed");
                line("postfix/smtpd", pid, "disconnect from client" + pid + ".example"
                        + "[192.0.2.7] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1"
                        + " commands=7");
            }
        }
    }

    /** The smtp lines of one message for process {@code pid} ("TAG TEXT" each). */
    String[] message(int pid) {
        String q = intake();
        String domain = DOMAINS[next(DOMAINS.length)];
        String relay = "mx" + next(3) + "." + domain + "[198.51.100." + next(250) + "]:25";
        String tag = next(10) == 0 ? "postfix/relay/smtp " : "postfix/smtp ";
        int kind = next(100);
        String tls = tag + CLASSES[kind % 4] + " TLS connection established to " + relay
                + ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange"
                + " X25519 server-signature ECDSA (prime256v1) server-digest SHA256";
        if (kind < 55) {
            count(domain, kind % 4, 0);
            return new String[] {tls, delivery(tag, q, "a", domain, relay, "", "2.0.0",
                    "sent (250 2.0.0 Ok: queued as X" + q + ")")};
        }
        if (kind < 65) {
            count(domain, kind % 4, 0);
            count(domain, kind % 4, 0);
            return new String[] {tls, delivery(tag, q, "a", domain, relay, "", "2.0.0",
                    "sent (250 ok)"), delivery(tag, q, "b", domain, relay, "", "2.0.0",
                    "sent (250 ok)")};
        }
        if (kind < 70) {
            // The same process delivers a second message to the same relay in cleartext.
            String q2 = intake();
            count(domain, kind % 4, 0);
            count(domain, -1, 0);
            return new String[] {tls, delivery(tag, q, "a", domain, relay, "", "2.0.0",
                    "sent (250 ok)"), delivery(tag, q2, "c", domain, relay, "", "2.0.0",
                    "sent (250 ok)")};
        }
        if (kind < 75) {
            count(domain, kind % 4, 1);
            return new String[] {tls, delivery(tag, q, "a", domain, relay, "", "4.2.0",
                    "deferred (host " + relay + " said: 450 4.2.0 greylisted (in reply to"
                    + " RCPT TO command))")};
        }
        if (kind < 80) {
            count(domain, kind % 4, 0);
            return new String[] {tls, delivery(tag, q, "a", domain, relay, ", tls=may",
                    "2.0.0", "sent (250 ok)")};
        }
        if (kind < 88) {
            count(domain, -1, 0);
            return new String[] {delivery(tag, q, "a", domain, relay, kind < 84 ? ""
                    : ", tls=may:none", "2.0.0", "sent (250 ok)")};
        }
        if (kind < 90) {
            count(domain, -1, 2);
            return new String[] {delivery(tag, q, "a", domain, relay, "", "5.1.1",
                    "bounced (host " + relay + " said: 550 5.1.1 no such user)")};
        }
        if (kind < 93) {
            cannotStartTls += 2;
            tlsDeferrals++;
            count(domain, -1, 0);
            return new String[] {tag + "SSL_connect error to " + relay + ": -1",
                tag + "warning: TLS library problem: error:0A00042E:SSL routines::tlsv1 alert"
                    + " protocol version:../ssl/record/rec_layer_s3.c:1601:SSL alert number 70:",
                delivery(tag, q, "a", domain, relay, "", "4.7.5",
                    "deferred (Cannot start TLS: handshake failure)"),
                tag + q + ": Cannot start TLS: handshake failure",
                delivery(tag, q, "a", domain, relay, "", "2.0.0", "sent (250 ok)")};
        }
        if (kind < 95) {
            tlsDeferrals++;
            return new String[] {delivery(tag, q, "a", domain, relay, "", "4.7.4",
                    "deferred (TLS is required, but was not offered by host " + relay + ")")};
        }
        if (kind < 97) {
            return new String[] {delivery(tag, q, "a", domain, "none", "", "4.4.1",
                    "deferred (connect to " + relay + ": Connection timed out)")};
        }
        loopback++;
        return new String[] {delivery(tag, q, "a", domain, "127.0.0.1[127.0.0.1]:10024", "",
                "2.0.0", "sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok:"
                + " queued as Y" + q + ")")};
    }

    static String delivery(String tag, String q, String user, String domain, String relay,
            String tls, String dsn, String status) {
        return tag + q + ": to=<" + user + "@" + domain + ">, relay=" + relay
                + ", delay=0.52, delays=0.01/0/0.25/0.26" + tls + ", dsn=" + dsn + ", status="
                + status;
    }

    void count(String domain, int tlsClass, int outcome) {
        deliveries++;
        switch (outcome) {
            case 0 -> sent++;
            case 1 -> deferred++;
            default -> bounced++;
        }
        long[] row = domains.computeIfAbsent(domain, d -> new long[2]);
        row[0]++;
        if (tlsClass < 0) {
            cleartext++;
        } else {
            byClass[tlsClass]++;
            row[1]++;
        }
    }

    String expected() {
        var json = new StringBuilder("{\"deliveries\":" + deliveries + ",\"encrypted\":"
                + (deliveries - cleartext) + ",\"cleartext\":" + cleartext + ",\"byClass\":{");
        for (int i = 0; i < 4; i++) {
            json.append('"').append(CLASSES[i]).append("\":").append(byClass[i]).append(',');
        }
        json.append("\"cleartext\":").append(cleartext).append("},\"byStatus\":{\"sent\":")
                .append(sent).append(",\"deferred\":").append(deferred).append(",\"bounced\":")
                .append(bounced).append("},\"cannotStartTls\":").append(cannotStartTls)
                .append(",\"tlsDeferrals\":").append(tlsDeferrals)
                .append(",\"loopbackLeftOut\":").append(loopback).append(",\"domains\":[");
        var first = true;
        for (var row : domains.entrySet()) {
            json.append(first ? "" : ",").append("{\"domain\":\"").append(row.getKey())
                    .append("\",\"deliveries\":").append(row.getValue()[0])
                    .append(",\"encrypted\":").append(row.getValue()[1]).append('}');
            first = false;
        }
        return json.append("]}").toString();
    }
}
