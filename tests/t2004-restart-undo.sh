# restart and undo on a Postfix that is configured but not running: validation, rollback
# to the newest backup, and undo byte for byte. The running case is in t2010.
# shellcheck source=tests/maincf.sh
. "$ROOT/tests/maincf.sh"
# shellcheck source=tests/postfix.sh
. "$ROOT/tests/postfix.sh"

# stopped_instance: a complete instance in $CONF that `postfix check` accepts, not started.
stopped_instance() {
    pf_available || return 1
    CONF=$SCRATCH/pf
    pf_base "$CONF" "$(pf_port)" stopped >/dev/null
}

test_restart_of_a_stopped_postfix_validates_and_says_how_to_start_it() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    run_sac restart -c "$CONF"
    expect_status 0
    expect_out_contains "The configuration is valid. Postfix is not running"
    expect_out_contains "systemctl start postfix@-"
}

test_a_misspelt_level_makes_restart_restore_the_backup() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    run_sac patch -c "$CONF" --yes
    expect_status 0
    echo 'smtp_tls_security_level = mayy' >>"$CONF/main.cf"
    cp "$CONF/main.cf" "$SCRATCH/broken"
    run_sac restart -c "$CONF"
    expect_status 8
    expect_err_contains "restart failed: smtp_tls_security_level = mayy is not a level"
    expect_err_contains "main.cf was restored from $CONF/main.cf.sac-tls."
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$(ls "$CONF"/main.cf.sac-tls.*)"
    expect_unchanged "$(ls "$CONF"/main.cf.sac-tls-failed.*)" "$SCRATCH/broken"
}

test_a_missing_ca_file_and_a_bad_cache_type_fail_validation() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    run_sac patch -c "$CONF" --yes
    printf '%s\n' 'smtp_tls_CAfile = /nonexistent/ca.pem' \
        'smtp_tls_session_cache_database = nosuchtype:/tmp/x' >>"$CONF/main.cf"
    run_sac restart -c "$CONF"
    expect_status 8
    expect_err_contains "smtp_tls_CAfile = /nonexistent/ca.pem does not exist"
    expect_err_contains "uses the map type nosuchtype, which this Postfix does not support"
    expect_unchanged "$CONF/main.cf" "$(ls "$CONF"/main.cf.sac-tls.*)"
}

test_a_failed_postfix_check_without_a_backup_is_exit_9_and_untouched() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    echo 'default_process_limit = 10x' >>"$CONF/main.cf"
    cp "$CONF/main.cf" "$SCRATCH/broken"
    run_sac restart -c "$CONF"
    expect_status 9
    expect_err_contains "restart failed: postfix check failed ("
    expect_err_contains "bad numerical configuration"
    expect_err_contains "there is no sac-tls backup of main.cf"
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/broken"
}

test_restart_needs_root() {
    new_config <<<'myhostname = mx.example.org'
    chmod -R a+rX "$CONF"
    run_sac_as_nobody restart -c "$CONF"
    expect_status 6
    expect_err_contains "must run as root"
    expect_one_error_line
}

test_undo_restores_the_newest_backup_byte_for_byte() {
    new_config < <(printf 'myhostname = mx.example.org\r\nsmtp_tls_loglevel = 0')
    cp "$CONF/main.cf" "$SCRATCH/original"
    run_sac patch -c "$CONF" --yes
    cp "$CONF/main.cf" "$SCRATCH/patched"
    run_sac_notty undo -c "$CONF"
    expect_status 0
    expect_out_contains "-smtp_tls_security_level = may"
    expect_out_contains "Restored $CONF/main.cf from $CONF/main.cf.sac-tls."
    expect_out_contains "Postfix is not running"
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
    expect_unchanged "$(ls "$CONF"/main.cf.sac-tls-undone.*)" "$SCRATCH/patched"

    run_sac_notty undo -c "$CONF"
    expect_status 0
    expect_out_contains "already equals the newest backup"
}

test_undo_without_a_backup_is_exit_5() {
    new_config <<<'myhostname = mx.example.org'
    run_sac undo -c "$CONF"
    expect_status 5
    expect_err_contains "there is no sac-tls backup of main.cf in $CONF"
    expect_one_error_line
}

test_fix_on_a_stopped_postfix_patches_validates_and_says_to_start_it() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    run_sac_notty fix -c "$CONF" --yes
    expect_status 0
    expect_out_contains "+smtp_tls_security_level = may"
    expect_out_contains "Postfix is not running, so nothing was reloaded"
    expect_out_contains "0. Start Postfix"
    expect_out_contains "sendmail -C $CONF you@gmail.com"
    expect_effective smtp_tls_security_level may
}

test_fix_that_keeps_an_explicit_none_says_tls_stays_off() {
    stopped_instance || { skip "needs root and Postfix"; return; }
    echo 'smtp_tls_security_level = none' >>"$CONF/main.cf"
    run_sac_notty fix -c "$CONF" --yes
    expect_status 4
    expect_err_contains "outbound TLS stays off"
    expect_effective smtp_tls_security_level none
    expect_effective smtp_tls_loglevel 1
}
