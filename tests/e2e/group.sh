#!/usr/bin/env bash
# Runs several e2e scenario scripts one after another in one test-host boot (tests/e2e/run.sh
# starts it through testhost.sh; the results share is the e2e directory). LIST holds one line per
# scenario: "SECS PATH". For each, in DIR=$MINIVMM_RESULTS/<name>/: output (its stdout+stderr),
# .rc (its exit status, 124 on its timeout), .secs (its run time); its start is marked on the
# test host's console ("TESTHOST-SCENARIO <name>") so run.sh can split console.log per scenario.
# KVM's trace runs all along (tests/e2e/kvmtrace.sh); a guest triple fault that the scenario's
# lib.sh did not save already is saved as DIR/kvm-trace.txt.gz.
set -uo pipefail
top=$MINIVMM_RESULTS
# shellcheck source=kvmtrace.sh
. "$(dirname "$0")/kvmtrace.sh"
kvmtrace_start || echo "group: no KVM trace (tracefs or KVM's events missing)"
while read -r secs path; do
	[ -n "$path" ] || continue
	name=$(basename "${path%.sh}")
	dir=$top/$name
	mkdir -p "$dir"
	echo "TESTHOST-SCENARIO $name" >/dev/console
	echo "group: $name (timeout ${secs}s)"
	start=$SECONDS rc=0
	# Its own session (SID = the wrapper's PID, in .sid), so whatever it leaves running can go.
	MINIVMM_RESULTS=$dir setsid -w bash -c 'echo $$ >"$0"; exec timeout -k 10 "$1" bash "$2"' \
		"$dir/.sid" "$secs" "$path" </dev/null >"$dir/output" 2>&1 || rc=$?
	echo $((SECONDS - start)) >"$dir/.secs"
	# What a scenario killed by its timeout may leave for the next one: its processes and its taps
	# (scenarios name them mv*).
	pkill -KILL -s "$(cat "$dir/.sid")" 2>/dev/null
	for t in $(ip -o link show type tun 2>/dev/null | sed -n 's/^[0-9]*: \(mv[^:@]*\).*/\1/p'); do
		ip link del "$t" 2>/dev/null
	done
	! kvmtrace_stopped || kvmtrace_save "$dir/kvm-trace.txt.gz"
	echo "$rc" >"$dir/.rc"
	echo "group: $name exited $rc after $((SECONDS - start))s"
done <"$1"
