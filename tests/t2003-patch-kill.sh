# A kill -9 at any moment of `patch` leaves main.cf byte for byte the old file or the new
# one. The hidden SAC_TLS_TEST_PAUSE_MS hook makes the writer announce each step on stderr
# and pause after it, so the test can kill it right after every step in turn; then kills
# at random delays, without the hook, sample the whole run.
# shellcheck source=tests/maincf.sh
. "$ROOT/tests/maincf.sh"

# prepare: $CONF/main.cf holds the original again, with no backups; sets $OLD and $NEW to
# the checksums of the original and of the patched file.
prepare() {
    cp "$SCRATCH/original" "$CONF/main.cf"
    rm -f "$CONF"/main.cf.sac-tls.*
}

setup_files() {
    new_config "$SCRATCH/etc" <<'EOF2'
myhostname = mx.example.org
smtp_tls_loglevel = 0
mydestination = localhost
EOF2
    cp "$CONF/main.cf" "$SCRATCH/original"
    sac_java patch -c "$CONF" --yes >/dev/null 2>&1 || fail "a plain patch failed"
    NEW=$(sha256sum <"$CONF/main.cf")
    OLD=$(sha256sum <"$SCRATCH/original")
    [ "$OLD" != "$NEW" ] || fail "the patch changed nothing"
}

# classify: print "old" or "new" for main.cf, or fail when it is neither.
classify() {
    case "$(sha256sum <"$CONF/main.cf")" in
        "$OLD") echo old ;;
        "$NEW") echo new ;;
        *) fail "main.cf is neither the old nor the new file after a kill ($1)"; echo torn ;;
    esac
}

test_a_kill_after_each_write_step_leaves_the_old_or_the_new_file() {
    setup_files
    sac_classpath
    local step pid seen outcomes=""
    for step in 1 2 3 4 5; do
        prepare
        SAC_TLS_TEST_PAUSE_MS=400 sac_java patch -c "$CONF" --yes >/dev/null \
            2>"$SCRATCH/steps" &
        pid=$!
        for _ in $(seq 1 200); do
            seen=$(grep -c '^sac-tls: step: ' "$SCRATCH/steps")
            [ "$seen" -lt "$step" ] || break
            sleep 0.05
        done
        # The writer pauses 400 ms after each announcement; let the line be complete.
        sleep 0.05
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        [ "$seen" -ge "$step" ] || fail "step $step was never announced"
        outcomes="$outcomes $(grep '^sac-tls: step: ' "$SCRATCH/steps" | sed -n "${step}p" \
            | sed 's/^sac-tls: step: //; s/ /_/g')=$(classify "step $step")"
    done
    echo "    kills after each step:$outcomes"
    [ "$outcomes" = " temporary_file_written=old renamed=old backup_written=old\
 temporary_file_written=old renamed=new" ] || fail "unexpected outcomes:$outcomes"

    # The next run finishes the job and removes the temporary file the kill left behind.
    prepare
    sac_java patch -c "$CONF" --yes >/dev/null 2>&1 || fail "the run after the kills failed"
    [ "$(classify "after the kills")" = new ] || fail "the run after the kills did not patch"
    [ -z "$(find "$CONF" -name '.main.cf.sac-tls-tmp-*')" ] || fail "a temporary file was left"
}

test_kills_at_random_moments_leave_the_old_or_the_new_file() {
    setup_files
    sac_classpath
    local i pid delay old=0 new=0
    for i in $(seq 1 10); do
        prepare
        sac_java patch -c "$CONF" --yes >/dev/null 2>&1 &
        pid=$!
        delay=$(printf "%d.%03d" $((RANDOM % 3)) $((RANDOM % 1000)))
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        case "$(classify "after $delay s")" in
            old) old=$((old + 1)) ;;
            new) new=$((new + 1)) ;;
        esac
    done
    echo "    10 random kills: $old left the old file, $new the new one, none a mix"
}
