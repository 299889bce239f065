# check on the sample the README names: a self-hosted Postfix handing mail to Gmail in clear.
# shellcheck disable=SC2154  # $out, $err and $status are set by run_sac (lib.sh)

sample=$FIXTURES/check/postfix-to-gmail-plaintext.eml

test_plaintext_hop_into_gmail_is_unencrypted_and_exits_1() {
    run_sac check "$sample"
    expect_status 1
    expect_out_contains "Not encrypted. mx.google.com (Gmail) accepted this message from"
    expect_out_contains "mail.example.com [203.0.113.25]"
    expect_out_contains "without TLS, so anyone on the path could read it."
    expect_err_empty
}

test_the_verdict_names_the_red_lock_and_the_fix_command() {
    run_sac check "$sample"
    expect_out_contains "Gmail shows a red broken lock"
    expect_out_contains "run \`sac-tls fix\`"
}

test_the_hop_table_lists_hops_oldest_first_and_marks_the_delivery_hop() {
    run_sac check "$sample"
    expect_out_contains "  1  198.51.100.77"
    expect_out_contains "> 2  mail.example.com [203.0.113.25]  mx.google.com"
    expect_out_contains "* 3 "
    [ "$(LC_ALL=C.UTF-8 wc -L <"$out")" -le 100 ] || fail "a line is wider than 100 columns"
}

test_json_has_the_documented_shape() {
    run_sac check --json "$sample"
    expect_status 1
    expect_json '.messages | length' 1
    expect_json '.messages[0] | [.source, .subject, .verdict]' \
        "[\"$sample\",\"TLS test from my server\",\"unencrypted\"]"
    local keys='["from","fromIp","by","with","encrypted","protocol","cipher","bits",'
    keys+='"internal","date","raw"]'
    expect_json '.messages[0].deliveryHop | keys_unsorted[0:11]' "$keys"
    expect_json '.messages[0].deliveryHop | [.from, .fromIp, .by, .with, .encrypted, .internal]' \
        '["mail.example.com","203.0.113.25","mx.google.com","ESMTP",false,false]'
    expect_json '.messages[0].deliveryHop | [.protocol, .cipher, .bits]' '[null,null,null]'
    expect_json '.messages[0].deliveryHop.date' '"Thu, 03 Dec 2026 06:12:09 -0800 (PST)"'
    expect_json '[.messages[0].hops[].by]' \
        '["mail.example.com","mx.google.com","2002:a05:7300:5c0e:b0:1b4:2f1c:9e21"]'
    expect_json '[.messages[0].hops[].internal]' '[false,false,true]'
    expect_err_empty
}

test_the_raw_value_is_kept_unfolded() {
    run_sac check --json "$sample"
    local start='from mail.example.com (mail.example.com. [203.0.113.25]) by mx.google.com'
    expect_json ".messages[0].hops[1].raw | startswith(\"$start with ESMTP id\")" true
}
