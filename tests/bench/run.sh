#!/usr/bin/env bash
# `make bench`: minivmm (userspace datapath, vhost-net) against QEMU (the same two) on the same
# test guest: boot time, iperf3 throughput both ways, ping latency, the VMM's memory. Runs
# tests/bench/bench.sh where guests can run (tools/hostrun.sh: directly, or inside the nested
# test host on a PVM machine), then prints the table. Numbers, not a test: no timing is judged.
#   Environment (all optional):
#     BENCH_RUNS=3        boots per configuration (boot time is their median)
#     BENCH_SECS=5        seconds per iperf3 direction
#     BENCH_PINGS=200     pings host->guest, 10 ms apart
#     BENCH_CONFIGS="minivmm-userspace minivmm-vhost qemu-userspace qemu-vhost"
#     BENCH_QEMU_MACHINE=q35 (or pc)    BENCH_MEM=512M    BENCH_CPUS=2
#     BENCH_MODE=direct|testhost        where to run (default as for the e2e suite)
#     BENCH_TIMEOUT=SECS  for the whole bench (default from the knobs above)
# Results: build/bench/results.md (the table), results.json, output (the bench's log), one
# console log per boot.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
case ${1:-} in -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
# shellcheck source=../../tools/hostrun.sh
. "$src/tools/hostrun.sh"
mode=$(hostrun_mode "${BENCH_MODE:-${E2E_MODE:-}}")
hostrun_prepare "$mode"

read -ra configs <<<"${BENCH_CONFIGS:-minivmm-userspace minivmm-vhost qemu-userspace qemu-vhost}"
per_config=$((${BENCH_RUNS:-3} * 60 + 2 * ${BENCH_SECS:-5} + ${BENCH_PINGS:-200} / 10 + 120))
secs=${BENCH_TIMEOUT:-$((300 + ${#configs[@]} * per_config))}
out=$build/bench
rm -rf "$out"
echo "bench: ${configs[*]} ($mode, timeout ${secs}s, results in $out)" >&2
rc=0
hostrun_script "$mode" "$secs" "$out" "$src/tests/bench/bench.sh" || rc=$?
if [ -f "$out/results.md" ]; then
	echo
	cat "$out/results.md"
	echo
fi
if [ "$rc" -ne 0 ]; then
	echo "bench: exited $rc; last lines of $out/output:" >&2
	tail -n 20 "$out/output" 2>/dev/null | sed 's/^/  | /' >&2
fi
exit "$rc"
