#!/usr/bin/env bash
# run.sh NAME SECONDS BUILDDIR: runs the libFuzzer target BUILDDIR/fuzz_NAME for SECONDS from the
# committed seeds (tests/fuzz/corpus/NAME, with tests/fuzz/NAME.dict if there is one) and its own
# growing corpus, and prints one line:
#   fuzz: NAME ok: N runs in S s (E exec/s), corpus C
#   fuzz: NAME FAILED: <what>, input saved as <file> (reproduce: BUILDDIR/fuzz_NAME <file>)
# The full log stays in BUILDDIR/fuzz_NAME.log. Exit status 1 on any crash, leak, timeout or
# broken invariant.
set -uo pipefail
name=$1 secs=$2 dir=$3
here=$(cd "$(dirname "$0")" && pwd)
bin=$dir/fuzz_$name log=$dir/fuzz_$name.log corpus=$dir/corpus_$name seeds=$here/corpus/$name
mkdir -p "$corpus" "$seeds"
dict=()
[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
# -close_fd_mask=3: the code under test prints a line per bad input; libFuzzer and the
# sanitizers keep their own copy of stderr. -timeout: a round that hangs is a finding.
"$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 -close_fd_mask=3 \
	-artifact_prefix="$dir/$name-" "${dict[@]}" "$corpus" "$seeds" >"$log" 2>&1
rc=$?
stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
runs=$(stat number_of_executed_units) rate=$(stat average_exec_per_sec)
if [ $rc -eq 0 ]; then
	echo "fuzz: $name ok: ${runs:-?} runs in ${secs} s (${rate:-?} exec/s), corpus $(ls "$corpus" | wc -l)"
	exit 0
fi
art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
# The run closed the target's stderr: replay the input to get its own words (invariant lines).
what=
[ -n "$art" ] && what=$(timeout 60 "$bin" "$art" 2>&1 | grep -m1 -E 'fuzz invariant failed|ERROR: ')
[ -n "$what" ] || what=$(grep -m1 -E 'ERROR: ' "$log" || echo "exit status $rc")
echo "fuzz: $name FAILED: $what, input saved as ${art:-?} (reproduce: $bin ${art:-<input>}; log $log)"
exit 1
