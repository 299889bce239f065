#!/usr/bin/env bash
#
# tests/bench-log.sh [SIZE_MB...]: how fast `sac-tls log` reads a big mail log, beside
# `grep -c` and pflogsumm on the same file. Not a test: it prints figures and ratios.
#
# For each size (default: 100 1024) it writes a synthetic Postfix log of that many MiB
# (tests/bench-log-gen.java, which also prints the counts the log holds), checks that
# `sac-tls log --json` reports exactly those counts, then times, best of $RUNS (default 3):
#   sac-tls log --json FILE             end to end, and net of start-up (minus an empty log)
#   the same through plain java         the built jar without JBang's launcher, to show
#                                       how much of the start-up is the launcher's
#   LC_ALL=C grep -c 'TLS connection established' FILE
#   pflogsumm FILE                      once, on at most $PFLOGSUMM_MB MiB (default 100),
#                                       its throughput then applied to the whole size
# and the peak RSS of each (GNU time's maximum resident set size).
# Logs are kept in $BENCH_DIR (default /tmp/sac-tls-bench) to be reused by the next run.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${BENCH_DIR:-/tmp/sac-tls-bench}
runs=${RUNS:-3}
pflogsumm_mb=${PFLOGSUMM_MB:-100}
export JBANG_NO_VERSION_CHECK=true
unset JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS
mkdir -p "$dir" || exit 1
[ -x /usr/bin/time ] || { echo "bench-log: needs GNU time (apt-get install time)" >&2; exit 1; }

# measure CMD...: run CMD with stdout kept in a file (not /dev/null, where GNU grep stops
# at the first match); sets $secs (wall clock), $cpu (user + system seconds) and $rss_kb.
measure() {
    local log=$dir/time.out start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M %U %S' -o "$log" "$@" >"$dir/stdout.out" 2>"$dir/stderr.out"
    end=$(date +%s%N)
    secs=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
    read -r rss_kb cpu <<<"$(tail -n 1 "$log" | awk '{ printf "%s %.2f", $1, $2 + $3 }')"
}

# best CMD...: the fastest of $runs runs; sets $best (seconds), $best_cpu (its CPU
# seconds) and $best_rss (the highest peak RSS seen, KiB).
best() {
    local i
    best='' best_cpu='' best_rss=0
    for ((i = 0; i < runs; i++)); do
        measure "$@"
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$secs best_cpu=$cpu
        fi
        [ "$rss_kb" -le "$best_rss" ] || best_rss=$rss_kb
    done
}

rate() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? mb / s : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
mib() { echo $(($1 / 1024)); }

"$root/jbang" --quiet build "$root/sac-tls.java" || exit 1
sac=("$root/jbang" --quiet "$root/sac-tls.java" log --json)
classpath=$("$root/jbang" --quiet info classpath "$root/sac-tls.java" | tail -n 1)
direct=(java -cp "$classpath" sac_tls log --json)

: >"$dir/empty.log"
best "${sac[@]}" "$dir/empty.log"
startup=$best startup_cpu=$best_cpu
echo "sac-tls start-up (empty log): ${startup} s (CPU ${startup_cpu} s)," \
    "peak RSS $(mib "$best_rss") MiB"
best "${direct[@]}" "$dir/empty.log"
direct_startup=$best
echo "the same through plain java, without JBang's launcher: ${direct_startup} s"
echo

printf '%-8s %-22s %9s %9s %10s %8s\n' "size" "tool" "seconds" "MiB/s" "peak RSS" "CPU s"
for size in "${@:-100 1024}"; do
    for mb in $size; do
        log=$dir/mail-$mb.log
        if [ ! -s "$log" ] || [ ! -s "$log.expected" ]; then
            java "$root/tests/bench-log-gen.java" "$mb" "$log" >"$log.expected" || exit 1
        fi
        actual_mb=$(awk -v b="$(stat -c %s "$log")" 'BEGIN { printf "%.1f", b / 1048576 }')

        # The counts must be exact before any figure means anything.
        "${sac[@]}" "$log" >"$dir/got.json" 2>/dev/null
        keys='{deliveries, encrypted, cleartext, byClass: (.byClass | del(.Unknown)),
            byStatus, cannotStartTls, tlsDeferrals, loopbackLeftOut,
            domains: (.domains | sort_by(.domain))}'
        if [ "$(jq -cS "$keys" "$dir/got.json")" = "$(jq -cS "$keys" "$log.expected")" ]; then
            verdict="counts exact"
        else
            verdict="COUNTS DIFFER"
            jq -cS "$keys" "$log.expected" >"$dir/expected.cmp"
            jq -cS "$keys" "$dir/got.json" >"$dir/got.cmp"
        fi

        best "${sac[@]}" "$log"
        sac_secs=$best sac_rss=$best_rss sac_cpu=$best_cpu
        net=$(awk -v a="$sac_secs" -v b="$startup" 'BEGIN { printf "%.3f", a - b }')
        net_cpu=$(awk -v a="$sac_cpu" -v b="$startup_cpu" 'BEGIN { printf "%.2f", a - b }')
        best "${direct[@]}" "$log"
        direct_secs=$best direct_rss=$best_rss direct_cpu=$best_cpu
        direct_net=$(awk -v a="$direct_secs" -v b="$direct_startup" \
            'BEGIN { printf "%.3f", a - b }')
        best env LC_ALL=C grep -c 'TLS connection established' "$log"
        grep_secs=$best grep_rss=$best_rss grep_cpu=$best_cpu

        part=$log
        part_mb=$actual_mb
        if [ "$mb" -gt "$pflogsumm_mb" ]; then
            part=$dir/mail-$mb-head.log
            head -c $((pflogsumm_mb * 1048576)) "$log" >"$part"
            part_mb=$pflogsumm_mb
        fi
        measure pflogsumm "$part"
        pf_rate=$(rate "$part_mb" "$secs")
        pf_rss=$rss_kb pf_cpu=$cpu
        pf_secs=$(awk -v mb="$actual_mb" -v r="$pf_rate" 'BEGIN { printf "%.1f", mb / r }')
        [ "$part" = "$log" ] || rm -f "$part"

        label="$actual_mb MiB"
        printf '%-8s %-22s %9s %9s %6s MiB %8s   %s\n' "$label" "sac-tls log" "$sac_secs" \
            "$(rate "$actual_mb" "$sac_secs")" "$(mib "$sac_rss")" "$sac_cpu" "$verdict"
        printf '%-8s %-22s %9s %9s %10s %8s\n' "" "sac-tls log, net" "$net" \
            "$(rate "$actual_mb" "$net")" "" "$net_cpu"
        printf '%-8s %-22s %9s %9s %6s MiB %8s\n' "" "sac-tls log, plain java" \
            "$direct_secs" "$(rate "$actual_mb" "$direct_secs")" "$(mib "$direct_rss")" \
            "$direct_cpu"
        printf '%-8s %-22s %9s %9s\n' "" "plain java, net" "$direct_net" \
            "$(rate "$actual_mb" "$direct_net")"
        printf '%-8s %-22s %9s %9s %6s MiB %8s\n' "" "grep -c" "$grep_secs" \
            "$(rate "$actual_mb" "$grep_secs")" "$(mib "$grep_rss")" "$grep_cpu"
        note=""
        [ "$part_mb" = "$actual_mb" ] || note="  (ran on the first $part_mb MiB)"
        printf '%-8s %-22s %9s %9s %6s MiB %8s%s\n' "" "pflogsumm" "$pf_secs" "$pf_rate" \
            "$(mib "$pf_rss")" "$pf_cpu" "$note"
        printf '%-8s net sac-tls / grep = %s (goal >= 0.5); end to end sac-tls / pflogsumm' \
            "" "$(ratio "$grep_secs" "$net")"
        printf ' = %s (goal >= 20)\n' "$(ratio "$pf_secs" "$sac_secs")"
        printf '%-8s without the launcher: net / grep = %s; plain java / pflogsumm = %s\n' \
            "" "$(ratio "$grep_secs" "$direct_net")" "$(ratio "$pf_secs" "$direct_secs")"
    done
done
echo
echo "load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
