# sac-tls log on hand-written logs: every TLS class, failures, formats, and odd input.

LOG=$FIXTURES/log

test_postfix_3_7_log_counts_every_class_and_failure_exactly() {
    run_sac log --json "$LOG/postfix37.log"
    expect_status 1
    expect_json '[.deliveries, .encrypted, .cleartext]' '[9,5,4]'
    expect_json '.byClass' \
        '{"Verified":1,"Trusted":2,"Untrusted":1,"Anonymous":1,"cleartext":4,"Unknown":0}'
    expect_json '.byStatus' '{"sent":7,"deferred":1,"bounced":1}'
    expect_json '[.cannotStartTls, .tlsDeferrals, .tlsBounces, .loopbackLeftOut]' '[2,2,0,1]'
    expect_json '.domains[0]' '{"domain":"gmail.com","deliveries":2,"encrypted":2}'
    expect_json '[.domains[] | select(.domain == "plain.example") | .encrypted]' '[0]'
    expect_json '[.cleartextDeliveries[].domain]' \
        '["plain.example","plain.example","broken.example","bounce.example"]'
    expect_err_empty
}

test_a_later_message_on_the_same_process_and_relay_without_tls_is_cleartext() {
    run_sac log --json "$LOG/postfix37.log"
    expect_json '[.cleartextDeliveries[] | select(.relay | startswith("gmail")) | .time]' \
        '["Nov 30 09:00:06"]'
}

test_text_report_shows_totals_domains_and_the_cleartext_list() {
    run_sac log "$LOG/postfix37.log"
    expect_status 1
    expect_out_contains "Remote deliveries by the smtp client: 9"
    expect_out_contains "encrypted          5  (55.6%)"
    expect_out_contains "cleartext          4  (44.4%)"
    expect_out_contains "Cannot start TLS: 2"
    expect_out_contains "Left out: 1 deliveries to relays on this host"
    expect_out_contains "plain.example                 2          0  0.0%"
    expect_out_contains "Nov 30 09:00:07  plain.example  via mx.plain.example[192.0.2.80]:25"
    expect_err_empty
}

test_postfix_3_11_tls_field_decides_encryption() {
    run_sac log --json "$LOG/tls-field-3.11.log"
    expect_status 1
    expect_json '.byClass' \
        '{"Verified":1,"Trusted":2,"Untrusted":0,"Anonymous":0,"cleartext":2,"Unknown":1}'
    expect_json '[.deliveries, .encrypted, .tlsDeferrals]' '[6,4,1]'
    expect_json '[.cleartextDeliveries[].domain]' '["b.example","e.example"]'
}

test_journalctl_short_and_short_iso_output_are_read() {
    run_sac log --json "$LOG/journal-short.log"
    expect_status 1
    expect_json '[.deliveries, .byClass.Untrusted, .cleartext]' '[2,1,1]'
    run_sac log --json "$LOG/journal-short-iso.log"
    expect_status 1
    expect_json '[.deliveries, .byClass.Verified, .byClass.Anonymous, .cleartext]' '[3,1,1,1]'
    expect_json '.cleartextDeliveries[0].time' '"2026-12-02T10:15:03.123456+00:00"'
}

test_since_leaves_out_older_deliveries() {
    run_sac log --json --since '2026-12-02 09:00' "$LOG/journal-short-iso.log"
    expect_status 1
    expect_json '[.deliveries, .byClass.Anonymous, .cleartext]' '[2,1,1]'
    run_sac log --json --since '2026-12-02T10:00:00' "$LOG/journal-short-iso.log"
    expect_json '[.deliveries, .cleartext]' '[1,1]'
}

test_since_that_is_not_a_time_is_a_usage_error() {
    run_sac log --since yesterdayish "$LOG/postfix37.log"
    expect_status 2
    expect_out_empty
    expect_one_error_line
    expect_err_contains "--since 'yesterdayish' is not a time"
}

test_a_log_without_deliveries_exits_3() {
    run_sac log --json "$LOG/no-deliveries.log"
    expect_status 3
    expect_json '[.deliveries, .cannotStartTls, .domains]' '[0,0,[]]'
    run_sac log "$LOG/no-deliveries.log"
    expect_status 3
    expect_err_contains "no remote delivery by the smtp client found"
}

test_an_all_encrypted_log_exits_0() {
    grep -v 'mx[.]two' "$LOG/journal-short.log" >all-tls.log
    run_sac log all-tls.log
    expect_status 0
    expect_out_contains "cleartext          0  (0.0%)"
}

test_non_utf8_bytes_neither_break_counts_nor_json() {
    run_sac log --json "$LOG/non-utf8.log"
    expect_status 1
    expect_json '[.deliveries, .byClass.Trusted, .cleartext]' '[2,1,1]'
    run_sac log "$LOG/non-utf8.log"
    expect_status 1
    expect_out_lacks $'\x1b'
    expect_out_contains "café.example"
}

test_a_truncated_last_line_is_ignored_and_earlier_lines_count() {
    head -c -1 "$LOG/journal-short.log" >no-final-newline.log
    grep 'one.example' "$LOG/journal-short.log" >cut.log
    printf '%s' "Dec 02 08:15:09 mx postfix/smtp[812]: 9F9F9F9F9F: to=<z@cut.example>, rel" \
        >>cut.log
    run_sac log --json no-final-newline.log
    expect_json '.deliveries' '2'
    run_sac log --json cut.log
    expect_status 0
    expect_json '[.deliveries, .encrypted]' '[1,1]'
}

test_standard_input_is_read_with_a_dash() {
    run_sac_stdin "$LOG/postfix37.log" log --json -
    expect_status 1
    expect_json '[.deliveries, .sources]' '[9,["standard input"]]'
}

test_rotated_gzip_files_are_read_oldest_first_whatever_the_argument_order() {
    # The TLS summary line ends mail.log.1; its delivery line opens mail.log: only read in
    # order (mail.log.2.gz, mail.log.1, mail.log) is that delivery encrypted.
    head -n 3 "$LOG/journal-short.log" | tail -n 1 >mail.log.1
    tail -n 2 "$LOG/journal-short.log" >mail.log
    grep '0A1B2C3D4E' "$LOG/journal-short.log" | sed 's/0A1B2C3D4E/0F0F0F0F0F/' |
        gzip >mail.log.2.gz
    run_sac log --json mail.log mail.log.1 mail.log.2.gz
    expect_status 1
    expect_json '.sources' '["mail.log.2.gz","mail.log.1","mail.log"]'
    expect_json '[.deliveries, .byClass.Untrusted, .cleartext]' '[3,1,2]'
    expect_json '[.cleartextDeliveries[].domain]' '["one.example","two.example"]'
}

test_a_corrupt_gzip_file_is_reported_and_the_rest_is_counted() {
    gzip -c "$LOG/postfix37.log" | head -c 300 >broken.log.1.gz
    cp "$LOG/journal-short.log" broken.log
    run_sac log --json broken.log broken.log.1.gz
    expect_err_contains "broken.log.1.gz ends early or is not valid gzip"
    expect_json '.deliveries >= 2' 'true'
}

test_a_missing_file_is_a_usage_error() {
    run_sac log no-such.log
    expect_status 2
    expect_out_empty
    expect_one_error_line
    expect_err_contains "cannot read no-such.log: there is no such file."
}

test_an_unreadable_file_exits_6() {
    [ "$(id -u)" -ne 0 ] || { skip "root reads every file"; return; }
    cp "$LOG/postfix37.log" secret.log && chmod 000 secret.log
    run_sac log secret.log
    expect_status 6
    expect_one_error_line
}

test_no_tls_line_at_all_warns_about_smtp_tls_loglevel() {
    grep -v 'TLS connection' "$LOG/postfix37.log" >loglevel0.log
    run_sac log --json loglevel0.log
    expect_status 1
    expect_err_contains "smtp_tls_loglevel"
    expect_json '.encrypted' '0'
}

test_loopback_relays_count_only_when_asked() {
    run_sac log --json --include-loopback "$LOG/postfix37.log"
    expect_json '[.deliveries, .loopbackLeftOut]' '[10,0]'
}

test_help_teaches_options_examples_and_exit_codes() {
    run_sac log --help
    expect_status 0
    expect_out_contains "--since=TIME"
    expect_out_contains "--json"
    expect_out_contains "Examples:"
    expect_out_contains "Exit codes:"
    expect_out_contains "3   no remote delivery found in the log"
    expect_out_lacks "prove"
}

test_since_an_age_reads_syslog_time_stamps_of_this_year() {
    local line='postfix/smtp[77]: 0A0A0A0A0A: to=<x@DOMAIN>, relay=mx.DOMAIN[192.0.2.1]:25,'
    line="$line delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"
    {
        echo "$(LC_ALL=C date -d '3 hours ago' '+%b %e %H:%M:%S') mx ${line//DOMAIN/old.example}"
        echo "$(LC_ALL=C date -d '10 minutes ago' '+%b %e %H:%M:%S') mx ${line//DOMAIN/new.example}"
    } >recent.log
    run_sac log --json --since 1h recent.log
    expect_status 1
    expect_json '[.domains[].domain]' '["new.example"]'
    run_sac log --json --since 1d recent.log
    expect_json '.deliveries' '2'
}

test_ipv6_relays_are_matched_and_ipv6_loopback_is_left_out() {
    run_sac log --json "$LOG/ipv6.log"
    expect_status 0
    expect_json '[.deliveries, .byClass.Verified, .loopbackLeftOut]' '[1,1,1]'
}

test_a_config_directory_without_main_cf_is_a_usage_error() {
    run_sac log -c "$SCRATCH"
    expect_status 2
    expect_one_error_line
    expect_err_contains "holds no main.cf"
}
