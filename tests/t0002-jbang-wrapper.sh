# The ./jbang wrapper: it bootstraps JBang from Maven Central when none is installed, and
# hands over to an installed JBang when there is one.

test_without_jbang_installed_the_wrapper_bootstraps_it_and_runs_the_script() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    # A clean wrapper cache and JBang home: nothing of an earlier run may help.
    JBANG_WRAPPER_HOME=$SCRATCH/wrapper JBANG_DIR=$SCRATCH/jbang-home \
        "$ROOT/jbang" "$ROOT/sac-tls.java" --version >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "sac-tls "
    expect_err_contains "Bootstrapping JBang 0.132.1"
    [ -s "$SCRATCH/wrapper/classpath" ] || fail "no cached classpath"
    grep -q 'gson-2.13.1.jar' "$SCRATCH/wrapper/classpath" || fail "gson 2.13.1 not forced"
}

test_the_bootstrapped_jbang_passes_the_script_exit_status_through() {
    printf 'not a mail at all\n' >input.txt
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    "$ROOT/jbang" --quiet "$ROOT/sac-tls.java" --no-such-option <input.txt >"$out" 2>"$err"
    status=$?
    expect_status 2
    expect_out_empty
}

test_an_installed_jbang_on_path_is_preferred() {
    mkdir bin
    # A stand-in JBang that only reports how it was called.
    printf '#!/bin/sh\necho "installed jbang called with: $*"\n' >bin/jbang
    chmod +x bin/jbang
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    PATH="$SCRATCH/bin:$PATH" "$ROOT/jbang" version >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "installed jbang called with: version"
}

test_the_wrapper_on_path_does_not_call_itself() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    PATH="$ROOT:$PATH" timeout 60 "$ROOT/jbang" version >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "0.132.1"
}
