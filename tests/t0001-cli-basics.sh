# The command line itself: help, version, usage errors.

test_help_lists_every_command_and_exits_0() {
    run_sac --help
    expect_status 0
    for command in check patch restart undo fix log; do
        expect_out_contains "  $command "
    done
    expect_err_empty
}

test_version_names_the_tool() {
    run_sac --version
    expect_status 0
    expect_out_contains "sac-tls "
}

test_an_unknown_option_is_a_usage_error_on_stderr() {
    run_sac --no-such-option
    expect_status 2
    expect_out_empty
    expect_err_contains "Unknown option: '--no-such-option'"
    expect_err_contains "Try 'sac-tls --help'"
}

test_the_script_runs_directly_through_its_first_line() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    PATH="$ROOT:$PATH" "$ROOT/sac-tls.java" --version >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "sac-tls "
}

test_the_catalog_alias_points_at_the_script() {
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    (cd "$ROOT" && ./jbang --quiet sac-tls --version) >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "sac-tls "
}

test_a_mistyped_command_gets_a_suggestion() {
    run_sac chek message.eml
    expect_status 2
    expect_out_empty
    expect_err_contains "Did you mean: sac-tls check"
}

test_a_command_named_after_global_options_still_runs() {
    run_sac --verbose check --help
    expect_status 0
    expect_out_contains "Usage: sac-tls check"
}
