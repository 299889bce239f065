#!/usr/bin/env bash
#
# tests/stress-patch-kill.sh [N]: kill `sac-tls patch --yes` with SIGKILL at N (default 100)
# random moments from the middle of a run to just past its end, where the writing happens,
# and count how often main.cf was left as the old file, as the new one, or torn (neither:
# a bug). Not part of the suite; t2003 runs a short version of this.
# Needs root (patch writes) and Postfix's postconf; works in a scratch directory.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export JBANG_NO_VERSION_CHECK=true
"$root/jbang" --quiet build "$root/sac-tls.java" || exit 1
classpath=$("$root/jbang" info classpath "$root/sac-tls.java") || exit 1

mkdir "$work/etc"
cp /etc/postfix/master.cf "$work/etc/"
printf 'myhostname = mx.example.org\nsmtp_tls_loglevel = 0\nmydestination = localhost\n' \
    >"$work/original"
age() { touch -d '-1 minute' "$work/etc/main.cf"; }
reset() { cp "$work/original" "$work/etc/main.cf"; age; rm -f "$work/etc"/main.cf.sac-tls.*; }

reset
start=$(date +%s%N)
java -cp "$classpath" sac_tls patch -c "$work/etc" --yes >/dev/null 2>&1 || exit 1
full_ms=$((($(date +%s%N) - start) / 1000000))
old=$(sha256sum <"$work/original")
new=$(sha256sum <"$work/etc/main.cf")

counts_old=0 counts_new=0 counts_torn=0
for ((i = 0; i < runs; i++)); do
    reset
    java -cp "$classpath" sac_tls patch -c "$work/etc" --yes >/dev/null 2>&1 &
    pid=$!
    sleep "$(awk -v r="$RANDOM" -v ms="$full_ms" \
        'BEGIN { printf "%.3f", (0.5 + 0.6 * r / 32767) * ms / 1000 }')"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    case "$(sha256sum <"$work/etc/main.cf")" in
        "$old") counts_old=$((counts_old + 1)) ;;
        "$new") counts_new=$((counts_new + 1)) ;;
        *) counts_torn=$((counts_torn + 1)); cp "$work/etc/main.cf" "$work/torn.$i" ;;
    esac
done
echo "one full patch run: $full_ms ms; $runs kills between 50% and 110% of that"
echo "old file: $counts_old, new file: $counts_new, torn: $counts_torn"
[ "$counts_torn" -eq 0 ]
