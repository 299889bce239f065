# sac-tls log and fix --send-to against real Postfix instances on 127.0.0.1: a
# sender relaying to a receiver that offers STARTTLS, first without TLS, then with
# smtp_tls_security_level = may.

# shellcheck source=tests/postfix.sh
source "$ROOT/tests/postfix.sh"

# start_pair: a receiver and a sender relaying to it; sets $rcv and $snd (config dirs)
# and $sport (the sender's SMTP port).
start_pair() {
    local rport
    rcv=$SCRATCH/rcv snd=$SCRATCH/snd
    rport=$(pf_port) && sport=$(pf_port) \
        && pf_receiver "$rcv" "$rport" && pf_sender "$snd" "$sport" "$rport"
}

# sender_tls LEVEL: set the sender's TLS level (logging TLS at level 1) and reload it.
sender_tls() {
    postconf -c "$snd" -e "smtp_tls_security_level = $1" "smtp_tls_loglevel = 1" \
        && pf_cmd postfix -c "$snd" reload >/dev/null
}

# wait_sent COUNT: wait until the sender's log holds COUNT status=sent lines.
wait_sent() {
    local i
    for ((i = 0; i < 150; i++)); do
        [ "$(grep -c 'status=sent' "$(pf_log "$snd")")" -ge "$1" ] && return 0
        sleep 0.2
    done
    fail "the sender did not log $1 sent deliveries"
    return 1
}

# fix_send_to ADDRESS: fix on the sender, proving the result with a test mail to ADDRESS.
fix_send_to() {
    run_sac fix -c "$snd" --yes --send-to "$1" --wait 30
}

test_log_counts_real_cleartext_and_tls_deliveries_exactly() {
    pf_available || { skip "needs root, Postfix, openssl and swaks"; return; }
    start_pair || { fail "the Postfix instances did not start"; return; }

    pf_send "$sport" "cleartext 1" && pf_send "$sport" "cleartext 2"
    wait_sent 2 || return
    sender_tls may || { fail "cannot turn on TLS on the sender"; return; }
    pf_send "$sport" "tls 1" && pf_send "$sport" "tls 2" && pf_send "$sport" "tls 3"
    wait_sent 5 || return

    run_sac log --json --include-loopback -c "$snd"
    expect_status 1
    expect_json '.sources' "[\"$(pf_log "$snd")\"]"
    expect_json '[.deliveries, .encrypted, .cleartext]' '[5,3,2]'
    expect_json '.byClass' \
        '{"Verified":0,"Trusted":0,"Untrusted":3,"Anonymous":0,"cleartext":2,"Unknown":0}'
    expect_json '.domains' '[{"domain":"rcv.test","deliveries":5,"encrypted":3}]'
    expect_json '[.cannotStartTls, .tlsDeferrals]' '[0,0]'

    run_sac log --json "$(pf_log "$snd")"
    expect_status 3
    expect_json '[.deliveries, .loopbackLeftOut]' '[0,5]'
}

test_fix_send_to_reports_the_tls_of_its_own_test_mail() {
    pf_available || { skip "needs root, Postfix, openssl and swaks"; return; }
    start_pair || { fail "the Postfix instances did not start"; return; }

    fix_send_to "$PF_RCPT"
    expect_status 0
    expect_out_contains "Test mail to $PF_RCPT"
    expect_out_contains "Encrypted: the mail travelled over TLS, TLSv1."
    grep -qE 'TLSv1\.[23] with cipher [A-Z0-9_-]+' "$SCRATCH/stdout" \
        || fail "no TLSv1.2 or TLSv1.3 with a cipher in the report"
    expect_out_contains "trust      Untrusted"
    expect_out_contains "handed to  127.0.0.1[127.0.0.1]:"
    expect_out_contains "sac-tls check"
    pf_wait_delivered "$(pf_maildir "$rcv")" 1 >/dev/null \
        || fail "the receiver did not get the test mail"
}

test_fix_send_to_reports_cleartext_when_the_mx_offers_no_starttls() {
    pf_available || { skip "needs root, Postfix, openssl and swaks"; return; }
    start_pair || { fail "the Postfix instances did not start"; return; }
    postconf -c "$rcv" -e "smtpd_tls_security_level = none" \
        && pf_cmd postfix -c "$rcv" reload >/dev/null \
        || { fail "cannot turn STARTTLS off on the receiver"; return; }

    fix_send_to "$PF_RCPT"
    expect_status 1
    expect_out_contains "Cleartext: this delivery did not use TLS"
    expect_out_contains "status sent"
    expect_out_contains "sac-tls check"
}

test_fix_send_to_a_bad_address_is_a_usage_error_and_changes_nothing() {
    mkdir etc && printf 'myhostname = example.test\n' >etc/main.cf
    cp etc/main.cf before.cf
    run_sac fix -c "$SCRATCH/etc" --yes --send-to '-oi@x'
    expect_status 2
    expect_one_error_line
    expect_err_contains "is not a mail address"
    cmp -s etc/main.cf before.cf || fail "main.cf changed"
}
