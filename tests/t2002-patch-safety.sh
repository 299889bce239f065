# How patch writes: confirmation, dry run, idempotence, backup, owner and mode, symbolic
# links, and one clear sentence with main.cf untouched for each thing that can go wrong.
# shellcheck source=tests/maincf.sh
. "$ROOT/tests/maincf.sh"

plain_config() {
    new_config "$@" <<'EOF'
myhostname = mx.example.org
mydestination = localhost
EOF
    cp "$CONF/main.cf" "$SCRATCH/original"
}

backups() {
    find "$CONF" -maxdepth 1 -name 'main.cf.sac-tls.*' | wc -l
}

test_without_a_terminal_patch_needs_yes_and_writes_nothing() {
    plain_config
    run_sac_notty patch -c "$CONF"
    expect_status 4
    expect_out_contains "+smtp_tls_security_level = may"
    expect_err_contains "rerun with --yes"
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
    [ "$(backups)" -eq 0 ] || fail "a backup was made"
}

test_the_answer_comes_from_the_terminal_not_stdin() {
    plain_config
    echo y >"$SCRATCH/yes"
    # The terminal answers n while stdin holds y.
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    printf 'n\n' | script -qec "$(printf '%q ' "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" \
        patch -c "$CONF") <$(printf '%q' "$SCRATCH/yes") 2>$(printf '%q' "$err")" \
        /dev/null >"$out"
    status=$?
    expect_status 4
    expect_out_contains "Write these changes to main.cf? [y/N]"
    expect_err_contains "you did not confirm"
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
}

test_yes_on_the_terminal_writes_a_backup_and_the_new_file() {
    plain_config
    run_sac_tty $'y\n' patch -c "$CONF"
    expect_status 0
    expect_out_contains "Wrote $CONF/main.cf; the previous file is kept as $CONF/main.cf.sac-tls."
    expect_unchanged "$(find "$CONF" -name 'main.cf.sac-tls.*')" "$SCRATCH/original"
    expect_effective smtp_tls_security_level may
}

test_dry_run_writes_nothing_and_reports_the_change() {
    plain_config
    run_sac patch -c "$CONF" --dry-run --json
    expect_status 0
    expect_json '[.changed, .dry_run, .written, .backup]' '[true,true,false,null]'
    expect_json .parameters.smtp_tls_loglevel.after '"1"'
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
    [ "$(find "$CONF" -newer "$SCRATCH/original" | wc -l)" -eq 0 ] || fail "a file was written"
}

test_a_second_run_changes_nothing_and_says_so() {
    plain_config
    run_sac patch -c "$CONF" --yes
    expect_status 0
    cp "$CONF/main.cf" "$SCRATCH/patched"
    run_sac patch -c "$CONF" --yes --json
    expect_status 0
    expect_json '[.changed, .written, .diff]' '[false,false,""]'
    run_sac patch -c "$CONF" --yes
    expect_out_contains "nothing to change, nothing written"
    expect_unchanged "$CONF/main.cf" "$SCRATCH/patched"
    [ "$(backups)" -eq 1 ] || fail "expected exactly one backup, found $(backups)"
}

test_owner_group_and_mode_are_kept_for_main_cf_and_its_backup() {
    plain_config
    chown root:postfix "$CONF/main.cf"
    chmod 640 "$CONF/main.cf"
    run_sac patch -c "$CONF" --yes
    expect_status 0
    local file
    for file in "$CONF/main.cf" "$CONF"/main.cf.sac-tls.*; do
        [ "$(stat -c %U:%G:%a "$file")" = root:postfix:640 ] \
            || fail "$file is $(stat -c %U:%G:%a "$file"), expected root:postfix:640"
    done
}

test_a_symlinked_main_cf_is_edited_at_its_target() {
    plain_config "$SCRATCH/real"
    mkdir -p "$SCRATCH/etc"
    cp "$SCRATCH/real/master.cf" "$SCRATCH/etc/"
    ln -s ../real/main.cf "$SCRATCH/etc/main.cf"
    CONF=$SCRATCH/etc
    run_sac patch -c "$CONF" --yes
    expect_status 0
    [ -L "$CONF/main.cf" ] || fail "main.cf is no longer a symbolic link"
    grep -q '^smtp_tls_security_level = may$' "$SCRATCH/real/main.cf" || fail "target not edited"
    [ "$(find "$SCRATCH/real" -name 'main.cf.sac-tls.*' | wc -l)" -eq 1 ] \
        || fail "the backup is not beside the target"
}

test_mail_config_names_the_config_directory() {
    plain_config
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    MAIL_CONFIG=$CONF "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" patch --dry-run >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "config directory $CONF "
}

test_not_root_is_one_sentence_and_main_cf_is_untouched() {
    plain_config
    chmod -R a+rX "$CONF"
    run_sac_as_nobody patch -c "$CONF" --yes
    expect_status 6
    expect_err_contains "must run as root"
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
}

test_an_unreadable_main_cf_is_one_sentence() {
    plain_config
    chmod a+rx "$CONF"
    chmod 600 "$CONF/main.cf"
    run_sac_as_nobody patch -c "$CONF" --dry-run
    expect_status 6
    expect_err_contains "not allowed to read $CONF/main.cf"
    expect_one_error_line
}

test_a_missing_main_cf_or_config_directory_is_one_sentence() {
    mkdir -p "$SCRATCH/empty"
    run_sac patch -c "$SCRATCH/empty" --dry-run
    expect_status 5
    expect_err_contains "holds no main.cf"
    expect_one_error_line
    run_sac patch -c "$SCRATCH/nowhere" --dry-run
    expect_status 5
    expect_err_contains "does not exist"
    expect_one_error_line
}

test_no_postfix_installed_is_one_sentence() {
    unshare -m true 2>/dev/null || { skip "cannot make a mount namespace"; return; }
    plain_config
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    # shellcheck disable=SC2016
    unshare -m bash -c 'for p in /usr/sbin/postconf /usr/sbin/postfix; do
            mount --bind /dev/null "$p" || exit 99; done
        exec "$@"' unshare "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" patch -c "$CONF" --yes \
        >"$out" 2>"$err"
    status=$?
    [ "$status" -ne 99 ] || { skip "cannot hide postconf in a mount namespace"; return; }
    expect_status 5
    expect_err_contains "Postfix is not installed here"
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
}

# mount_tmpfs DIR SIZE: a small file system of our own, unmounted when the test ends.
mount_tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" sac-tls-test "$1" || return 1
    at_exit umount -l "$1"
}

test_a_read_only_file_system_is_one_sentence_and_main_cf_is_untouched() {
    mount_tmpfs "$SCRATCH/ro" 1m || { skip "cannot mount a tmpfs"; return; }
    plain_config "$SCRATCH/ro/etc"
    mount -o remount,ro "$SCRATCH/ro" || { skip "cannot remount read-only"; return; }
    run_sac patch -c "$CONF" --yes
    expect_status 7
    expect_err_contains "is mounted read-only"
    expect_err_contains "Nothing was changed."
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
}

test_a_full_disk_is_one_sentence_and_main_cf_is_untouched() {
    mount_tmpfs "$SCRATCH/full" 64k || { skip "cannot mount a tmpfs"; return; }
    plain_config "$SCRATCH/full/etc"
    dd if=/dev/zero of="$SCRATCH/full/filler" bs=4k 2>/dev/null
    run_sac patch -c "$CONF" --yes
    expect_status 7
    expect_err_contains "because the disk is full"
    expect_one_error_line
    expect_unchanged "$CONF/main.cf" "$SCRATCH/original"
    [ -z "$(find "$CONF" -name '.main.cf.sac-tls-tmp-*')" ] || fail "a temporary file was left"
}
