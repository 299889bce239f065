# The peer parser's 181 labelled Received values (when the corpus is present): TLS version
# and cipher must agree on at least 95 %. Each value becomes one message of an mbox, so one
# run of check reads them all.
#
# Comparison rules: the peer spells versions TLSv1_0 ... TLSv1_3 where check writes TLSv1,
# TLSv1.1, TLSv1.2, TLSv1.3. Both map OpenSSL's "TLSv1/SSLv3" family label to TLS 1.0 and
# Gmail's placeholder "cipher=OTHER" to no cipher. There are no deliberate disagreements;
# any that appear are listed by the test.
# shellcheck disable=SC2154  # $out, $err and $status are set by run_sac (lib.sh)

peer=$CORPUS/peer/received-lines.json

test_tls_version_and_cipher_agree_with_the_peer_on_95_percent() {
    [ -f "$peer" ] || { skip "no corpus at $CORPUS"; return; }
    jq -r '.[] | "From peer@example.invalid Thu Jan  1 00:00:00 2026\n"
        + "Received: \(.header | sub("\\s+$"; ""))\n"' "$peer" >peer.mbox
    run_sac check --json peer.mbox
    expect_status 1
    jq -n --slurpfile mine "$out" --slurpfile theirs "$peer" -r '
        def version: if . == null then null
            else sub("^TLSv1_0$"; "TLSv1") | sub("^TLSv1_(?<d>[1-3])$"; "TLSv1.\(.d)") end;
        range(0; $theirs[0] | length) as $i
        | ($theirs[0][$i].expected) as $e
        | ($mine[0].messages[$i].hops[0]) as $h
        | if ($e.tls_version | version) == $h.protocol and $e.tls_cipher == $h.cipher
          then "agree" else "differ \($i): peer \($e.tls_version)/\($e.tls_cipher),"
            + " check \($h.protocol)/\($h.cipher)" end' >compared
    local total agree
    total=$(wc -l <compared)
    agree=$(grep -c '^agree$' compared)
    echo "    peer agreement: $agree/$total ($((agree * 100 / total)) %)"
    grep '^differ' compared | sed 's/^/    /'
    [ "$total" -eq 181 ] || fail "read $total peer lines, expected 181"
    [ $((agree * 100)) -ge $((total * 95)) ] || fail "agreement below 95 %"
}
