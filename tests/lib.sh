#!/usr/bin/env bash
#
# tests/lib.sh: the helpers every test file uses, and the loop that runs one file.
#
# A test is a function test_NAME that runs sac-tls with run_sac and states what it expects
# with the expect_* helpers; a failed expectation prints why and marks the test failed, and
# the test goes on so one run shows every broken expectation. `skip REASON` ends a test as
# skipped (for something this machine lacks). Each test starts in its own scratch
# directory ($SCRATCH), removed afterwards; `at_exit CMD...` registers cleanup (stopping
# a Postfix instance, say) that runs whatever happens.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FIXTURES=$ROOT/tests/fixtures
# The shared corpus sits beside the project when it is checked out in the usual layout.
CORPUS=${SAC_TLS_CORPUS:-$ROOT/../shared/corpus}

# run_sac ARGS...: run sac-tls through the project's jbang; sets $status, $out, $err
# (file names) so expectations can read stdout and stderr separately.
run_sac() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" "$@" >"$out" 2>"$err"
    status=$?
}

# run_sac_stdin FILE ARGS...: the same, with FILE on standard input.
run_sac_stdin() {
    local input=$1
    shift
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" "$@" <"$input" >"$out" 2>"$err"
    status=$?
}

fail() {
    echo "    FAIL: $*"
    TEST_FAILED=1
}

show() {
    echo "    --- $1:"
    head -c 2000 "$2" | sed 's/^/    | /'
}

expect_status() {
    if [ "$status" -ne "$1" ]; then
        fail "exit status $status, expected $1"
        show stdout "$out"
        show stderr "$err"
    fi
}

expect_out_contains() {
    grep -qF -- "$1" "$out" || { fail "stdout lacks: $1"; show stdout "$out"; }
}

expect_out_lacks() {
    if grep -qF -- "$1" "$out"; then fail "stdout has: $1"; show stdout "$out"; fi
}

expect_err_contains() {
    grep -qF -- "$1" "$err" || { fail "stderr lacks: $1"; show stderr "$err"; }
}

expect_out_empty() {
    [ ! -s "$out" ] || { fail "stdout is not empty"; show stdout "$out"; }
}

expect_err_empty() {
    [ ! -s "$err" ] || { fail "stderr is not empty"; show stderr "$err"; }
}

# expect_one_error_line: stderr is a single "sac-tls: ..." sentence, no stack trace.
expect_one_error_line() {
    local lines
    lines=$(wc -l <"$err")
    if [ "$lines" -ne 1 ] || ! grep -q '^sac-tls: ' "$err"; then
        fail "stderr is not one 'sac-tls:' line"
        show stderr "$err"
    fi
    if grep -qE '^\s+at |Exception|Error:' "$err"; then
        fail "stderr shows a stack trace or exception name"
    fi
}

# expect_json EXPR EXPECTED: a jq expression over stdout gives EXPECTED (compact form).
expect_json() {
    local got
    got=$(jq -c "$1" <"$out" 2>&1)
    [ "$got" = "$2" ] || { fail "jq '$1' gave $got, expected $2"; show stdout "$out"; }
}

skip() {
    TEST_SKIPPED=$*
}

at_exit() {
    CLEANUP+=("$(printf '%q ' "$@")")
}

run_cleanup() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP[i]}" >/dev/null 2>&1
    done
    CLEANUP=()
}

# run-file FILE RESULTS: run every test_* function of FILE, each in its own bash process
# with a time limit, appending "pass NAME", "fail NAME" or "skip NAME" to RESULTS.
run_file() {
    local file=$1 results=$2 name label scratch outcome
    grep -oE '^test_[A-Za-z0-9_]+' "$file" | while read -r name; do
        label="$(basename "$file" .sh): ${name#test_}"
        label=${label//_/ }
        scratch=$(mktemp -d)
        timeout --kill-after=10 "${TEST_TIMEOUT:-300}" \
            bash "${BASH_SOURCE[0]}" run-test "$file" "$name" "$scratch"
        outcome=$?
        if [ -f "$scratch/.skipped" ]; then
            echo "skip - $label ($(cat "$scratch/.skipped"))"
            echo "skip $label" >>"$results"
        elif [ "$outcome" -ne 0 ]; then
            [ "$outcome" -ne 124 ] || echo "    FAIL: timed out after ${TEST_TIMEOUT:-300} s"
            echo "FAIL - $label"
            echo "fail $label" >>"$results"
        else
            echo "ok   - $label"
            echo "pass $label" >>"$results"
        fi
        rm -rf "$scratch"
    done
}

# run-test FILE NAME SCRATCH: run one test in SCRATCH; exit 0 when it passed.
run_test() {
    # shellcheck source=/dev/null
    source "$1"
    SCRATCH=$3 TEST_FAILED=0 TEST_SKIPPED='' CLEANUP=()
    cd "$SCRATCH" || exit 1
    trap run_cleanup EXIT
    trap 'exit 124' TERM
    "$2"
    [ -z "$TEST_SKIPPED" ] || echo "$TEST_SKIPPED" >"$SCRATCH/.skipped"
    exit "$TEST_FAILED"
}

case "${1:-}" in
    run-file) run_file "$2" "$3" ;;
    run-test) run_test "$2" "$3" "$4" ;;
esac
