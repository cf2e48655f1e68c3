#!/usr/bin/env bash
# `make bench-datapath`: runs build/bench-datapath (bench.c) here, or with DP_MODE=testhost inside
# the nested test host (tests/e2e/testhost.sh through tools/hostrun.sh), whose kernel has
# vhost-net: that is how this machine, which has no /dev/vhost-net, gets the vhost rows.
#
# In the test host it first runs test_guest_driver's vhost cases (CK_RUN_CASE=vhost, with
# MINIVMM_REQUIRE_VHOST=1: a missing vhost-net fails instead of skipping), so the rows come from a
# driver shown to move frames intact through vhost there, then the bench. TCG emulates the CPU, so
# its costs are not the machine's: only ratios within that run mean anything (the table says so).
# A run of the whole table takes about 30 s there plus the boot.
#   Environment: DP_MODE=direct (default) | testhost; DP_OUT (build/bench; the test host's run
#   writes DP_OUT/testhost/: datapath.md, datapath.json, output, console.log); the bench's DP_*
#   knobs (HACKING.md), passed into the test host;
#   DP_TIMEOUT (seconds for the whole test-host run, default from the knobs).
#   Internal: run.sh --in-testhost DP_X=V... is what runs inside the test host.
set -euo pipefail
src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${BUILD:-$src/build}
out=${DP_OUT:-$build/bench}
knobs=(DP_SECS DP_RUNS DP_WARMUP_MS DP_FRAMES DP_DIRS DP_CONFIGS DP_QUEUE DP_TX_BURST DP_RX_WINDOW)

in_testhost() {
	local kv
	for kv in "$@"; do
		case $kv in
		DP_*=*) export "${kv?}" ;;
		*) echo "bench-datapath: not a knob: $kv" >&2; exit 2 ;;
		esac
	done
	echo "bench-datapath: in the test host: Linux $(uname -r), $(nproc) CPUs"
	if [ ! -c /dev/vhost-net ]; then
		echo "bench-datapath: FAIL: no /dev/vhost-net in the test host" >&2
		exit 1
	fi
	# The driver's vhost cases first: the rows below are frames shown to arrive intact.
	echo "bench-datapath: test_guest_driver, vhost cases"
	local rc=0
	MINIVMM_REQUIRE_TAP=1 MINIVMM_REQUIRE_VHOST=1 CK_RUN_CASE=vhost "$build/unit/test_guest_driver" ||
		rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "bench-datapath: FAIL: test_guest_driver's vhost cases (exit $rc)" >&2
		exit 1
	fi
	DP_OUT=$MINIVMM_RESULTS exec "$build/bench-datapath"
}

[ "${1:-}" != --in-testhost ] || { shift; in_testhost "$@"; }

case ${DP_MODE:-direct} in
direct) DP_OUT=$out exec "$build/bench-datapath" ;;
testhost) ;;
*) echo "bench-datapath: DP_MODE=${DP_MODE}: want direct or testhost" >&2; exit 2 ;;
esac

# The test host: knobs travel as arguments (testhost.sh passes only its own prefixes through).
args=()
for k in "${knobs[@]}"; do
	[ -z "${!k:-}" ] || args+=("$k=${!k}")
done
# Rows x runs x (run + warm-up + device set-up, generously), the unit cases and the boot. The e2e lock's 12 minutes are the caller's to keep (HACKING.md).
rows=$(($(wc -w <<<"${DP_FRAMES:-64 1500 65536}") * $(wc -w <<<"${DP_DIRS:-tx rx}") *
	$(wc -w <<<"${DP_CONFIGS:-userspace vhost tap-ceiling}")))
run_secs=$(awk -v s="${DP_SECS:-1}" 'BEGIN { printf "%d", s + 0.999 }')
secs=${DP_TIMEOUT:-$((240 + rows * ${DP_RUNS:-5} * (run_secs + 4)))}
dir=$out/testhost
"$src/tests/e2e/testhost.sh" build
# shellcheck source=../../../tools/hostrun.sh
. "$src/tools/hostrun.sh"
echo "bench-datapath: in the test host (timeout ${secs}s, results in $dir)" >&2
rc=0
hostrun_script testhost "$secs" "$dir" "$src/tests/bench/datapath/run.sh" --in-testhost "${args[@]}" ||
	rc=$?
hostrun_report "bench-datapath (test host)" "$rc" "$dir" datapath.md
