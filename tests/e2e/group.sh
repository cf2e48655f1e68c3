#!/usr/bin/env bash
# Runs the e2e scenario scripts of one test-host boot (tests/e2e/run.sh starts it through
# testhost.sh; the results share is the e2e directory). LIST holds one line per scenario:
# "SECS PATH", in the order they are to start. E2E_LANES (default 1) of them run at a time; two
# are faster on a quiet machine but meet the test host's emulation fault more (tests/e2e/README.md).
# Each scenario runs in its own network and mount namespaces (its taps, addresses, ports and
# /sys/class/net are its own, so lanes cannot collide, and its devices go with it), in its own
# session, under its own timeout. For each, in DIR=$MINIVMM_RESULTS/<name>/: output (its
# stdout+stderr), .rc (its exit status, 124 on its timeout), .secs (its run time); its start and
# end are marked on the test host's console ("TESTHOST-SCENARIO <name>", "TESTHOST-SCENARIO-END
# <name>") so run.sh can give each scenario the console lines of its time.
# KVM's trace runs all along (tests/e2e/kvmtrace.sh); a guest triple fault that the scenario's
# lib.sh did not save already is saved as DIR/kvm-trace.txt.gz, and the trace of a scenario that
# makes no progress (trace_on_request) or runs out of time as DIR/hang.kvmtrace.gz.
set -uo pipefail
top=$MINIVMM_RESULTS
list=$1
here=$(dirname "$0")
# shellcheck source=kvmtrace.sh
. "$here/kvmtrace.sh"
kvmtrace_start || echo "group: no KVM trace (tracefs or KVM's events missing)"

# The next line of LIST that no lane has taken yet (nothing when none is left).
next_scenario() {
	local n lk
	exec {lk}>>"$top/.group/next.lock"
	flock "$lk"
	n=$(cat "$top/.group/next" 2>/dev/null || echo 0)
	echo $((n + 1)) >"$top/.group/next"
	sed -n "$((n + 1))p" "$list"
	exec {lk}>&-
}

# The test host's memory pressure around a scenario, into DIR/vmstat.txt: reclaim (pgscan,
# pgsteal), compaction and THP events make its kernel age, move or collapse a running guest's pages.
vmstat_mark() {
	{ echo "== $2 (uptime $(cut -d' ' -f1 /proc/uptime))"; grep -E '^(MemFree|MemAvailable|Cached):' /proc/meminfo
	  grep -E '^(pgscan|pgsteal|compact_(migrate|stall)|thp_(fault_fallback|collapse_alloc|split_page)|workingset_refault)' /proc/vmstat | grep -v ' 0$'; } >>"$1/vmstat.txt"
}

# One scenario, in its own namespaces and session (SID = the wrapper's PID, in .sid), so that
# whatever it leaves running can go. /sys is mounted anew to show its own network devices, and
# tracefs on it again for lib.sh's KVM trace.
run_scenario() {
	local secs=$1 path=$2 name dir start rc=0
	name=$(basename "${path%.sh}")
	dir=$top/$name
	mkdir -p "$dir"
	echo "TESTHOST-SCENARIO $name" >/dev/console
	echo "group: $name (timeout ${secs}s)"
	vmstat_mark "$dir" before
	: >"$top/.group/running.$name"
	start=$SECONDS
	# shellcheck disable=SC2016 # expanded by the inner bash
	MINIVMM_RESULTS=$dir setsid -w unshare --net --mount --propagation private bash -c '
		ip link set lo up && mount -t sysfs sysfs /sys || exit 125
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
		echo $$ >"$0"; exec timeout -k 10 "$1" bash "$2"' \
		"$dir/.sid" "$secs" "$path" </dev/null >"$dir/output" 2>&1 || rc=$?
	rm -f "$top/.group/running.$name"
	echo $((SECONDS - start)) >"$dir/.secs"
	vmstat_mark "$dir" after
	# Its timeout (124, or 137 when it had to be killed): the trace while its guests still run.
	if kvmtrace_stopped; then
		kvmtrace_save "$dir/kvm-trace.txt.gz"
	elif { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && kvmtrace_on && [ ! -e "$dir/hang.kvmtrace.gz" ]; then
		kvmtrace_save "$dir/hang.kvmtrace.gz"
	fi
	pkill -KILL -s "$(cat "$dir/.sid")" 2>/dev/null
	echo "TESTHOST-SCENARIO-END $name" >/dev/console
	echo "$rc" >"$dir/.rc"
	echo "group: $name exited $rc after $((SECONDS - start))s"
}

# A hang's evidence. When testhost.sh's watchdog finds no progress, it asks for the KVM trace
# (.testhost/save-trace; only once this says it listens, .testhost/trace-listening) before it
# kills the test host and the trace ring with it; each running scenario then gets it as
# DIR/hang.kvmtrace.gz, and run.sh judges the hang by it (emulfault.sh's NPF loop). It waits
# without a fork (a read -t on a pipe nobody writes, then a file test): the suite's guests need
# the test host's CPU.
trace_on_request() {
	local f d fd
	kvmtrace_on || return 0
	: >"$top/.testhost/trace-listening"
	exec {fd}<> <(:)
	until [ -e "$top/.testhost/save-trace" ]; do read -r -t 5 -u "$fd" _; done
	for f in "$top"/.group/running.*; do
		[ -e "$f" ] || continue
		d=$top/${f##*/running.}
		[ -e "$d/hang.kvmtrace.gz" ] || kvmtrace_save "$d/hang.kvmtrace.gz"
	done
	: >"$top/.testhost/trace-saved"
}

lane() {
	local secs path
	while read -r secs path < <(next_scenario) && [ -n "$path" ]; do
		run_scenario "$secs" "$path"
	done
}

mkdir -p "$top/.group"
rm -f "$top/.group/next" "$top/.group/running."*
trace_on_request &
watcher=$!
lanes=()
for _ in $(seq "${E2E_LANES:-1}"); do lane & lanes+=($!); done
wait "${lanes[@]}"
kill "$watcher" 2>/dev/null
