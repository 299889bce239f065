#!/usr/bin/env bash
#
# tests/run.sh [PATTERN]: run every test file tests/t*.sh (or those whose name contains
# PATTERN) and end with the line "N passed, M failed" (", K skipped" when any were).
# Exit status: 0 when nothing failed, 1 otherwise.
#
# Each test file holds functions named test_*; each runs in a fresh scratch directory,
# and its name, underscores read as spaces, says what it proves. Helpers: tests/lib.sh.
set -uo pipefail

tests_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# Build the script once, so no test pays for (or sees on stderr) the first compile.
export JBANG_NO_VERSION_CHECK=true
unset JAVA_TOOL_OPTIONS JDK_JAVA_OPTIONS
if ! "$tests_dir/../jbang" --quiet build "$tests_dir/../sac-tls.java"; then
    echo "sac-tls.java does not build; no test can run."
    echo "0 passed, 1 failed"
    exit 1
fi

for file in "$tests_dir"/t[0-9]*.sh; do
    case "$(basename "$file")" in *"${1:-}"*) ;; *) continue ;; esac
    bash "$tests_dir/lib.sh" run-file "$file" "$results"
done

passed=$(grep -c '^pass' "$results")
failed=$(grep -c '^fail' "$results")
skipped=$(grep -c '^skip' "$results")
if [ "$failed" -gt 0 ]; then
    echo
    echo "Failed:"
    sed -n 's/^fail //p' "$results" | sed 's/^/  /'
fi
summary="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
