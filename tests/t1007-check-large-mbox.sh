# A 1 GB mbox is read fast and in bounded memory: bodies are skipped, not stored.
# shellcheck disable=SC2154  # $out, $err and $status are set by run_sac (lib.sh)

test_a_1_gb_mbox_is_checked_in_seconds_with_a_small_heap() {
    {
        printf 'From lee@example.net Thu Dec  3 16:00:00 2026\n'
        printf 'Received: from relay.example.net (relay.example.net [198.51.100.74])\n'
        printf '\tby mx.example.com (Postfix) with ESMTPS id 4ZkR0a1Bc2d3e;\n'
        printf '\tThu,  3 Dec 2026 16:00:00 +0100 (CET)\nSubject: bulk\n\n'
        yes 'A body line that the reader skips without decoding it.' | head -c 60000
    } >message
    yes "$(cat message)" | head -c 1000000000 >big.mbox
    at_exit rm -f "$SCRATCH/big.mbox"
    SECONDS=0
    out=$SCRATCH/stdout err=$SCRATCH/stderr
    "$ROOT/jbang" --quiet --java-options=-Xmx64m "$ROOT/sac-tls.java" check big.mbox \
        >"$out" 2>"$err"
    status=$?
    expect_status 0
    expect_out_contains "more messages are not shown."
    grep -qE '^[0-9,]+ messages: [0-9,]+ encrypted, 0 unencrypted, 0 unknown\.$' "$out" \
        || { fail "no summary line"; show stdout "$out"; }
    [ "$SECONDS" -le 30 ] || fail "took $SECONDS s"
    echo "    1 GB mbox: $SECONDS s"
}
