# check --help teaches the command; usage errors are one sentence and exit 2.

test_help_lists_the_exit_codes_and_examples() {
    run_sac check --help
    expect_status 0
    expect_out_contains "Exit codes:"
    expect_out_contains "  0   every message was handed over encrypted"
    expect_out_contains "  1   at least one message was handed over without TLS"
    expect_out_contains "  2   usage error, or the input is not a mail message"
    expect_out_contains "  3   none unencrypted, but for some the headers cannot tell"
    expect_out_contains "Examples:"
    expect_out_contains "sac-tls check message.eml"
    expect_err_empty
}

test_an_unknown_option_is_a_usage_error() {
    run_sac check --no-such-option
    expect_status 2
    expect_out_empty
    expect_err_contains "Unknown option: '--no-such-option'"
}

test_from_without_a_value_is_a_usage_error() {
    run_sac check --from
    expect_status 2
    expect_err_contains "Missing required parameter for option '--from'"
}

test_a_missing_file_stops_before_any_output() {
    run_sac check --json "$FIXTURES/check/gmail-tls13.eml" no-such-file.eml
    expect_status 2
    expect_out_empty
    expect_one_error_line
    expect_err_contains "cannot read no-such-file.eml: there is no such file."
}
