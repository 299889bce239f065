# The end-to-end test of fix: two real Postfix instances on 127.0.0.1, a receiver
# offering STARTTLS and a sender with no TLS settings relaying to it. fix turns TLS on, a
# broken configuration is rolled back, and undo brings back the original main.cf.
# shellcheck source=tests/maincf.sh
. "$ROOT/tests/maincf.sh"
# shellcheck source=tests/postfix.sh
. "$ROOT/tests/postfix.sh"

# check_says FILE STATUS: `sac-tls check --from sender.test FILE` exits with STATUS and
# says "not encrypted" (STATUS 1) or "encrypted" with TLSv1.2 or TLSv1.3 (STATUS 0). Every
# hop here comes from 127.0.0.1, which check counts as inside the network, so --from names
# the hop to judge.
check_says() {
    run_sac check --from sender.test "$1"
    expect_status "$2"
    if [ "$2" -eq 1 ]; then
        grep -qiE 'not encrypted|unencrypted' "$out" || fail "check does not say not encrypted"
    else
        grep -qiE 'not encrypted|unencrypted' "$out" && fail "check says not encrypted"
        grep -qi 'encrypted' "$out" || fail "check does not say encrypted"
        grep -qE 'TLSv1\.[23]' "$out" || fail "check names neither TLSv1.2 nor TLSv1.3"
    fi
}

# top_received FILE: the Received field the receiver added (the first one), unfolded.
top_received() {
    awk 'NR > 1 && !/^[ \t]/ && seen { exit }
         /^Received:/ { seen = 1 }
         seen { printf "%s ", $0 }' "$1"
}

# changed_lines: the lines the diff on stdout adds or removes, without its file headers.
changed_lines() {
    grep -E '^[-+]' "$out" | grep -vE '^(---|[+]{3}) '
}

test_fix_turns_on_tls_between_two_real_postfix_instances() {
    pf_available || { skip "needs root, Postfix, openssl and swaks"; return; }
    local rport sport snd maildir file cache
    rport=$(pf_port) && sport=$(pf_port)
    snd=$SCRATCH/snd
    maildir=$(pf_maildir "$SCRATCH/rcv")
    pf_receiver "$SCRATCH/rcv" "$rport" || { fail "the receiver did not start"; return; }
    pf_sender "$snd" "$sport" "$rport" || { fail "the sender did not start"; return; }
    cp "$snd/main.cf" "$SCRATCH/original"

    # 1. Without TLS settings the sender delivers in plaintext.
    pf_send "$sport" "before fix" || fail "swaks could not submit"
    file=$(pf_wait_delivered "$maildir" 1) || { fail "nothing delivered"; return; }
    top_received "$file" | grep -q 'using TLS' && fail "the first mail arrived encrypted"
    check_says "$file" 1

    # 2. fix writes exactly the four parameters and reloads; a second patch changes nothing.
    run_sac_notty fix -c "$snd" --yes
    expect_status 0
    cache=btree
    postconf -c "$snd" -m | grep -qx lmdb && cache=lmdb
    # shellcheck disable=SC2016
    printf '%s\n' '+' '+# Outbound TLS, added by sac-tls (sac-tls undo restores the backup).' \
        '+smtp_tls_security_level = may' '+smtp_tls_loglevel = 1' \
        "+smtp_tls_session_cache_database = $cache:\${data_directory}/smtp_scache" \
        '+smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt' >"$SCRATCH/expected-diff"
    changed_lines >"$SCRATCH/diff"
    expect_unchanged "$SCRATCH/diff" "$SCRATCH/expected-diff"
    expect_out_contains "Postfix reloaded and runs with the new settings"
    expect_out_contains "sac-tls check original.eml"
    grep -q "postfix-sender/master\[[0-9]*\]: reload -- version" "$(pf_log "$snd")" \
        || fail "the sender's log shows no reload"
    run_sac patch -c "$snd" --yes --json
    expect_status 0
    expect_json '[.changed, .written]' '[false,false]'

    # 3. Now the hop to the receiver is encrypted, and the sender's log says so.
    pf_send "$sport" "after fix" || fail "swaks could not submit"
    file=$(pf_wait_delivered "$maildir" 2) || { fail "the second mail was not delivered"; return; }
    top_received "$file" | grep -qE '\(using TLSv1\.[23] with cipher ' \
        || fail "the second mail did not arrive over TLSv1.2 or TLSv1.3: $(top_received "$file")"
    check_says "$file" 0
    pf_wait_log "$snd" "TLS connection established to 127.0.0.1\[127.0.0.1\]:$rport: TLSv1\.[23] " \
        || fail "the sender's log shows no TLS line"

    # 4. A configuration that fails validation is rolled back, and mail still flows.
    echo 'smtp_tls_CAfile = /nonexistent/ca.pem' >>"$snd/main.cf"
    run_sac restart -c "$snd"
    expect_status 8
    expect_err_contains "smtp_tls_CAfile = /nonexistent/ca.pem does not exist"
    expect_err_contains "and Postfix reloaded"
    expect_one_error_line
    expect_unchanged "$snd/main.cf" "$(ls "$snd"/main.cf.sac-tls.*)"
    pf_running "$snd" || fail "the sender stopped running"
    [ "$(grep -c 'postfix-sender/master.*reload -- version' "$(pf_log "$snd")")" -ge 2 ] \
        || fail "the rollback did not reload the sender"
    pf_send "$sport" "after rollback" || fail "swaks could not submit"
    pf_wait_delivered "$maildir" 3 >/dev/null || fail "the sender no longer delivers"

    # 5. After another fix, undo brings back the original main.cf byte for byte.
    run_sac_notty fix -c "$snd" --yes
    expect_status 0
    run_sac_notty undo -c "$snd"
    expect_status 0
    expect_out_contains "sac-tls restart -c $snd"
    expect_unchanged "$snd/main.cf" "$SCRATCH/original"
}
