# patch over many main.cf variants: each ends in the target state or is left alone for a
# stated reason, never with a lower security level. Results are read back with postconf.
# shellcheck source=tests/maincf.sh
. "$ROOT/tests/maincf.sh"

BUNDLE=/etc/ssl/certs/ca-certificates.crt
# shellcheck disable=SC2016
CACHE='btree:${data_directory}/smtp_scache'
CACHE_X=btree:$(postconf -dh data_directory 2>/dev/null)/smtp_scache

# expect_target_state: the four parameters as a fresh patch leaves them.
expect_target_state() {
    expect_effective smtp_tls_security_level may
    expect_effective smtp_tls_loglevel 1
    expect_effective smtp_tls_session_cache_database "$CACHE_X"
    expect_effective smtp_tls_CAfile "$BUNDLE"
}

test_debian_local_only_gets_all_four_settings() {
    new_config <<'EOF'
# See /usr/share/postfix/main.cf.dist for a commented, more complete version
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6
myhostname = mx.example.org
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
mydestination = $myhostname, localhost.example.org, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
inet_interfaces = loopback-only
EOF
    cp "$CONF/main.cf" "$SCRATCH/before"
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .changed true
    expect_json '.parameters.smtp_tls_security_level | [.before, .after, .changed]' \
        '["","may",true]'
    expect_json '.parameters.smtp_tls_loglevel | [.before, .after]' '["0","1"]'
    expect_target_state
    head -n 13 "$CONF/main.cf" >"$SCRATCH/head"
    expect_unchanged "$SCRATCH/head" "$SCRATCH/before"
    grep -qxF "smtp_tls_session_cache_database = $CACHE" "$CONF/main.cf" \
        || fail "the cache is not written with \${data_directory}"
}

test_debian_internet_site_only_gains_the_loglevel() {
    new_config <<'EOF'
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
compatibility_level = 3.6

# TLS parameters
smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level=may

smtp_tls_CApath=/etc/ssl/certs
smtp_tls_security_level=may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache

myhostname = mx.example.org
mydestination = $myhostname, localhost
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json '[.parameters[] | .changed]' '[false,true,false,false]'
    expect_json .parameters.smtp_tls_CAfile.reason '"smtp_tls_CApath already names /etc/ssl/certs"'
    # The diff adds the loglevel (under a blank line and a comment) and nothing else.
    expect_json '[.diff | split("\n")[] | select(test("^[-+]") and (test("^(---|[+]{3}) ") | not))]
        | [length, .[2]]' '[3,"+smtp_tls_loglevel = 1"]'

    expect_effective smtp_tls_security_level may
    expect_effective smtp_tls_loglevel 1
    expect_effective smtp_tls_CAfile ""
}

test_rhel_with_a_valid_cafile_and_capath_keeps_both() {
    mkdir -p "$SCRATCH/pki/certs"
    cp "$BUNDLE" "$SCRATCH/pki/ca-bundle.crt"
    new_config <<EOF
compatibility_level = 2
inet_interfaces = localhost
smtpd_tls_security_level = may
smtp_tls_CApath = $SCRATCH/pki/certs
smtp_tls_CAfile = $SCRATCH/pki/ca-bundle.crt
smtp_tls_security_level = may
EOF
    run_sac patch -c "$CONF" --yes
    expect_status 0
    expect_out_contains "kept: $SCRATCH/pki/ca-bundle.crt"
    expect_out_contains "      already a CA bundle"
    expect_effective smtp_tls_CAfile "$SCRATCH/pki/ca-bundle.crt"
    expect_effective smtp_tls_CApath "$SCRATCH/pki/certs"
    expect_effective smtp_tls_loglevel 1
    expect_effective smtp_tls_session_cache_database "$CACHE_X"
}

test_a_cafile_that_does_not_exist_is_replaced_by_the_system_bundle() {
    new_config <<'EOF'
smtp_tls_CApath = /etc/pki/tls/certs
smtp_tls_CAfile = /etc/pki/tls/certs/no-such-bundle.crt
smtp_tls_security_level = may
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_CAfile.reason \
        '"the current file does not exist, which turns outbound TLS off"'
    expect_target_state
    expect_effective smtp_tls_CApath /etc/pki/tls/certs
}

test_legacy_smtp_use_tls_becomes_an_explicit_may() {
    new_config <<'EOF'
smtp_use_tls = yes
smtp_tls_loglevel = 1
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_security_level.reason \
        '"states the level that the deprecated smtp_use_tls gave"'
    expect_target_state
    expect_effective smtp_use_tls yes
}

test_legacy_smtp_enforce_tls_is_never_lowered_to_may() {
    new_config <<'EOF'
smtp_use_tls = yes
smtp_enforce_tls = yes
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_security_level.changed false
    expect_json .parameters.smtp_tls_security_level.reason \
        '"already verify (through the legacy smtp_use_tls/smtp_enforce_tls), stronger than may"'
    expect_effective smtp_tls_security_level ""
    expect_effective smtp_enforce_tls yes
    expect_effective smtp_tls_loglevel 1

    new_config <<'EOF'
smtp_enforce_tls = yes
smtp_tls_enforce_peername = no
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_json .parameters.smtp_tls_security_level.reason \
        '"already encrypt (through the legacy smtp_use_tls/smtp_enforce_tls), stronger than may"'
    expect_effective smtp_tls_security_level ""
}

test_every_stronger_level_is_left_alone() {
    local level
    for level in encrypt fingerprint dane dane-only verify Secure; do
        new_config "$SCRATCH/$level" <<EOF
smtp_tls_security_level = $level
EOF
        run_sac patch -c "$CONF" --yes --json
        expect_status 0
        expect_json .parameters.smtp_tls_security_level.changed false
        expect_effective smtp_tls_security_level "$level"
        expect_effective smtp_tls_loglevel 1
    done
}

test_a_level_set_through_another_parameter_is_read_expanded() {
    new_config <<'EOF'
my_level = encrypt
my_loglevel = 2
smtp_tls_security_level = $my_level
smtp_tls_loglevel = ${my_loglevel}
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json '.parameters.smtp_tls_security_level | [.before, .changed]' '["encrypt",false]'
    expect_json '.parameters.smtp_tls_loglevel | [.before, .changed]' '["2",false]'
    # shellcheck disable=SC2016
    grep -qxF 'smtp_tls_security_level = $my_level' "$CONF/main.cf" || fail "\$name line changed"
    expect_effective smtp_tls_security_level encrypt
}

test_duplicates_are_replaced_with_their_continuation_lines() {
    new_config <<'EOF'
smtp_tls_loglevel = 0
smtp_tls_session_cache_database =
    hash:/var/lib/postfix/smtp_scache
mynetworks = 127.0.0.0/8
    [::1]/128
smtp_tls_loglevel =
# a comment inside the logical line stays

    0
mydestination = localhost
EOF
    run_sac patch -c "$CONF" --yes
    expect_status 0
    expect_target_state
    [ "$(grep -c '^smtp_tls_loglevel = 1$' "$CONF/main.cf")" -eq 2 ] \
        || fail "both loglevel entries should read 1"
    grep -q '^    0$' "$CONF/main.cf" && fail "a continuation line of the old value is left"
    grep -q '^    hash:' "$CONF/main.cf" && fail "the old cache continuation line is left"
    grep -qxF '# a comment inside the logical line stays' "$CONF/main.cf" || fail "comment lost"
    grep -qxF '    [::1]/128' "$CONF/main.cf" || fail "an unrelated continuation line was lost"
    expect_effective mynetworks '127.0.0.0/8 [::1]/128'
    expect_effective mydestination localhost
    expect_out_contains "this Postfix cannot use a hash session cache"
}

test_commented_out_settings_do_not_count() {
    new_config <<'EOF'
#smtp_tls_security_level = encrypt
  # smtp_tls_loglevel = 2
mydestination = localhost
#smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt
    other.example
EOF
    run_sac patch -c "$CONF" --yes
    expect_status 0
    expect_target_state
    expect_effective mydestination 'localhost other.example'
    grep -qxF '#smtp_tls_security_level = encrypt' "$CONF/main.cf" || fail "comment changed"
}

test_a_crlf_file_stays_crlf() {
    new_config < <(printf 'myhostname = a.example\r\nsmtp_tls_loglevel = 0\r\n%s\r\n' \
        'mydestination = localhost')
    run_sac patch -c "$CONF" --yes
    expect_status 0
    expect_target_state
    expect_effective myhostname a.example
    [ "$(grep -c $'\r$' "$CONF/main.cf")" -eq "$(wc -l <"$CONF/main.cf")" ] \
        || fail "a line lost its CRLF ending"
}

test_a_file_without_a_final_newline_is_not_glued() {
    new_config < <(printf 'myhostname = a.example\nrelayhost = [smtp.example.net]:587')
    run_sac patch -c "$CONF" --yes
    expect_status 0
    expect_target_state
    expect_effective relayhost '[smtp.example.net]:587'
    expect_out_contains "\\ No newline at end of file"
}

test_an_explicit_none_is_kept_without_a_terminal_and_said_so() {
    new_config <<'EOF'
smtp_tls_security_level = none
EOF
    run_sac_notty patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_security_level.changed false
    expect_json '.parameters.smtp_tls_security_level.reason | test("only when you confirm")' true
    expect_effective smtp_tls_security_level none
    expect_effective smtp_tls_loglevel 1
}

test_an_explicit_none_changes_when_confirmed_on_the_terminal() {
    new_config <<'EOF'
smtp_tls_security_level = none
EOF
    run_sac_tty $'y\ny\n' patch -c "$CONF"
    expect_status 0
    expect_out_contains "sets smtp_tls_security_level = none on purpose"
    expect_out_contains "Write these changes to main.cf? [y/N]"
    expect_target_state
}

test_an_unsupported_cache_type_is_fixed() {
    new_config <<'EOF'
smtp_tls_session_cache_database = lmdb:${data_directory}/smtp_scache
EOF
    postconf -c "$CONF" -m | grep -qx lmdb && { skip "this Postfix supports lmdb"; return; }
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_session_cache_database.reason \
        '"this Postfix cannot use a lmdb session cache"'
    expect_target_state
}

test_a_misspelt_level_is_left_for_the_admin_with_a_reason() {
    new_config <<'EOF'
smtp_tls_security_level = mayy
EOF
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .parameters.smtp_tls_security_level.changed false
    expect_json '.parameters.smtp_tls_security_level.reason | startswith("\"mayy\" is not")' true
    expect_effective smtp_tls_security_level mayy
}

test_master_cf_overrides_and_policy_maps_are_reported_not_changed() {
    new_config <<'EOF'
smtp_tls_policy_maps = hash:/etc/postfix/tls_policy
EOF
    postconf -c "$CONF" -P 'relay/unix/smtp_tls_security_level=encrypt'
    cp "$CONF/master.cf" "$SCRATCH/master.before"
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json .master_cf_overrides '["relay/unix/smtp_tls_security_level = encrypt"]'
    expect_err_contains "master.cf overrides main.cf for one service: relay/unix/"
    expect_err_contains "smtp_tls_policy_maps = hash:/etc/postfix/tls_policy sets TLS per"
    expect_unchanged "$CONF/master.cf" "$SCRATCH/master.before"
    expect_effective smtp_tls_policy_maps hash:/etc/postfix/tls_policy
}
