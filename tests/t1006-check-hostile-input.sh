# No input makes check print a stack trace or run long: each ends in a sentence or a verdict.
# shellcheck disable=SC2154  # $out, $err and $status are set by run_sac (lib.sh)

test_binary_garbage_is_not_mail() {
    head -c 300000 /dev/urandom >garbage.bin
    run_sac check garbage.bin
    expect_status 2
    expect_out_empty
    expect_one_error_line
    expect_err_contains "does not look like an e-mail message"
}

test_an_empty_file_is_one_error_line() {
    : >empty.eml
    run_sac check empty.eml
    expect_status 2
    expect_one_error_line
    expect_err_contains "empty.eml is empty"
}

test_a_directory_is_one_error_line() {
    mkdir inbox
    run_sac check inbox
    expect_status 2
    expect_one_error_line
    expect_err_contains "inbox is a directory"
}

test_a_missing_file_is_one_error_line() {
    run_sac check nowhere.eml
    expect_status 2
    expect_one_error_line
    expect_err_contains "cannot read nowhere.eml: there is no such file."
}

test_a_100_mb_line_without_a_field_is_not_mail_and_is_fast() {
    head -c 100000000 /dev/zero | tr '\0' 'a' >long-line.txt
    SECONDS=0
    run_sac check long-line.txt
    expect_status 2
    expect_one_error_line
    [ "$SECONDS" -le 10 ] || fail "took $SECONDS s"
}

test_a_100_mb_header_line_is_cut_and_the_message_still_judged() {
    {
        printf 'Received: from relay.example.net ([198.51.100.7]) by mx.example.com with ESMTP'
        printf ' id 1; Thu, 3 Dec 2026 10:00:00 +0000 (UTC) '
        head -c 100000000 /dev/zero | tr '\0' 'x'
        printf '\nSubject: long\n\nbody\n'
    } >long-field.eml
    SECONDS=0
    run_sac check --json long-field.eml
    expect_status 1
    expect_json '.messages[0] | [.verdict, .subject]' '["unencrypted","long"]'
    [ "$SECONDS" -le 10 ] || fail "took $SECONDS s"
}

test_ten_thousand_nested_parentheses_are_parsed() {
    {
        printf 'Received: from relay.example.net ([198.51.100.7]) '
        printf '(%.0s' $(seq 10000)
        printf ')%.0s' $(seq 10000)
        printf ' by mx.example.com with ESMTPS id 2; Thu, 3 Dec 2026 10:00:00 +0000\n\n'
    } >nested.eml
    run_sac check --json nested.eml
    expect_status 0
    expect_json '.messages[0].deliveryHop | [.by, .with]' '["mx.example.com","ESMTPS"]'
    expect_err_empty
}

test_an_unclosed_comment_is_not_an_error() {
    printf 'Received: from a.example.net (((([198.51.100.7] by mx.example.com with ESMTP\n\n' \
        >unclosed.eml
    run_sac check unclosed.eml
    expect_status 3
    expect_err_empty
}

test_control_characters_in_headers_do_not_reach_the_terminal() {
    run_sac check "$FIXTURES/check/control-characters.eml"
    expect_status 1
    if grep -q "$(printf '\033')" "$out"; then fail "stdout holds an escape character"; fi
    if grep -q "$(printf '\007')" "$out"; then fail "stdout holds a bell character"; fi
    expect_out_contains "?]0;title?colours"
}

test_latin1_bytes_in_a_header_are_read_without_error() {
    {
        printf 'Received: from relay.example.net ([198.51.100.7]) by mx.example.com with ESMTPS'
        printf ' id 3; Thu, 3 Dec 2026 10:00:00 +0000\nSubject: Gr\374\337e\n\n'
    } >latin1.eml
    run_sac check --json latin1.eml
    expect_status 0
    expect_json '.messages[0].subject' '"Grüße"'
}
