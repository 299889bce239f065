#!/usr/bin/env bash
#
# tests/postfix.sh: start throwaway Postfix instances on 127.0.0.1 for end-to-end tests.
# Source it from a test file after lib.sh (it uses lib.sh's at_exit when present).
#
# Every instance is reached only through `-c DIR` (DIR an absolute path: its config
# directory) and touches nothing of the system's Postfix. Its files:
#   DIR/main.cf, DIR/master.cf   the configuration (master.cf copied from /etc/postfix,
#                                every chroot column set to n, smtpd on 127.0.0.1:PORT)
#   DIR.var/queue, DIR.var/data  queue_directory and data_directory (beside DIR, not in it,
#                                since `postfix check` wants a config directory owned by root)
#   DIR.var/maillog              maillog_file, the instance's whole log: $(pf_log DIR)
#   DIR.var/Maildir/             receiver only: the test mailbox, $(pf_maildir DIR)
# inet_interfaces is 127.0.0.1 and inet_protocols ipv4: nothing listens elsewhere.
#
# Functions (each returns non-zero with a message on stderr when it fails):
#   pf_available                 0 when Postfix, openssl and swaks are installed and we run
#                                as root (a test calls `skip` otherwise)
#   pf_port                      print a free TCP port on 127.0.0.1
#   pf_receiver DIR PORT         start a receiver: STARTTLS with a fresh self-signed
#                                certificate, smtpd_tls_received_header = yes, mail for
#                                $PF_RCPT (user@rcv.test) delivered into $(pf_maildir DIR)
#   pf_sender DIR PORT RELAY_PORT
#                                start a sender without any TLS setting, accepting mail on
#                                127.0.0.1:PORT and relaying all of it to [127.0.0.1]:RELAY_PORT
#   pf_send PORT [SUBJECT]       submit a test mail to 127.0.0.1:PORT (swaks), from
#                                $PF_FROM to $PF_RCPT
#   pf_wait_delivered MAILDIR [COUNT] [SECONDS]
#                                wait until MAILDIR/new holds COUNT files (default 1, within
#                                30 s) and print the newest one's path
#   pf_wait_log DIR REGEX [SECONDS]
#                                wait until the instance's log has a line matching REGEX (grep -E)
#   pf_log DIR, pf_maildir DIR   print the path of the instance's log file or Maildir
#   pf_running DIR               0 when the instance's master runs
#   pf_stop DIR                  stop the instance (killing its master if it does not
#                                stop in time); pf_receiver and pf_sender register it with
#                                at_exit before starting, so instances stop whatever happens
#   pf_cmd ARGS...               run a Postfix command under `script` so that Postfix 3.7,
#                                which prints errors only to a terminal, shows them
#
# Example (inside a test function):
#   pf_available || { skip "needs root, Postfix, openssl and swaks"; return; }
#   rport=$(pf_port) && sport=$(pf_port)
#   pf_receiver "$SCRATCH/rcv" "$rport" && pf_sender "$SCRATCH/snd" "$sport" "$rport"
#   pf_send "$sport" && file=$(pf_wait_delivered "$(pf_maildir "$SCRATCH/rcv")")
#
# Notes: Debian's "No configuration" install leaves /etc/postfix/main.cf absent and no
# system instance running; these instances need only /etc/postfix/master.cf as a template.
# Postfix insists on absolute paths for -c.

PF_DOMAIN=rcv.test
PF_RCPT=user@$PF_DOMAIN
PF_FROM=sender@snd.test

pf_available() {
    [ "$(id -u)" -eq 0 ] && command -v postfix >/dev/null && command -v postconf >/dev/null \
        && command -v openssl >/dev/null && command -v swaks >/dev/null \
        && [ -f /etc/postfix/master.cf ]
}

pf_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 30000))
        if ! ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    echo "pf_port: no free port found" >&2
    return 1
}

pf_cmd() {
    local quoted
    quoted=$(printf '%q ' "$@")
    script -qec "$quoted" /dev/null </dev/null
}

# pf_base DIR PORT NAME: the parts every instance shares: directories, master.cf, main.cf.
pf_base() {
    local dir=$1 port=$2 name=$3
    case "$dir" in /*) ;; *) echo "pf_base: $dir is not an absolute path" >&2; return 1 ;; esac
    mkdir -p "$dir" "$dir.var/queue" "$dir.var/data" || return 1
    # Postfix's daemons reach data_directory and the Maildir by absolute path after dropping
    # privileges, so every parent directory must be searchable.
    local parent=$dir
    while [ "$parent" != / ]; do
        chmod o+x "$parent" 2>/dev/null
        parent=$(dirname "$parent")
    done
    chown postfix "$dir.var/data" || return 1
    cat >"$dir/main.cf" <<EOF
# Test instance $name (tests/postfix.sh)
compatibility_level = 3.6
myhostname = $name.test
mydomain = $name.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
queue_directory = $dir.var/queue
data_directory = $dir.var/data
maillog_file = $dir.var/maillog
maillog_file_prefixes = /var, /dev/stdout, $dir.var
syslog_name = postfix-$name
biff = no
smtputf8_enable = no
alias_maps =
alias_database =
local_recipient_maps =
mydestination =
EOF
    cp /etc/postfix/master.cf "$dir/master.cf" || return 1
    # Listen on the test port instead of 25, and run nothing chrooted.
    sed -i "s/^smtp\( *\)inet /$port\1inet /" "$dir/master.cf" || return 1
    postconf -c "$dir" -F '*/*/chroot = n' || return 1
}

# pf_start DIR: start an instance, showing Postfix's own errors when it fails.
pf_start() {
    local dir=$1
    if declare -F at_exit >/dev/null; then
        at_exit pf_stop "$dir"
    fi
    # `postfix start` runs `postfix check` first.
    if ! pf_cmd postfix -c "$dir" start >"$dir.var/start.out" 2>&1; then
        echo "pf_start: Postfix in $dir did not start:" >&2
        cat "$dir.var/start.out" "$dir.var/maillog" >&2 2>/dev/null
        return 1
    fi
    local i
    for i in $(seq 1 50); do
        pf_running "$dir" && return 0
        sleep 0.1
    done
    echo "pf_start: Postfix in $dir is not running after start" >&2
    return 1
}

pf_receiver() {
    local dir=$1 port=$2 nobody
    pf_base "$dir" "$port" receiver || return 1
    nobody=$(id -u nobody)
    mkdir -p "$dir.var/Maildir" "$dir/tls" || return 1
    chown nobody "$dir.var/Maildir" || return 1
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj "/CN=receiver.test" -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" \
        >/dev/null 2>&1 || { echo "pf_receiver: openssl made no certificate" >&2; return 1; }
    chmod 600 "$dir/tls/key.pem"
    cat >>"$dir/main.cf" <<EOF
virtual_mailbox_domains = $PF_DOMAIN
virtual_mailbox_base = $dir.var
virtual_mailbox_maps = inline:{ $PF_RCPT=Maildir/ }
virtual_uid_maps = static:$nobody
virtual_gid_maps = static:$(id -g nobody)
smtpd_tls_cert_file = $dir/tls/cert.pem
smtpd_tls_key_file = $dir/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
EOF
    pf_start "$dir"
}

pf_sender() {
    local dir=$1 port=$2 relay_port=$3
    pf_base "$dir" "$port" sender || return 1
    cat >>"$dir/main.cf" <<EOF
relayhost = [127.0.0.1]:$relay_port
EOF
    pf_start "$dir"
}

pf_send() {
    local port=$1 subject=${2:-sac-tls test}
    swaks --silent 2 --server 127.0.0.1 --port "$port" --ehlo client.test \
        --from "$PF_FROM" --to "$PF_RCPT" --header "Subject: $subject" \
        --body "A test message from the sac-tls test suite." >/dev/null
}

pf_wait_delivered() {
    local maildir=$1 count=${2:-1} seconds=${3:-30} i
    for ((i = 0; i < seconds * 5; i++)); do
        if [ "$(find "$maildir/new" -type f 2>/dev/null | wc -l)" -ge "$count" ]; then
            find "$maildir/new" -type f -printf '%T@ %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-
            return 0
        fi
        sleep 0.2
    done
    echo "pf_wait_delivered: fewer than $count messages in $maildir after $seconds s" >&2
    return 1
}

pf_wait_log() {
    local dir=$1 regex=$2 seconds=${3:-30} i
    for ((i = 0; i < seconds * 5; i++)); do
        grep -qE -- "$regex" "$dir.var/maillog" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "pf_wait_log: no line matching '$regex' in $dir.var/maillog after $seconds s" >&2
    return 1
}

pf_log() {
    echo "$1.var/maillog"
}

pf_maildir() {
    echo "$1.var/Maildir"
}

pf_running() {
    postfix -c "$1" status >/dev/null 2>&1
}

pf_stop() {
    local dir=$1 pid i
    pid=$(tr -dc 0-9 <"$dir.var/queue/pid/master.pid" 2>/dev/null)
    postfix -c "$dir" stop >/dev/null 2>&1
    [ -n "$pid" ] || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    return 0
}
