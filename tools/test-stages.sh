#!/usr/bin/env bash
# make test's stages after the build: the e2e suite in front, and unit, check-docs, check-harness
# and fuzz-ci (their binaries built first) beside it at the lowest priority, on what the suite
# leaves idle (the TCG test host keeps about 1.2 of this machine's 2 cores busy). Each stage says
# how long it took; the side stages' output comes as one block when they are done. Fails if any
# stage failed.
set -u
make=${MAKE:-make}
log=${BUILD:-build}/test-side.log
stage() {
	local name=$1 s rc=0
	shift
	s=$(date +%s)
	"$@" || rc=$?
	echo "make test: $name: $(($(date +%s) - s)) s$([ "$rc" -eq 0 ] || echo ", FAILED ($rc)")"
	return "$rc"
}
side() {
	local rc=0
	# Check's per-test timeout is a hang guard only: give it room under the suite's load.
	export CK_TIMEOUT_MULTIPLIER=10
	stage unit nice -n 19 "$make" --no-print-directory -j"$(nproc)" unit || rc=1
	stage check-docs nice -n 19 "$make" --no-print-directory check-docs || rc=1
	stage check-harness nice -n 19 "$make" --no-print-directory check-harness || rc=1
	stage fuzz-ci nice -n 19 "$make" --no-print-directory -j"$(nproc)" fuzz-ci || rc=1
	return "$rc"
}
side >"$log" 2>&1 &
pid=$!
rc=0
stage e2e "$make" --no-print-directory e2e E2E_PREPARED=1 || rc=1
wait "$pid" || rc=1
echo "== unit, check-docs, check-harness and fuzz-ci (run beside the e2e suite; also in $log):"
cat "$log"
exit "$rc"
