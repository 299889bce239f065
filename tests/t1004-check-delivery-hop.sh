# check judges the hop where the receiving provider took the message from outside.

test_the_submission_hop_cipher_is_never_credited_to_the_delivery() {
    run_sac check --json "$FIXTURES/check/postfix-to-gmail-plaintext.eml"
    expect_json '.messages[0].hops[0] | [.with, .encrypted]' '["ESMTPSA",true]'
    expect_json '.messages[0].verdict' '"unencrypted"'
}

test_provider_internal_hops_above_the_delivery_hop_are_skipped() {
    run_sac check --json "$FIXTURES/check/outlook-plaintext.eml"
    expect_json '.messages[0].hops[1] | [.encrypted, .internal]' '[true,true]'
    expect_json '.messages[0].deliveryHop.from' '"mail.example.org"'
    expect_json '.messages[0].verdict' '"unencrypted"'
}

test_lmtp_and_loopback_hops_are_internal() {
    run_sac check --json "$FIXTURES/check/postfix-tls-header.eml"
    expect_json '[.messages[0].hops[].internal]' '[false,true]'
}

test_from_picks_the_hop_received_from_the_named_server() {
    run_sac check --json --from smtp.example.net "$FIXTURES/check/gmail-tls13.eml"
    expect_status 0
    expect_json '.messages[0].deliveryHop.by' '"mx.google.com"'
    run_sac check --json --from 203.0.113.99 "$FIXTURES/check/gmail-tls13.eml"
    expect_json '.messages[0].deliveryHop.by' '"smtp.example.net"'
    expect_json '.messages[0].deliveryHop.protocol' '"TLSv1.2"'
}

test_from_that_matches_no_hop_gives_unknown_with_a_reason() {
    run_sac check --from mail.example.org "$FIXTURES/check/gmail-tls13.eml"
    expect_status 3
    expect_out_contains "No hop shows the message arriving from mail.example.org"
}

test_a_copy_from_the_sent_folder_has_no_delivery_hop() {
    run_sac check --json "$FIXTURES/check/sent-folder-copy.eml"
    expect_status 3
    expect_json '.messages[0] | [.verdict, .deliveryHop]' '["unknown",null]'
    expect_json '.messages[0].hops[0].protocol' '"TLSv1.3"'
}

test_a_message_without_received_fields_is_unknown() {
    run_sac check "$FIXTURES/check/no-received.eml"
    expect_status 3
    expect_out_contains "The message has no Received fields"
}

test_a_server_that_says_helo_localhost_from_outside_is_still_the_delivery_hop() {
    printf '%s\n' \
        'Received: from localhost (mail.example.com. [203.0.113.25])' \
        '        by mx.google.com with ESMTP id x1si2.2026.12.03.06.12.08' \
        '        for <alex.tester@gmail.com>; Thu, 03 Dec 2026 06:12:09 -0800 (PST)' \
        '' >helo-localhost.eml
    run_sac check --json helo-localhost.eml
    expect_status 1
    expect_json '.messages[0].deliveryHop | [.fromIp, .internal]' '["203.0.113.25",false]'
}
