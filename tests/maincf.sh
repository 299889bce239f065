#!/usr/bin/env bash
#
# tests/maincf.sh: helpers for the tests of patch, restart, undo and fix. Source it after
# lib.sh. Most of these tests need only a config directory that postconf can read, not a
# running Postfix:
#   new_config [DIR]           make DIR (default $SCRATCH/etc) a config directory whose
#                              main.cf is standard input, with Debian's master.cf; sets $CONF
#   age_config                 date $CONF/main.cf back a minute, as Postfix likes it
#   effective NAME             the value postconf reads from $CONF/main.cf, $names expanded
#   expect_effective NAME VAL  that value is VAL
#   expect_unchanged FILE COPY FILE is byte for byte COPY
#   run_sac_notty ARGS...      run_sac in a new session, so there is no terminal to ask on
#   run_sac_tty INPUT ARGS...  run sac-tls on a pseudo-terminal that receives INPUT
#   run_sac_as_nobody ARGS...  run sac-tls as the unprivileged user nobody
#   sac_java ARGS...           run sac-tls's built jar with java directly, in the
#                              background when called as `sac_java ... &`: then $! is the
#                              JVM itself, so a test can kill it by its PID

# shellcheck disable=SC2120
new_config() {
    CONF=${1:-$SCRATCH/etc}
    mkdir -p "$CONF"
    cat >"$CONF/main.cf"
    cp /etc/postfix/master.cf "$CONF/master.cf"
    age_config
}

# age_config: Postfix waits until a configuration file is a second old before reading it,
# which costs every test a second or two; a real main.cf is older than that anyway.
age_config() {
    touch -d '-1 minute' "$CONF/main.cf" "$CONF/master.cf"
}

effective() {
    age_config
    postconf -c "$CONF" -xh "$1" 2>/dev/null
}

expect_effective() {
    local got
    got=$(effective "$1")
    [ "$got" = "$2" ] || fail "postconf reads $1 = '$got', expected '$2'"
}

expect_unchanged() {
    cmp -s "$1" "$2" || { fail "$1 changed"; diff "$2" "$1" | head -20 | sed 's/^/    | /'; }
}

run_sac_notty() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    setsid -w "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" "$@" </dev/null >"$out" 2>"$err"
    status=$?
}

# The pseudo-terminal's output (prompts, echo, and stdout) goes to $out; stderr to $err.
run_sac_tty() {
    local input=$1 command
    shift
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    command=$(printf '%q ' "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" "$@")
    printf '%s' "$input" | script -qec "$command 2>$(printf '%q' "$err")" /dev/null >"$out"
    status=$?
}

# The jars are copied into $SCRATCH so that nobody can read them too.
sac_classpath() {
    local classpath=$SCRATCH/classpath jar
    if [ ! -d "$classpath" ]; then
        mkdir -p "$classpath"
        for jar in $("$ROOT/jbang" info classpath "$ROOT/sac-tls.java" 2>/dev/null | tr ':' ' ')
        do
            cp "$jar" "$classpath/"
        done
        chmod -R a+rX "$classpath"
        chmod a+rx "$SCRATCH"
    fi
}

sac_java() {
    sac_classpath
    if [ "$BASHPID" != "$$" ]; then
        exec java -cp "$SCRATCH/classpath/*" sac_tls "$@"
    fi
    java -cp "$SCRATCH/classpath/*" sac_tls "$@"
}

run_sac_as_nobody() {
    sac_classpath
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        java -cp "$SCRATCH/classpath/*" sac_tls "$@" </dev/null >"$out" 2>"$err"
    status=$?
}
