#!/usr/bin/env bash
#
# tests/bench-startup.sh [RUNS]: how much slower a warm `check` is than the floor, a warm
# hello-world JBang script with the same two //DEPS. Prints the mean and median of RUNS
# runs (default 20) of each and the ratio of the means; the goal is at most 1.1. It also
# times `sac-tls --version`, which builds the same picocli command tree but reads no
# message, to show how much of the difference is picocli's start-up and how much check's.
#
# The commands take turns, one run of each per round, so that a change in the machine's
# load during the benchmark weighs on all alike.
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

floor() {
    "$root/jbang" --quiet "$work/hello.java"
}

version() {
    "$root/jbang" --quiet "$root/sac-tls.java" --version
}

check() {
    # Exit status 1 is the answer for this sample (a plaintext hop), not a failure.
    "$root/jbang" --quiet "$root/sac-tls.java" check "$sample" || [ $? -eq 1 ]
}

# seconds COMMAND: the wall-clock time of one run, in seconds.
seconds() {
    local start=$EPOCHREALTIME
    "$1" >/dev/null
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'
}

# Build both, then warm up, so the runs measure warm starts only.
"$root/jbang" --quiet build "$root/sac-tls.java"
"$root/jbang" --quiet build "$work/hello.java"
for _ in 1 2 3; do floor >/dev/null; version >/dev/null; check >/dev/null; done

for ((i = 0; i < runs; i++)); do
    seconds floor >>"$work/floor"
    seconds version >>"$work/version"
    seconds check >>"$work/check"
done

# summary FILE: mean and median of the times in FILE.
summary() {
    sort -n "$1" | awk '{ t[NR] = $1; s += $1 }
        END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
              printf "mean %.3f s, median %.3f s", s / NR, m }'
}

floor_mean=$(awk '{ s += $1 } END { print s / NR }' "$work/floor")
check_mean=$(awk '{ s += $1 } END { print s / NR }' "$work/check")
echo "runs:                             $runs of each, in turn"
echo "floor (hello-world, same //DEPS): $(summary "$work/floor")"
echo "sac-tls --version:                $(summary "$work/version")"
echo "check SAMPLE:                     $(summary "$work/check")"
awk -v f="$floor_mean" -v c="$check_mean" \
    'BEGIN { printf "ratio of the means:               %.2f (goal <= 1.10)\n", c / f }'
