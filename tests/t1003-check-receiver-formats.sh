# check reads TLS evidence in the form each receiver writes it, on the delivery hop.

# expect_delivery FIXTURE STATUS VERDICT '[protocol,cipher,bits]'
expect_delivery() {
    run_sac check --json "$FIXTURES/check/$1"
    expect_status "$2"
    expect_json '.messages[0].verdict' "\"$3\""
    expect_json '.messages[0].deliveryHop | [.protocol, .cipher, .bits]' "$4"
    expect_err_empty
}

test_gmail_version_cipher_bits_comment_is_read() {
    expect_delivery gmail-tls13.eml 0 encrypted '["TLSv1.3","TLS_AES_256_GCM_SHA384",256]'
}

test_microsoft_version_and_cipher_folded_inside_the_protocol_name_are_read() {
    expect_delivery outlook-tls12.eml 0 encrypted \
        '["TLSv1.2","TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384_P384",null]'
    expect_json '.messages[0].deliveryHop.by' '"DB1PEPF000509F1.mail.protection.outlook.com"'
}

test_microsoft_without_the_version_parenthesis_is_plaintext() {
    expect_delivery outlook-plaintext.eml 1 unencrypted '[null,null,null]'
}

test_postfix_tls_header_is_read_with_key_bits() {
    expect_delivery postfix-tls-header.eml 0 encrypted '["TLSv1.3","TLS_AES_256_GCM_SHA384",256]'
    expect_json '.messages[0].deliveryHop.fromIp' '"2001:db8:5::25"'
}

test_an_rfc3848_keyword_alone_is_tls_without_details() {
    expect_delivery postfix-esmtps-keyword-only.eml 0 encrypted '[null,null,null]'
    expect_json '.messages[0].deliveryHop.encrypted' true
}

test_exim_rfc8314_tls_clause_is_read() {
    expect_delivery exim-rfc8314.eml 0 encrypted '["TLSv1.3","TLS_AES_256_GCM_SHA384",null]'
    expect_json '.messages[0].deliveryHop.with' '"esmtps"'
}

test_exim_legacy_version_cipher_bits_tuple_is_read() {
    expect_delivery exim-legacy-cipher.eml 0 encrypted \
        '["TLSv1.2","ECDHE_RSA_AES_256_GCM_SHA384",256]'
}

test_sendmail_version_cipher_bits_verify_comment_is_read() {
    expect_delivery sendmail-tls13.eml 0 encrypted '["TLSv1.3","TLS_AES_256_GCM_SHA384",256]'
}

test_opensmtpd_tuple_is_read() {
    expect_delivery opensmtpd-tls13.eml 0 encrypted '["TLSv1.3","TLS_AES_256_GCM_SHA384",256]'
}

test_qmail_tls_patch_cipher_in_the_protocol_is_read() {
    expect_delivery qmail-tls-patch.eml 0 encrypted '[null,"DHE-RSA-AES256-GCM-SHA384",null]'
}

test_qmail_plain_smtp_is_plaintext() {
    expect_delivery qmail-plaintext.eml 1 unencrypted '[null,null,null]'
}

test_ironport_cipher_in_the_protocol_is_read() {
    expect_delivery ironport-tls.eml 0 encrypted '[null,"ECDHE-RSA-AES256-GCM-SHA384",null]'
}

test_courier_tls_comment_is_read() {
    expect_delivery courier-tls.eml 0 encrypted '["TLSv1.2","ECDHE_RSA_AES_256_GCM_SHA384",256]'
}

test_mox_tls_comment_after_the_id_is_read() {
    expect_delivery mox-tls13.eml 0 encrypted '["TLSv1.3","TLS_AES_128_GCM_SHA256",null]'
    expect_json '.messages[0].deliveryHop.with' '"ESMTPS"'
}

test_a_tls_comment_after_the_date_is_read() {
    expect_delivery yandex-tls-after-date.eml 0 encrypted \
        '["TLSv1.2","ECDHE-RSA-AES128-GCM-SHA256",128]'
    expect_json '.messages[0].deliveryHop.date' '"Thu, 03 Dec 2026 16:30:01 +0300"'
}

test_a_receiver_that_never_records_tls_gives_unknown_and_exit_3() {
    expect_delivery ses-inbound-unknown.eml 3 unknown '[null,null,null]'
    expect_json '.messages[0].deliveryHop.encrypted' null
    run_sac check "$FIXTURES/check/ses-inbound-unknown.eml"
    expect_out_contains "does not record whether TLS was used"
}

test_an_outdated_protocol_is_named_as_such() {
    sed 's/=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384/=TLSv1 cipher=AES256-SHA/' \
        "$FIXTURES/check/sendmail-tls13.eml" >tls10.eml
    run_sac check tls10.eml
    expect_status 0
    expect_out_contains "TLSv1 with AES256-SHA (256 bits). TLSv1 is outdated and weak;"
}
