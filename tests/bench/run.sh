#!/usr/bin/env bash
# `make bench`: minivmm (userspace datapath, vhost-net, 2 queue pairs) against QEMU (the same) on
# the same test guest: throughput, small-packet rate, request/response latency, the VMM's CPU per
# GB and per million packets, its memory overhead, boot time; interleaved rounds, minivmm/QEMU
# ratios per round. Runs tests/bench/bench.sh where guests can run (tools/hostrun.sh: directly,
# or inside the nested test host on a PVM machine), prints the tables and draws the chart
# (tests/bench/chart.sh). Numbers, not a test: no figure is judged; the exit status is non-zero
# when a measurement could not be taken.
#   Environment (all optional):
#     BENCH_ROUNDS=5      interleaved rounds (figures are their medians)
#     BENCH_SECS=2        seconds per iperf3 direction, pktgen direction and sockperf run
#     BENCH_PINGS=50      pings host->guest per round, 10 ms apart
#     BENCH_DATAPATHS="userspace vhost mq2"   BENCH_VMMS="minivmm qemu"
#     BENCH_QEMU_MACHINE=q35 (or pc)    BENCH_MEM=512M    BENCH_CPUS=2
#     BENCH_MODE=direct|testhost        where to run (default as for the e2e suite)
#     BENCH_TIMEOUT=SECS  for the whole bench (default from the knobs above)
# Results: build/bench/results.md (the tables), results.json, results.png (the chart), output
# (the bench's log), one console log per guest.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
case ${1:-} in -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
# shellcheck source=../../tools/hostrun.sh
. "$src/tools/hostrun.sh"
mode=$(hostrun_mode "${BENCH_MODE:-${E2E_MODE:-}}")
hostrun_prepare "$mode"

read -ra dps <<<"${BENCH_DATAPATHS:-userspace vhost mq2}"
read -ra vmms <<<"${BENCH_VMMS:-minivmm qemu}"
rounds=${BENCH_ROUNDS:-5} s=${BENCH_SECS:-2}
# Per guest: a boot (up to 2 min under TCG), and per round the measurements and tool start-ups.
per_dp=$((${#vmms[@]} * (120 + rounds * (6 * s + 40))))
secs=${BENCH_TIMEOUT:-$((300 + ${#dps[@]} * per_dp))}
out=$build/bench
rm -rf "$out"
echo "bench: ${dps[*]} x ${vmms[*]}, $rounds rounds ($mode, timeout ${secs}s, results in $out)" >&2
rc=0
hostrun_script "$mode" "$secs" "$out" "$src/tests/bench/bench.sh" || rc=$?
if [ -f "$out/results.md" ]; then
	"$src/tests/bench/chart.sh" "$out" || rc=1
fi
hostrun_report bench "$rc" "$out" results.md
