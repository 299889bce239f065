#!/usr/bin/env bash
#
# tests/bench-startup.sh [RUNS]: how much slower a warm `check` is than the floor, a warm
# hello-world JBang script with the same two //DEPS. Prints the mean of RUNS runs (default
# 20) of each and their ratio; the goal is a ratio of at most 1.1. Needs hyperfine and jq.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-20}
sample=$root/tests/fixtures/check/postfix-to-gmail-plaintext.eml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export JBANG_NO_VERSION_CHECK=true

cat >"$work/hello.java" <<'JAVA'
///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//DEPS org.jsoup:jsoup:1.24.1

class hello {
    public static void main(String... args) {
        System.out.println("hello");
    }
}
JAVA

# Build both once, so the runs measure warm starts only.
"$root/jbang" --quiet build "$root/sac-tls.java"
"$root/jbang" --quiet build "$work/hello.java"

# check exits 1 on this sample (a plaintext hop), hence --ignore-failure.
hyperfine --style basic --warmup 3 --runs "$runs" --ignore-failure \
    --export-json "$work/result.json" \
    -n floor "$root/jbang --quiet $work/hello.java" \
    -n check "$root/jbang --quiet $root/sac-tls.java check $sample" >&2

floor=$(jq '.results[0].mean' "$work/result.json")
check=$(jq '.results[1].mean' "$work/result.json")
awk -v f="$floor" -v c="$check" 'BEGIN {
    printf "floor (hello-world, same //DEPS): %.3f s\n", f
    printf "check SAMPLE:                     %.3f s\n", c
    printf "ratio:                            %.2f (goal <= 1.10)\n", c / f
}'
