# The shared corpus of real headers (when present): each sample's verdict against its README.
# shellcheck disable=SC2154  # $out, $err and $status are set by run_sac (lib.sh)

# The verdict for the external delivery hop in ../shared/corpus/README.md, sample by sample:
# "TLS yes" is encrypted, "TLS no" unencrypted, "not recorded" unknown.
readme_verdicts() {
    cat <<'LIST'
s01 encrypted
s02 encrypted
s03 unencrypted
s04 unencrypted
s05 encrypted
s06 unencrypted
s07 unencrypted
s08 encrypted
s09 encrypted
s10 encrypted
s11 encrypted
s12 encrypted
s13 encrypted
s14 encrypted
s15 encrypted
s16 encrypted
s17 encrypted
s18 encrypted
s19 encrypted
s20 encrypted
s21 encrypted
s22 unencrypted
s23 unencrypted
s24 unencrypted
s25 unencrypted
s26 unencrypted
s27 encrypted
s28 encrypted
s29 encrypted
s30 encrypted
s31 encrypted
s32 unencrypted
s33 unencrypted
s34 encrypted
s35 encrypted
s36 encrypted
s37 encrypted
s38 encrypted
s39 encrypted
s40 encrypted
s41 unknown
s42 unknown
s43 encrypted
s44 encrypted
s45 encrypted
s46 encrypted
s47 encrypted
s48 encrypted
s49 encrypted
s50 unencrypted
s51 encrypted
s52 encrypted
s53 unknown
s54 encrypted
s55 encrypted
s56 encrypted
LIST
}

# Where check disagrees on purpose. s16, s52 and s55 hold only submission lines (ESMTPSA,
# or Zoho's SMTPS injection after webmail): the README judges the submission, but a
# submission is not a delivery, so check says unknown rather than credit it. s39 is three
# independent lines; its first, 1&1's bulk relay into GMX, is a relay inside one provider,
# so check judges the next line, a 2004 delivery without TLS.
deliberate="s16 unknown
s39 unencrypted
s52 unknown
s55 unknown"

test_corpus_samples_agree_with_the_readme_verdicts() {
    [ -d "$CORPUS/samples" ] || { skip "no corpus at $CORPUS"; return; }
    local sample agree=0 total=0 id expected got
    run_sac check --json "$CORPUS"/samples/s*
    expect_status 1
    expect_err_empty
    jq -r '.messages[] | "\(.source) \(.verdict)"' "$out" >verdicts
    while read -r id expected; do
        sample=$(ls "$CORPUS"/samples/"$id"-*)
        got=$(awk -v s="$sample" '$1 == s { print $2 }' verdicts)
        total=$((total + 1))
        if [ "$got" = "$expected" ]; then
            agree=$((agree + 1))
        elif ! grep -qx "$id $got" <<<"$deliberate"; then
            fail "$id: check says ${got:-nothing}, the README says $expected"
        fi
    done < <(readme_verdicts)
    echo "    corpus agreement: $agree/$total"
    [ "$total" -eq 56 ] || fail "expected 56 samples, read $total"
}

test_every_corpus_sample_is_reported_in_text_without_an_error() {
    [ -d "$CORPUS/samples" ] || { skip "no corpus at $CORPUS"; return; }
    run_sac check "$CORPUS"/samples/s*
    expect_status 1
    expect_err_empty
    expect_out_contains "56 messages: "
    [ "$(LC_ALL=C.UTF-8 wc -L <"$out")" -le 100 ] || fail "a line is wider than 100 columns"
}
