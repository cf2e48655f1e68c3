#!/usr/bin/env bash
# The bench's host side (tests/bench/run.sh runs it here or inside the test host): minivmm and
# QEMU, each with the userspace and the vhost-net datapath, boot the same test guest (kernel,
# initrd, command line, 2 vCPUs, 512M) on a tap. Measured per VMM configuration:
#   boot      wall ms from launching the VMM to the guest's MINIVMM-GUEST-UP console line, median
#             of BENCH_RUNS boots (minivmm also reports its own "guest boot time", port 0xf4)
#             in rounds: each round boots each configuration once
#   net       (last round) iperf3 TCP host->guest and guest->host for BENCH_SECS; BENCH_PINGS
#             pings host->guest 10 ms apart: avg, p50, min RTT
#   memory    the VMM process's VmRSS right after boot, VmHWM (peak) at the end of the net run
#   cpu       the VMM process's user+system CPU seconds during the net run: its vCPU threads,
#             and the rest (I/O threads, main loop; vhost-net's kernel worker is not among them)
# Writes $RESULTS/results.md (the table, printed by run.sh), results.json, and per boot
# <config>-<run>.log (the console; .cmd: the VMM's command line). Nothing here passes or fails
# on a number; the exit status is 1 only when a configuration produced no numbers (a broken run).
#   BENCH_RUNS=3 BENCH_SECS=5 BENCH_PINGS=200 BENCH_CONFIGS="minivmm-userspace minivmm-vhost
#   qemu-userspace qemu-vhost" BENCH_QEMU_MACHINE=q35 BENCH_QEMU BENCH_MEM=512M BENCH_CPUS=2
set -uo pipefail
bench_kernel=${GUEST_KERNEL:-}
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# The bzImage, as users boot it (e2e's default is the PVH vmlinux), for both VMMs.
GUEST_KERNEL=${bench_kernel:-$BUILD/guest/vmlinuz}

RUNS=${BENCH_RUNS:-3} SECS=${BENCH_SECS:-5} PINGS=${BENCH_PINGS:-200}
MEM=${BENCH_MEM:-512M} CPUS=${BENCH_CPUS:-2}
read -ra CONFIGS <<<"${BENCH_CONFIGS:-minivmm-userspace minivmm-vhost qemu-userspace qemu-vhost}"
QEMU_VMM=$MINIVMM_SRC/tests/bench/qemu-as-minivmm.sh
TAP=mvbench0 HOST_IP=10.78.0.1 GUEST_IP=10.78.0.2
BROKEN=0

# The version string a bzImage carries (boot protocol: header field kernel_version at 0x20e).
kernel_version() {
	local off
	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ') || return
	dd if="$1" bs=1 skip=$((off + 512)) count=80 2>/dev/null | tr '\0' '\n' | head -n1 | cut -d' ' -f1
}
now_us() { echo "${EPOCHREALTIME/./}"; }
log() { echo "bench: $*" >&2; }

# Copies the console to stdout; when the guest's MINIVMM-GUEST-UP line arrives, writes the
# time (now_us) to FILE. Reading the pipe as it comes, not polling the log, keeps the boot time
# exact to the line.
console_stamp() {
	local file=$1 line
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in
		*MINIVMM-GUEST-UP*) [ -s "$file" ] || now_us >"$file" ;;
		esac
		printf '%s\n' "$line"
	done
}

# /proc/PID/status field in KiB.
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
kib_mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# "TOTAL VCPU": utime+stime ticks of PID (all its threads, past ones too) and of its vCPU
# threads alone (minivmm names them vcpuN, QEMU "CPU N/KVM").
proc_ticks() {
	local t comm vcpu=0
	for t in /proc/"$1"/task/*; do
		comm=$(cat "$t/comm" 2>/dev/null) || continue
		case $comm in
		vcpu[0-9]* | "CPU "*/KVM) vcpu=$((vcpu + $(stat_ticks "$t/stat"))) ;;
		esac
	done
	echo "$(stat_ticks "/proc/$1/stat") $vcpu"
}
# The comm field may hold spaces: fields are counted after its closing parenthesis.
stat_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "$1" 2>/dev/null || echo 0; }
# Seconds; the threads and the process are read at slightly different moments, so a difference
# of the two may come out a tick below zero.
ticks_s() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (t < 0 ? 0 : t) / hz }'; }

# Median of numbers (one an argument); empty if none.
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# iperf3 client for SECS; extra args (-R); prints the receiver's Mbit/s. The guest's server may
# still be starting when the guest says it is ready: a refused connection is retried.
iperf_mbps() {
	local out
	for _ in 1 2 3; do
		if out=$(iperf3 -c "$GUEST_IP" -t "$SECS" -f m "$@" 2>&1); then
			awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }' <<<"$out"
			return 0
		fi
		echo "$out" >>"$RESULTS/iperf-errors.log"
		sleep 1
	done
	return 1
}

# PINGS pings 10 ms apart; sets PING_AVG PING_P50 PING_MIN PING_LOSS (ms; loss in packets).
ping_stats() {
	local out times
	ping -c 3 -W 2 "$GUEST_IP" >/dev/null 2>&1 # ARP and caches warm
	out=$(ping -c "$PINGS" -i 0.01 -W 1 "$GUEST_IP" 2>&1)
	echo "$out" >"$RESULTS/$1-ping.log"
	times=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | sort -n)
	PING_LOSS=$((PINGS - $(grep -c . <<<"$times")))
	read -r PING_AVG PING_P50 PING_MIN < <(awk '{ v[NR] = $1; s += $1 }
		END { if (NR) printf "%.3f %.3f %.3f\n", s / NR, v[int((NR + 1) / 2)], v[1] }' <<<"$times")
}

# The first value the sed script S picks from the console log.
log_value() { tr -d '\r' <"$GUEST_LOG" | sed -n "$1" | head -n1; }

# One boot of CFG (run RUN); with NET=1 also the network measurements. Sets B_* results.
bench_boot() {
	local cfg=$1 run=$2 net=$3 vmm=$MINIVMM vhost=off up pid end tot0 vcpu0 tot1 vcpu1
	case $cfg in qemu-*) vmm=$QEMU_VMM ;; esac
	case $cfg in *-vhost) vhost=on ;; esac
	B_BOOT='' B_VMM_BOOT='' B_UPTIME='' B_RSS='' B_HWM='' B_H2G='' B_G2H='' B_CPU='' B_VCPU=''
	PING_AVG='' PING_P50='' PING_MIN='' PING_LOSS=''
	if ! { ip tuntap add dev "$TAP" mode tap && ip addr add "$HOST_IP/24" dev "$TAP" &&
		ip link set "$TAP" up; }; then
		log "$cfg: cannot create $TAP"
		return 1
	fi
	guest_cmd --vmm "$vmm" --log "$cfg-$run" --scenario bench-net --args "$GUEST_IP" \
		--timeout 300 -- --cpus "$CPUS" --mem "$MEM" --net "tap,ifname=$TAP,vhost=$vhost"
	up=$GUEST_LOG.up
	rm -f "$up"
	# Through a FIFO, so that the VMM is the only child of boot_guest's timeout wrapper.
	local t0 fifo
	fifo=$(mktemp -u /tmp/bench-console.XXXXXX)
	mkfifo "$fifo"
	console_stamp "$up" <"$fifo" >"$GUEST_LOG" &
	t0=$(now_us)
	"${GUEST_CMD[@]}" </dev/null >"$fifo" 2>&1 &
	GUEST_PID=$!
	rm -f "$fifo"
	GUEST_START=$SECONDS
	end=$((SECONDS + 240))
	while [ ! -s "$up" ] && kill -0 "$GUEST_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do
		sleep 0.05
	done
	pid=$(pgrep -P "$GUEST_PID" | head -n1)
	if [ -s "$up" ] && [ -n "$pid" ]; then
		B_BOOT=$((($(cat "$up") - t0) / 1000))
		B_RSS=$(proc_kib "$pid" VmRSS)
	fi
	if wait_for_log '^MINIVMM-BENCH-READY' 120 && [ -n "$pid" ]; then
		if [ "$net" = 1 ]; then
			read -r tot0 vcpu0 < <(proc_ticks "$pid")
			ping_stats "$cfg"
			B_H2G=$(iperf_mbps) || log "$cfg: iperf3 host->guest failed"
			B_G2H=$(iperf_mbps -R) || log "$cfg: iperf3 guest->host failed"
			read -r tot1 vcpu1 < <(proc_ticks "$pid")
			B_VCPU=$(ticks_s $((vcpu1 - vcpu0)))
			B_CPU=$(ticks_s $((tot1 - tot0 - (vcpu1 - vcpu0))))
		fi
		B_HWM=$(proc_kib "$pid" VmHWM)
		echo finish | nc -N -w 5 "$GUEST_IP" 5001 || log "$cfg: cannot tell the guest to finish"
	else
		log "$cfg run $run: the guest never got ready (see $GUEST_LOG)"
		kill "$GUEST_PID" 2>/dev/null
	fi
	wait_guest
	ip link del "$TAP"
	B_VMM_BOOT=$(log_value 's/^guest boot time: \([0-9]*\) ms.*/\1/p')
	B_UPTIME=$(log_value 's/.*MINIVMM-GUEST-UP.* uptime=\([0-9.]*\).*/\1/p')
	log "$cfg run $run: boot ${B_BOOT:-?} ms (VMM says ${B_VMM_BOOT:-n/a}, guest uptime" \
		"${B_UPTIME:-?} s), RSS ${B_RSS:-?} KiB, exit $GUEST_RC"
	[ -n "$B_BOOT" ]
}

# Results per config ("CFG.field"), for the table and the JSON; lists are space-separated.
declare -A R
bench_record() {
	local cfg=$1 net=$2
	R[$cfg.boots]+="${B_BOOT:+$B_BOOT }" R[$cfg.vmm_boots]+="${B_VMM_BOOT:+$B_VMM_BOOT }"
	R[$cfg.uptimes]+="${B_UPTIME:+$B_UPTIME }"
	[ "$net" = 1 ] || return 0
	R[$cfg.h2g]=$B_H2G R[$cfg.g2h]=$B_G2H R[$cfg.cpu]=$B_CPU R[$cfg.vcpu]=$B_VCPU
	R[$cfg.ping_avg]=$PING_AVG R[$cfg.ping_p50]=$PING_P50 R[$cfg.ping_min]=$PING_MIN
	R[$cfg.ping_loss]=$PING_LOSS
	R[$cfg.rss]=$(kib_mib "$B_RSS") R[$cfg.hwm]=$(kib_mib "$B_HWM")
}
bench_summarize() {
	local cfg=$1
	# shellcheck disable=SC2086 # the lists split on purpose
	R[$cfg.boot]=$(median ${R[$cfg.boots]:-}) R[$cfg.vmm_boot]=$(median ${R[$cfg.vmm_boots]:-})
	# shellcheck disable=SC2086
	R[$cfg.uptime]=$(median ${R[$cfg.uptimes]:-})
	R[$cfg.boots]=${R[$cfg.boots]% }
	[ -n "${R[$cfg.boot]}" ] && [ -n "${R[$cfg.h2g]}" ] && [ -n "${R[$cfg.g2h]}" ] || BROKEN=1
}

cell() { echo "${R[$1.$2]:-n/a}"; }
jnum() { if [ -n "${R[$1.$2]}" ]; then echo "${R[$1.$2]}"; else echo null; fi; }

write_results() {
	local cfg where kernel place=direct
	[ -z "${MINIVMM_IN_TESTHOST:-}" ] || place=nested-tcg-testhost
	if [ -n "${MINIVMM_IN_TESTHOST:-}" ]; then
		where="inside the nested test host (TCG QEMU, nested KVM): the numbers compare the VMMs"
		where+=$'\nwith each other on this setup; they are not the speeds of real hardware'
	else
		where="directly on this machine's KVM"
	fi
	kernel="Linux $(kernel_version "$GUEST_KERNEL")"
	{
		echo "# minivmm vs QEMU"
		echo
		echo "Measured $where."
		echo
		echo "Guest: $kernel, $CPUS vCPUs, $MEM, virtio-net on a tap;"
		echo "QEMU: $("${BENCH_QEMU:-qemu-system-x86_64}" --version | head -n1)," \
			"-M ${BENCH_QEMU_MACHINE:-q35}."
		echo "Boot: median of $RUNS boots, launch to MINIVMM-GUEST-UP on the console (\"VMM ms\":"
		echo "minivmm's own port-0xf4 boot marker; \"kernel s\": the guest's uptime then)."
		echo "Net: iperf3 TCP ${SECS}s each way, $PINGS pings 10 ms apart, host->guest."
		echo "CPU s: over the net run, the VMM process's threads other than the vCPUs (\"VMM\"; vhost's"
		echo "kernel worker is not one of them), and its vCPU threads (guest time and exits)."
		echo
		echo "| config | boot ms | VMM ms | kernel s | host->guest Mbit/s | guest->host Mbit/s |" \
			"ping avg ms | ping p50 ms | ping min ms | RSS after boot MiB | peak RSS MiB | VMM CPU s |" \
			"vCPU CPU s |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for cfg in "${CONFIGS[@]}"; do
			echo "| $cfg | $(cell "$cfg" boot) | $(cell "$cfg" vmm_boot) | $(cell "$cfg" uptime) |" \
				"$(cell "$cfg" h2g) | $(cell "$cfg" g2h) | $(cell "$cfg" ping_avg) |" \
				"$(cell "$cfg" ping_p50) | $(cell "$cfg" ping_min) | $(cell "$cfg" rss) |" \
				"$(cell "$cfg" hwm) | $(cell "$cfg" cpu) | $(cell "$cfg" vcpu) |"
		done
		echo
		for cfg in "${CONFIGS[@]}"; do
			echo "- $cfg: boot ms per run: ${R[$cfg.boots]:-none}; pings lost: $(cell "$cfg" ping_loss)"
		done
	} >"$RESULTS/results.md"
	{
		echo "{"
		echo "  \"where\": \"$place\","
		echo "  \"guest_kernel\": \"$kernel\", \"cpus\": $CPUS, \"mem\": \"$MEM\","
		echo "  \"runs\": $RUNS, \"iperf_secs\": $SECS, \"pings\": $PINGS,"
		echo "  \"configs\": ["
		local sep=''
		for cfg in "${CONFIGS[@]}"; do
			printf '%s    {"name": "%s", "boot_ms_median": %s, "boot_ms_runs": [%s],' "$sep" "$cfg" \
				"$(jnum "$cfg" boot)" "$(tr ' ' , <<<"${R[$cfg.boots]}")"
			printf ' "vmm_boot_ms_median": %s, "guest_uptime_s": %s,' "$(jnum "$cfg" vmm_boot)" \
				"$(jnum "$cfg" uptime)"
			printf ' "host_to_guest_mbps": %s, "guest_to_host_mbps": %s,' "$(jnum "$cfg" h2g)" \
				"$(jnum "$cfg" g2h)"
			printf ' "ping_avg_ms": %s, "ping_p50_ms": %s, "ping_min_ms": %s, "ping_lost": %s,' \
				"$(jnum "$cfg" ping_avg)" "$(jnum "$cfg" ping_p50)" "$(jnum "$cfg" ping_min)" \
				"$(jnum "$cfg" ping_loss)"
			printf ' "rss_after_boot_mib": %s, "peak_rss_mib": %s, "vmm_cpu_s": %s, "vcpu_cpu_s": %s}' \
				"$(jnum "$cfg" rss)" "$(jnum "$cfg" hwm)" "$(jnum "$cfg" cpu)" "$(jnum "$cfg" vcpu)"
			sep=$',\n'
		done
		printf '\n  ]\n}\n'
	} >"$RESULTS/results.json"
}

for cfg in "${CONFIGS[@]}"; do
	case $cfg in
	minivmm-userspace | minivmm-vhost | qemu-userspace | qemu-vhost) ;;
	*) log "unknown configuration $cfg"; exit 2 ;;
	esac
done
# Rounds that boot every configuration once each: a slow drift of the machine (other load)
# spreads over all rows instead of landing on one. The last round also measures the network.
for ((run = 1; run <= RUNS; run++)); do
	if [ "$run" -eq "$RUNS" ]; then
		log "round $run of $RUNS, with iperf3 and ping"
	else
		log "round $run of $RUNS"
	fi
	for cfg in "${CONFIGS[@]}"; do
		bench_boot "$cfg" "$run" $((run == RUNS)) || true
		bench_record "$cfg" $((run == RUNS))
	done
done
for cfg in "${CONFIGS[@]}"; do
	bench_summarize "$cfg"
done
write_results
exit "$BROKEN"
