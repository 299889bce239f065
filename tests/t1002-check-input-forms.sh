# check finds the message in every form a user may have it in.

test_a_gmail_show_original_page_is_read_through_its_raw_message_pre() {
    run_sac check --json "$FIXTURES/check/gmail-show-original.html"
    expect_status 0
    expect_json '.messages[0].verdict' '"encrypted"'
    expect_json '.messages[0].subject' '"Saved from \"Show original\" & checked"'
    expect_json '.messages[0].deliveryHop | [.protocol, .cipher, .bits]' \
        '["TLSv1.3","TLS_AES_128_GCM_SHA256",128]'
}

test_another_page_is_read_from_its_longest_pre_or_textarea_with_header_fields() {
    run_sac check --json "$FIXTURES/check/webmail-textarea.html"
    expect_status 1
    expect_json '.messages[0].subject' '"Message source copied into a web form"'
    expect_json '.messages[0].deliveryHop.from' '"relay.example.net"'
}

test_a_page_without_a_message_source_is_one_error_line() {
    run_sac check "$FIXTURES/check/page-without-message.html"
    expect_status 2
    expect_out_empty
    expect_one_error_line
    expect_err_contains "is a web page without a message source in it"
}

test_a_pasted_block_with_the_value_on_the_line_after_the_tab_is_read() {
    run_sac check --json "$FIXTURES/check/pasted-outlook-tab.txt"
    expect_status 0
    expect_json '.messages[0].subject' '"Pasted from Outlook message properties"'
    expect_json '[.messages[0].hops[].by]' '["gw.example.com","EXCH01.corp.example.com"]'
    expect_json '.messages[0].deliveryHop | [.from, .protocol]' '["mail.example.org","TLSv1.2"]'
}

test_an_indented_paste_after_blank_lines_is_read() {
    run_sac check --json "$FIXTURES/check/pasted-indented.txt"
    expect_status 1
    expect_json '.messages[0].subject' '"Pasted with indentation from a chat window"'
    expect_json '.messages[0].deliveryHop.with' '"ESMTP"'
}

test_standard_input_is_read_with_a_dash_or_without_a_file() {
    run_sac_stdin "$FIXTURES/check/gmail-tls13.eml" check -
    expect_status 0
    expect_out_contains "standard input"
    run_sac_stdin "$FIXTURES/check/gmail-tls13.eml" check --json
    expect_status 0
    expect_json '.messages[0].source' '"standard input"'
}

test_an_mbox_gives_one_verdict_per_message_and_the_worst_exit_status() {
    run_sac check --json "$FIXTURES/check/inbox.mbox"
    expect_status 1
    expect_json '[.messages[].verdict]' '["encrypted","unencrypted","unknown"]'
    expect_json '[.messages[].subject]' \
        '["first, encrypted","second, not encrypted","third, unknown"]'
    expect_json '.messages[1].source' "\"$FIXTURES/check/inbox.mbox (message 2)\""
}

test_an_mbox_in_text_ends_with_a_count_of_the_verdicts() {
    run_sac check "$FIXTURES/check/inbox.mbox"
    expect_out_contains "3 messages: 1 encrypted, 1 unencrypted, 1 unknown."
}

test_crlf_line_ends_are_read_like_lf() {
    tr -d '\r' <"$FIXTURES/check/postfix-to-gmail-plaintext.eml" >lf.eml
    run_sac check --json lf.eml
    expect_status 1
    expect_json '.messages[0].deliveryHop.date' '"Thu, 03 Dec 2026 06:12:09 -0800 (PST)"'
}

test_an_encoded_subject_is_decoded() {
    run_sac check --json "$FIXTURES/check/gmail-tls13.eml"
    expect_json '.messages[0].subject' '"Grüße over TLS"'
}

test_several_files_are_checked_in_order() {
    run_sac check --json "$FIXTURES/check/gmail-tls13.eml" "$FIXTURES/check/qmail-plaintext.eml"
    expect_status 1
    expect_json '[.messages[].verdict]' '["encrypted","unencrypted"]'
}

test_a_page_whose_first_line_is_longer_than_a_line_buffer_is_read_whole() {
    {
        printf '\357\273\277<html><head><style>'
        head -c 200000 /dev/zero | tr '\0' 'x'
        printf '</style></head><body><pre id="raw_message_text">'
        sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g' "$FIXTURES/check/gmail-tls13.eml"
        printf '</pre></body></html>'
    } >one-line.html
    run_sac check --json one-line.html
    expect_status 0
    expect_json '.messages[0].deliveryHop.protocol' '"TLSv1.3"'
}

test_a_byte_order_mark_before_the_first_field_is_ignored() {
    { printf '\357\273\277'; cat "$FIXTURES/check/qmail-plaintext.eml"; } >bom.eml
    run_sac check --json bom.eml
    expect_status 1
    expect_json '.messages[0].subject' '"qmail without TLS"'
}

test_an_mbox_message_without_header_fields_is_skipped() {
    {
        cat "$FIXTURES/check/inbox.mbox"
        printf '\nFrom x@example.net Thu Dec  3 17:00:00 2026\nno header here\n\n'
        sed -n 1,5p "$FIXTURES/check/inbox.mbox"
    } >broken.mbox
    run_sac check --json broken.mbox
    expect_status 1
    expect_json '[.messages[].verdict]' '["encrypted","unencrypted","unknown","encrypted"]'
}

test_a_maildir_of_a_thousand_files_is_read_with_few_file_descriptors() {
    mkdir cur
    for i in $(seq 1000); do cp "$FIXTURES/check/gmail-tls13.eml" "cur/$i.eml"; done
    # The limit holds in a subshell only; stdout and stderr stay in $SCRATCH for the checks.
    (ulimit -n 256 && run_sac check cur/* && exit "$status")
    status=$? out=$SCRATCH/stdout err=$SCRATCH/stderr
    expect_status 0
    expect_out_contains "1,000 messages: 1,000 encrypted, 0 unencrypted, 0 unknown."
}

test_json_stays_valid_when_a_later_file_is_not_mail() {
    run_sac check --json "$FIXTURES/check/gmail-tls13.eml" \
        "$FIXTURES/check/page-without-message.html"
    expect_status 2
    expect_json '[.messages[].verdict]' '["encrypted"]'
    expect_one_error_line
}
