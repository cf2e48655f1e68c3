#!/usr/bin/env bash
# The bench's host side (tests/bench/run.sh runs it here or inside the test host): minivmm and
# QEMU boot the same test guest (kernel, initrd-bench.img: the test initrd plus sockperf, command
# line, 2 vCPUs, 512M) on a tap, per datapath: "userspace" and "vhost" (vhost-net), and "mq2"
# (userspace with 2 queue pairs, when minivmm's --help offers queues=). The two VMMs of a
# datapath run side by side, one tap each, and are measured in BENCH_ROUNDS interleaved rounds
# (minivmm, QEMU, minivmm, QEMU, ...), so a drift of the machine lands on both and the
# minivmm/QEMU ratio is taken per round. Per round:
#   ping      BENCH_PINGS pings host->guest 10 ms apart: avg, p50, min RTT
#   iperf3    TCP host->guest and guest->host (-R), BENCH_SECS each (mq2: -P 2)
#   pktgen    (not mq2) 64-byte frames: the guest kernel's pktgen out of eth0, counted as the
#             tap's rx_packets over BENCH_SECS of the run; the host kernel's pktgen into the tap,
#             counted as the guest's eth0 rx_packets over pktgen's own elapsed time
#   RR        (not mq2) sockperf UDP ping-pong for BENCH_SECS: round trips/s, RTT p50 and p99
#   CPU       utime+stime of the VMM process (all threads) plus vhost-net's workers (kernel
#             threads vhost-PID before Linux 6.4, threads of the process after), per GB through
#             the tap during iperf3 and per million packets during pktgen; "datapath": the same
#             without the vCPU threads (minivmm's vcpuN, QEMU's "CPU N/KVM")
#   memory    overhead = Rss of the VMM process minus the Rss of its guest RAM mapping(s) (the
#             anonymous mappings of at least half the guest's size, /proc/PID/smaps), and VmHWM
# Once per guest: the boot (wall ms from launching the VMM to MINIVMM-GUEST-UP; minivmm's own
# port-0xf4 "guest boot time"; the guest's uptime then) and VmRSS right after it.
# Writes $RESULTS/results.md (tables, targets), results.json, results.dat (for chart.sh), one
# console log per guest (<config>.log, .cmd beside it). Nothing here passes or fails on a number:
# the exit status is 1 when a measurement could not be taken (each one a "bench: FAILED" line),
# 2 for bad settings.
#   BENCH_ROUNDS=5 BENCH_SECS=2 BENCH_PINGS=100 BENCH_DATAPATHS="userspace vhost mq2"
#   BENCH_VMMS="minivmm qemu" BENCH_QEMU_MACHINE=q35 BENCH_QEMU BENCH_MEM=512M BENCH_CPUS=2
set -uo pipefail
# The test guest with sockperf added (guest/build.sh).
GUEST_INITRD=${GUEST_INITRD:-${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}/guest/initrd-bench.img}
bench_kernel=${GUEST_KERNEL:-}
# shellcheck source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck disable=SC2034 # GUEST_START is lib.sh's (wait_guest)
# The bzImage, as users boot it (e2e's default is the PVH vmlinux), for both VMMs.
GUEST_KERNEL=${bench_kernel:-$BUILD/guest/vmlinuz}

ROUNDS=${BENCH_ROUNDS:-5} SECS=${BENCH_SECS:-2} PINGS=${BENCH_PINGS:-100}
MEM=${BENCH_MEM:-512M} CPUS=${BENCH_CPUS:-2}
read -ra DATAPATHS <<<"${BENCH_DATAPATHS:-userspace vhost mq2}"
read -ra VMMS <<<"${BENCH_VMMS:-minivmm qemu}"
QEMU_VMM=$MINIVMM_SRC/tests/bench/qemu-as-minivmm.sh
HZ=$(getconf CLK_TCK)
# pktgen's TX frames go to a MAC no one has: the host drops them right after the tap counts them.
TX_DST_MAC=02:00:00:00:be:ef
FAILS=()

log() { echo "bench: $*" >&2; }
# A measurement that could not be taken: the bench goes on, and exits 1 at the end.
failed() {
	FAILS+=("$*")
	log "FAILED: $*"
}
now_us() { echo "${EPOCHREALTIME/./}"; }

# The version string a bzImage carries (boot protocol: header field kernel_version at 0x20e).
kernel_version() {
	local off
	off=$(od -An -tu2 -j 526 -N 2 "$1" | tr -d ' ') || return
	dd if="$1" bs=1 skip=$((off + 512)) count=80 2>/dev/null | tr '\0' '\n' | head -n1 | cut -d' ' -f1
}

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

# --- numbers -------------------------------------------------------------------------------

# "median min max" of numbers (one an argument); nothing if none.
stats() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}
# awk arithmetic on the arguments (ARGV[1]...), printed with FMT.
calc() {
	local fmt=$1 expr=$2
	shift 2
	awk -v fmt="$fmt" "BEGIN { d = $expr; if (d == \"\") exit; printf fmt, d }" "$@" </dev/null
}
# x / y with FMT, empty when either is missing or y is 0.
ratio() {
	[ -n "$2" ] && [ -n "$3" ] || return 0
	awk -v fmt="$1" -v x="$2" -v y="$3" 'BEGIN { if (y != 0) printf fmt, x / y }'
}
# CPU ms for TICKS per UNIT (1e9: per GB, 1e6: per million packets) of COUNT moved; nothing
# when nothing moved.
ms_per() { [ "$2" -gt 0 ] && calc '%.0f' 'ARGV[1] * 1000 / ARGV[4] / (ARGV[2] / ARGV[3])' "$1" "$2" "$3" "$HZ"; }

# --- the VMM process -----------------------------------------------------------------------

# utime+stime ticks of a /proc stat file; the comm field may hold spaces, so fields are counted
# after its closing parenthesis.
stat_ticks() {
	local line f
	read -r line 2>/dev/null <"$1" || { echo 0; return; }
	read -ra f <<<"${line##*) }"
	echo $((f[11] + f[12]))
}
# Sets CPU_ALL (ticks: the process, all its threads past and present, plus the vhost-net
# workers that are kernel threads) and CPU_VCPU (its vCPU threads).
cpu_sample() {
	local pid=$1 workers=$2 t comm w
	CPU_ALL=$(stat_ticks "/proc/$pid/stat") CPU_VCPU=0
	for t in /proc/"$pid"/task/*; do
		read -r comm <"$t/comm" 2>/dev/null || continue
		case $comm in
		vcpu[0-9]* | "CPU "*/KVM) CPU_VCPU=$((CPU_VCPU + $(stat_ticks "$t/stat"))) ;;
		esac
	done
	for w in $workers; do CPU_ALL=$((CPU_ALL + $(stat_ticks "/proc/$w/stat"))); done
}
# vhost-net's workers for PID: Linux before 6.4 runs them as kernel threads "vhost-TID" (TID:
# the thread that set the owner; not part of the process: listed here), later ones as threads
# "vhost-PID" of the process (already counted). Fails when there are neither.
vhost_workers() {
	local pid=$1 names f
	names=$(cd "/proc/$pid/task" && printf 'vhost-%s\n' *)
	f=$(grep -lxF "$names" /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')
	if [ -z "$f" ] && ! grep -qx "vhost-$pid" /proc/"$pid"/task/*/comm 2>/dev/null; then
		return 1
	fi
	echo "$f"
}
# /proc/PID/status field in KiB.
proc_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
kib_mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# "TOTAL_KIB GUEST_KIB": the Rss of all of PID's mappings and of its guest RAM, the anonymous
# mappings of at least half the guest's size (minivmm: one; QEMU: pc.ram, below 4G for 512M).
# Fails when no mapping looks like guest RAM.
smaps_rss() {
	local mem_kib=$2
	awk -v half=$((mem_kib / 2)) '
		/^[0-9a-f]+-[0-9a-f]+ / { anon = ($6 == "" || $6 ~ /^\[anon/) }
		/^Size:/ { size = $2 }
		/^Rss:/ { total += $2; if (anon && size >= half) { guest += $2; n++ } }
		END { if (!n) exit 1; print total, guest }' "/proc/$1/smaps"
}
mem_kib() {
	case $1 in
	*G) echo $((${1%G} * 1024 * 1024)) ;;
	*M) echo $((${1%M} * 1024)) ;;
	*) echo $(($1 / 1024)) ;;
	esac
}

# --- guests --------------------------------------------------------------------------------

# Per slot (0, 1: the two VMMs of a datapath): config, tap, addresses, the timeout wrapper's
# pid, the VMM's pid, the console log, vhost workers, the guest's MAC.
declare -a S_CFG S_TAP S_HIP S_GIP S_WRAP S_PID S_LOG S_VHOST S_MAC S_DEAD
declare -A R # results: "CFG.metric" -> one value per round, space-separated

tap_counter() {
	local v
	read -r v <"/sys/class/net/$1/statistics/$2" || return 1
	echo "$v"
}

# Boots CFG in SLOT and waits until its guest serves the bench; records the boot.
guest_up() {
	local slot=$1 cfg=$2 vmm=$MINIVMM vhost=off net mq='' up t0 fifo pid life
	local tap=mvbench$slot hip=10.78.$slot.1 gip=10.78.$slot.2
	case $cfg in qemu-*) vmm=$QEMU_VMM ;; esac
	case $cfg in *-vhost) vhost=on ;; *-mq2) mq=multi_queue ;; esac
	S_CFG[slot]=$cfg S_TAP[slot]=$tap S_HIP[slot]=$hip S_GIP[slot]=$gip S_PID[slot]=''
	S_WRAP[slot]='' S_VHOST[slot]='' S_MAC[slot]='' S_DEAD[slot]=1
	if ! { ip tuntap add dev "$tap" mode tap ${mq:+"$mq"} && ip addr add "$hip/24" dev "$tap" &&
		ip link set "$tap" up; }; then
		failed "$cfg: cannot create $tap"
		return 1
	fi
	net="tap,ifname=$tap,vhost=$vhost${mq:+,queues=2}"
	life=$((300 + ROUNDS * 2 * (6 * SECS + 60)))
	guest_cmd --vmm "$vmm" --log "$cfg" --scenario bench-net --args "$gip" --timeout "$life" \
		-- --cpus "$CPUS" --mem "$MEM" --net "$net"
	S_LOG[slot]=$GUEST_LOG
	up=$GUEST_LOG.up
	rm -f "$up"
	# Through a FIFO, so that the VMM is the only child of the timeout wrapper.
	fifo=$(mktemp -u /tmp/bench-console.XXXXXX)
	mkfifo "$fifo"
	console_stamp "$up" <"$fifo" >"$GUEST_LOG" &
	t0=$(now_us)
	"${GUEST_CMD[@]}" </dev/null >"$fifo" 2>&1 &
	GUEST_PID=$!
	GUEST_START=$SECONDS # for wait_guest
	S_WRAP[slot]=$GUEST_PID
	rm -f "$fifo"
	# MINIVMM-GUEST-UP comes before READY: the boot time is taken from the stamp file.
	if ! wait_for_log '^MINIVMM-BENCH-READY' 240; then
		failed "$cfg: the guest never got ready (see $GUEST_LOG)"
		return 1
	fi
	pid=$(pgrep -P "$GUEST_PID" | head -n1)
	[ -n "$pid" ] || { failed "$cfg: no VMM process under $GUEST_PID"; return 1; }
	S_PID[slot]=$pid S_DEAD[slot]=''
	if [ -s "$up" ]; then
		R[$cfg.boot]=$((($(cat "$up") - t0) / 1000))
	else
		failed "$cfg: no MINIVMM-GUEST-UP time"
	fi
	R[$cfg.vmm_boot]=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^guest boot time: \([0-9]*\) ms.*/\1/p' | head -n1)
	R[$cfg.uptime]=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/.*MINIVMM-GUEST-UP.* uptime=\([0-9.]*\).*/\1/p' | head -n1)
	R[$cfg.rss]=$(kib_mib "$(proc_kib "$pid" VmRSS)")
	if [ "$vhost" = on ]; then
		S_VHOST[slot]=$(vhost_workers "$pid") || failed "$cfg: no vhost-$pid worker"
	fi
	# The guest's MAC, for pktgen's frames into the tap (QEMU's device filters on it).
	ping -c 2 -W 2 "$gip" >/dev/null 2>&1
	S_MAC[slot]=$(ip neigh show "$gip" dev "$tap" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
	[ -n "${S_MAC[slot]}" ] || failed "$cfg: no ARP entry for $gip"
	log "$cfg: boot ${R[$cfg.boot]:-?} ms (VMM says ${R[$cfg.vmm_boot]:-n/a}, guest uptime" \
		"${R[$cfg.uptime]:-?} s), RSS ${R[$cfg.rss]:-?} MiB, pid $pid${S_VHOST[slot]:+, vhost workers ${S_VHOST[slot]}}"
}

# One command to the guest's control port (guest/scenarios/lib/bench-ctl.sh); prints its reply.
ctl() { echo "$2" | nc -N -w 60 "${S_GIP[$1]}" 5001; }

guest_down() {
	local slot=$1 cfg=${S_CFG[$1]}
	[ -n "${S_WRAP[slot]}" ] || return 0
	GUEST_PID=${S_WRAP[slot]} GUEST_LOG=${S_LOG[slot]}
	# The guest may power off before its "ok" is out: its scenario's end is what counts.
	[ -n "${S_DEAD[slot]}" ] || ctl "$slot" finish >/dev/null
	if [ -z "${S_DEAD[slot]}" ] && ! wait_for_log '^MINIVMM-SCENARIO-(DONE|FAILED)' 120; then
		failed "$cfg: the guest did not finish when told to"
		S_DEAD[slot]=1
	fi
	[ -z "${S_DEAD[slot]}" ] || kill "${S_WRAP[slot]}" 2>/dev/null
	wait_guest
	if [ -z "${S_DEAD[slot]}" ] && ! guest_scenario_clean; then
		failed "$cfg: guest scenario failed or its kernel logged errors: $GUEST_ERRORS"
	fi
	ip link del "${S_TAP[slot]}"
	S_WRAP[slot]=''
}

# --- measurements (each sets M_* or fails) -----------------------------------------------------

# PINGS pings 10 ms apart: M_PING="avg p50 min" (ms).
m_ping() {
	local out
	out=$(ping -c "$PINGS" -i 0.01 -W 1 "${S_GIP[$1]}" 2>&1)
	echo "$out" >>"$RESULTS/${S_CFG[$1]}-ping.log"
	M_PING=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' <<<"$out" | sort -g | awk '{ v[NR] = $1; s += $1 }
		END { if (NR) printf "%.3f %.3f %.3f\n", s / NR, v[int((NR + 1) / 2)], v[1] }')
	[ -n "$M_PING" ]
}

# iperf3 for SECS with extra args; M_MBPS = the receiver's Mbit/s (with -P: the sum).
m_iperf() {
	local slot=$1 out
	shift
	if out=$(iperf3 -c "${S_GIP[slot]}" -t "$SECS" -f m "$@" 2>&1); then
		M_MBPS=$(awk '/receiver/ { for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") v = $(i - 1) }
			END { print v }' <<<"$out")
		[ -n "$M_MBPS" ] && return 0
	fi
	echo "$out" >>"$RESULTS/iperf-errors.log"
	return 1
}

# The guest's pktgen out of eth0; the tap counts what arrives over SECS of the run, from the
# moment the counter moves. M_PKTS, M_KPPS; M_CPU_ALL/M_CPU_VCPU: ticks over the same window.
m_pktgen_tx() {
	local slot=$1 tap=${S_TAP[$1]} c0 c1 c2 t1 t2 a1 v1 reply rc=0 end
	reply=$(mktemp /tmp/bench-pktgen.XXXXXX)
	c0=$(tap_counter "$tap" rx_packets) || return 1
	ctl "$slot" "pktgen $((SECS + 2)) ${S_HIP[slot]} $TX_DST_MAC" >"$reply" &
	local job=$!
	# Started: the guest's own frames (ARP, TCP) are a few; pktgen's are thousands.
	end=$((SECONDS + 20))
	while c1=$(tap_counter "$tap" rx_packets) && [ $((c1 - c0)) -lt 1000 ] && [ $SECONDS -lt $end ]; do
		sleep 0.05
	done
	t1=$(now_us)
	cpu_sample "${S_PID[slot]}" "${S_VHOST[slot]}"
	a1=$CPU_ALL v1=$CPU_VCPU
	if [ $((c1 - c0)) -lt 1000 ]; then
		rc=1
		log "${S_CFG[slot]}: pktgen TX: the tap saw $((c1 - c0)) frames in 20 s"
	else
		sleep "$SECS"
		c2=$(tap_counter "$tap" rx_packets)
		t2=$(now_us)
		cpu_sample "${S_PID[slot]}" "${S_VHOST[slot]}"
		# The window must lie inside the guest's run (its reply comes after the run stops).
		if ! kill -0 "$job" 2>/dev/null; then
			rc=1
			log "${S_CFG[slot]}: pktgen TX: the guest's run ended inside the ${SECS} s window"
		fi
	fi
	wait "$job" || rc=1
	case $(cat "$reply") in
	"sent "[1-9]*) ;;
	*) rc=1; log "${S_CFG[slot]}: pktgen TX: the guest said: $(tr '\n' ' ' <"$reply")" ;;
	esac
	rm -f "$reply"
	[ "$rc" = 0 ] || return 1
	M_PKTS=$((c2 - c1)) M_CPU_ALL=$((CPU_ALL - a1)) M_CPU_VCPU=$((CPU_VCPU - v1))
	M_KPPS=$(calc '%.1f' 'ARGV[1] / ARGV[2] * 1000' "$M_PKTS" $((t2 - t1)))
	[ "$M_PKTS" -gt 0 ]
}

# The host's pktgen into the tap for SECS; the guest counts what eth0 received, over pktgen's
# elapsed time. Sets M_PKTS, M_KPPS, M_CPU_ALL, M_CPU_VCPU.
pg() { echo "$2" >"/proc/net/pktgen/$1"; }
m_pktgen_rx() {
	local slot=$1 tap=${S_TAP[$1]} r0 r1 a0 v0 usec job
	r0=$(ctl "$slot" rx)
	[[ $r0 =~ ^[0-9]+$ ]] || { log "${S_CFG[slot]}: guest rx_packets: '$r0'"; return 1; }
	pg kpktgend_0 rem_device_all && pg kpktgend_0 "add_device $tap" && pg "$tap" "count 0" &&
		pg "$tap" "pkt_size 60" && pg "$tap" "clone_skb 0" && pg "$tap" "dst ${S_GIP[slot]}" &&
		pg "$tap" "dst_mac ${S_MAC[slot]}" && pg "$tap" "udp_dst_min 9" &&
		pg "$tap" "udp_dst_max 9" || return 1
	cpu_sample "${S_PID[slot]}" "${S_VHOST[slot]}"
	a0=$CPU_ALL v0=$CPU_VCPU
	# "start" returns when the run stops.
	echo start >/proc/net/pktgen/pgctrl &
	job=$!
	sleep "$SECS"
	echo stop >/proc/net/pktgen/pgctrl
	wait "$job"
	cpu_sample "${S_PID[slot]}" "${S_VHOST[slot]}"
	usec=$(sed -n 's/.*Result: OK: \([0-9]*\)(.*/\1/p' "/proc/net/pktgen/$tap")
	pg kpktgend_0 rem_device_all
	r1=$(ctl "$slot" rx)
	if ! [[ $r1 =~ ^[0-9]+$ && $usec =~ ^[1-9][0-9]*$ ]]; then
		log "${S_CFG[slot]}: pktgen RX: guest rx_packets '$r1', pktgen usec '$usec'"
		return 1
	fi
	M_PKTS=$((r1 - r0)) M_CPU_ALL=$((CPU_ALL - a0)) M_CPU_VCPU=$((CPU_VCPU - v0))
	M_KPPS=$(calc '%.1f' 'ARGV[1] / ARGV[2] * 1000' "$M_PKTS" "$usec")
	[ "$M_PKTS" -gt 0 ]
}

# sockperf UDP ping-pong for SECS: M_RR="round-trips/s p50_us p99_us" (full round trips).
m_rr() {
	local out
	out=$(sockperf ping-pong -i "${S_GIP[$1]}" -t "$SECS" --full-rtt --no-rdtsc 2>&1)
	echo "$out" >>"$RESULTS/${S_CFG[$1]}-sockperf.log"
	M_RR=$(awk '/\[Valid Duration\]/ { for (i = 1; i <= NF; i++) {
				if ($i ~ /^RunTime=/) { t = $i; sub(/RunTime=/, "", t) }
				if ($i ~ /^ReceivedMessages=/) { n = $i; sub(/.*=/, "", n) } } }
		/percentile 50.000 =/ { p50 = $NF } /percentile 99.000 =/ { p99 = $NF }
		END { if (t > 0 && n > 0 && p50 != "" && p99 != "") printf "%.0f %.1f %.1f\n", n / t, p50, p99 }' <<<"$out")
	[ -n "$M_RR" ]
}

# Appends VALUE to CFG.METRIC.rounds; a missing value is a failed measurement.
put() {
	if [ -n "$3" ]; then
		R[$1.$2.rounds]+="$3 "
	else
		failed "$1 round $ROUND: no $2"
	fi
}
# put for each word of VALUES ("a b c") and METRIC... in turn.
put_all() {
	local cfg=$1 v i
	read -ra v <<<"$2"
	shift 2
	for ((i = 1; i <= $#; i++)); do put "$cfg" "${!i}" "${v[i - 1]:-}"; done
}

# One round's measurements of the guest in SLOT.
measure() {
	local slot=$1 cfg=${S_CFG[$1]} pid=${S_PID[$1]} w=${S_VHOST[$1]} par=() b0 b1 a0 v0 a1 v1
	local tx_pkts='' rx_pkts='' pk_all=0 pk_vcpu=0 p
	if [ -n "${S_DEAD[slot]}" ] || ! kill -0 "$pid" 2>/dev/null; then
		S_DEAD[slot]=1
		failed "$cfg round $ROUND: the guest is not running"
		return
	fi
	log "$cfg: round $ROUND"
	if m_ping "$slot"; then
		put_all "$cfg" "$M_PING" ping_avg ping_p50 ping_min
	else
		failed "$cfg round $ROUND: no ping reply"
	fi
	case $cfg in *-mq2) par=(-P 2) ;; esac
	b0=$(($(tap_counter "${S_TAP[slot]}" rx_bytes) + $(tap_counter "${S_TAP[slot]}" tx_bytes)))
	cpu_sample "$pid" "$w"
	a0=$CPU_ALL v0=$CPU_VCPU
	if m_iperf "$slot" "${par[@]}"; then
		put "$cfg" h2g "$M_MBPS"
	else
		failed "$cfg round $ROUND: iperf3 host->guest"
	fi
	if m_iperf "$slot" -R "${par[@]}"; then
		put "$cfg" g2h "$M_MBPS"
	else
		failed "$cfg round $ROUND: iperf3 guest->host"
	fi
	cpu_sample "$pid" "$w"
	a1=$CPU_ALL v1=$CPU_VCPU
	b1=$(($(tap_counter "${S_TAP[slot]}" rx_bytes) + $(tap_counter "${S_TAP[slot]}" tx_bytes)))
	put "$cfg" cpu_gb "$(ms_per $((a1 - a0)) $((b1 - b0)) 1e9)"
	put "$cfg" cpu_gb_dp "$(ms_per $((a1 - a0 - (v1 - v0))) $((b1 - b0)) 1e9)"
	put "$cfg" cpu "$(calc '%.2f' 'ARGV[1] / ARGV[2]' $((a1 - a0 - (v1 - v0))) "$HZ")"
	put "$cfg" vcpu "$(calc '%.2f' 'ARGV[1] / ARGV[2]' $((v1 - v0)) "$HZ")"
	case $cfg in *-mq2) ;; *)
		if m_pktgen_tx "$slot"; then
			put "$cfg" tx_kpps "$M_KPPS"
			tx_pkts=$M_PKTS pk_all=$((pk_all + M_CPU_ALL)) pk_vcpu=$((pk_vcpu + M_CPU_VCPU))
		else
			failed "$cfg round $ROUND: pktgen TX"
		fi
		if m_pktgen_rx "$slot"; then
			put "$cfg" rx_kpps "$M_KPPS"
			rx_pkts=$M_PKTS pk_all=$((pk_all + M_CPU_ALL)) pk_vcpu=$((pk_vcpu + M_CPU_VCPU))
		else
			failed "$cfg round $ROUND: pktgen RX"
		fi
		if [ -n "$tx_pkts" ] && [ -n "$rx_pkts" ]; then
			# Both directions pooled.
			put "$cfg" cpu_mpkt "$(ms_per "$pk_all" $((tx_pkts + rx_pkts)) 1e6)"
			put "$cfg" cpu_mpkt_dp "$(ms_per $((pk_all - pk_vcpu)) $((tx_pkts + rx_pkts)) 1e6)"
		fi
		if m_rr "$slot"; then
			put_all "$cfg" "$M_RR" rr_tps rr_p50 rr_p99
		else
			failed "$cfg round $ROUND: sockperf ping-pong"
		fi
		;;
	esac
	if p=$(smaps_rss "$pid" "$(mem_kib "$MEM")"); then
		# shellcheck disable=SC2086 # "TOTAL GUEST"
		put "$cfg" overhead "$(calc '%.1f' '(ARGV[1] - ARGV[2]) / 1024' $p)"
	else
		failed "$cfg round $ROUND: no guest RAM mapping in /proc/$pid/smaps"
	fi
	put "$cfg" hwm "$(kib_mib "$(proc_kib "$pid" VmHWM)")"
}

# --- results -------------------------------------------------------------------------------

METRICS=(h2g g2h tx_kpps rx_kpps rr_tps rr_p50 rr_p99 ping_avg ping_p50 ping_min cpu_gb cpu_gb_dp
	cpu_mpkt cpu_mpkt_dp cpu vcpu overhead hwm)
declare -A LABELS=([h2g]="host->guest Mbit/s" [g2h]="guest->host Mbit/s" [tx_kpps]="TX kpps"
	[rx_kpps]="RX kpps" [rr_tps]="RR/s" [rr_p50]="RR p50" [rr_p99]="RR p99"
	[cpu_gb_dp]="datapath CPU ms/GB" [cpu_mpkt_dp]="datapath CPU ms/Mpkt" [overhead]="overhead MiB")
# Median, min and max of every per-round metric: CFG.METRIC, CFG.METRIC.min, CFG.METRIC.max.
summarize() {
	local cfg=$1 m s
	for m in "${METRICS[@]}"; do
		# shellcheck disable=SC2086 # the list splits on purpose
		s=$(stats ${R[$cfg.$m.rounds]:-})
		[ -n "$s" ] || continue
		read -r R["$cfg.$m"] R["$cfg.$m.min"] R["$cfg.$m.max"] <<<"$s"
	done
}
# minivmm/QEMU per round for METRIC of DATAPATH: sets RATIO="median min max" (empty if none).
round_ratios() {
	local dp=$1 m=$2 a b i r rs=()
	read -ra a <<<"${R[minivmm-$dp.$m.rounds]:-}"
	read -ra b <<<"${R[qemu-$dp.$m.rounds]:-}"
	for i in "${!a[@]}"; do
		r=$(ratio '%.2f' "${a[i]}" "${b[i]:-}")
		[ -z "$r" ] || rs+=("$r")
	done
	RATIO=$(stats "${rs[@]}")
}

cell() { echo "${R[$1.$2]:-n/a}"; }
jnum() { echo "${R[$1.$2]:-null}"; }
jlist() { local l=${R[$1.$2.rounds]:-}; l=${l% }; echo "[${l// /, }]"; }

# "met" or "short by ..." for a ratio target; HIGHER=1: the ratio must be at least TARGET.
target_line() {
	local what=$1 r=$2 target=$3 higher=$4
	if [ -z "$r" ]; then
		echo "- $what: not measured"
	elif awk -v r="$r" -v t="$target" -v h="$higher" 'BEGIN { exit !(h ? r >= t : r <= t) }'; then
		echo "- $what: met (${r}x, target $( ((higher)) && echo '>=' || echo '<=') ${target}x)"
	else
		echo "- $what: short by $(awk -v r="$r" -v t="$target" -v h="$higher" \
			'BEGIN { printf "%.0f%%", (h ? (t - r) / t : (r - t) / t) * 100 }') (${r}x, target" \
			"$( ((higher)) && echo '>=' || echo '<=') ${target}x)"
	fi
}

write_results() {
	local cfg dp m where kernel place=direct s
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
		echo "Guest: $kernel, $CPUS vCPUs, $MEM, virtio-net on a tap; host: Linux $(uname -r)."
		echo "QEMU: $("${BENCH_QEMU:-qemu-system-x86_64}" --version | head -n1)," \
			"-M ${BENCH_QEMU_MACHINE:-q35}."
		echo "Each figure is the median of $ROUNDS interleaved rounds (min-max: results.json)."
		echo "iperf3 TCP ${SECS}s each way (mq2: -P 2, 2 queue pairs); pktgen 64 B frames ${SECS}s"
		echo "each way (TX: the guest's pktgen, counted at the tap; RX: the host's pktgen into the"
		echo "tap, counted by the guest); RR: sockperf UDP ping-pong ${SECS}s, round-trip times;"
		echo "$PINGS pings host->guest 10 ms apart."
		echo
		echo "| config | host->guest Mbit/s | guest->host Mbit/s | TX kpps | RX kpps | RR/s |" \
			"RR p50 us | RR p99 us | ping avg ms | ping p50 ms | ping min ms |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for cfg in "${CONFIGS[@]}"; do
			echo "| $cfg | $(cell "$cfg" h2g) | $(cell "$cfg" g2h) | $(cell "$cfg" tx_kpps) |" \
				"$(cell "$cfg" rx_kpps) | $(cell "$cfg" rr_tps) | $(cell "$cfg" rr_p50) |" \
				"$(cell "$cfg" rr_p99) | $(cell "$cfg" ping_avg) | $(cell "$cfg" ping_p50) |" \
				"$(cell "$cfg" ping_min) |"
		done
		echo
		echo "CPU: the VMM process (all threads) plus vhost-net's workers, in ms per GB through the"
		echo "tap during iperf3 and per million packets during pktgen (both directions pooled);"
		echo "\"datapath\": without the vCPU threads (whose time is mostly the guest's). CPU s: over"
		echo "iperf3, the VMM's threads other than the vCPUs (with vhost's workers), and its vCPUs."
		echo "Overhead: the VMM's Rss minus its guest RAM's Rss (smaps), after the round."
		echo
		echo "| config | CPU ms/GB | datapath ms/GB | CPU ms/Mpkt | datapath ms/Mpkt | VMM CPU s |" \
			"vCPU CPU s | overhead MiB | RSS after boot MiB | peak RSS MiB | boot ms | VMM ms | kernel s |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		for cfg in "${CONFIGS[@]}"; do
			echo "| $cfg | $(cell "$cfg" cpu_gb) | $(cell "$cfg" cpu_gb_dp) | $(cell "$cfg" cpu_mpkt) |" \
				"$(cell "$cfg" cpu_mpkt_dp) | $(cell "$cfg" cpu) | $(cell "$cfg" vcpu) |" \
				"$(cell "$cfg" overhead) | $(cell "$cfg" rss) | $(cell "$cfg" hwm) |" \
				"$(cell "$cfg" boot) | $(cell "$cfg" vmm_boot) | $(cell "$cfg" uptime) |"
		done
		echo
		echo "minivmm / QEMU, taken per round: median (min-max). Above 1 is better for Mbit/s,"
		echo "kpps and RR/s; below 1 is better for latency, CPU and memory."
		echo
		echo "| metric |$(printf ' %s |' "${RATIO_DPS[@]}")"
		echo "|---|$(printf -- '---:|%.0s' "${RATIO_DPS[@]}")"
		for m in h2g g2h tx_kpps rx_kpps rr_tps rr_p50 rr_p99 cpu_gb_dp cpu_mpkt_dp overhead; do
			printf '| %s |' "${LABELS[$m]}"
			for dp in "${RATIO_DPS[@]}"; do
				round_ratios "$dp" "$m"
				if [ -n "$RATIO" ]; then
					read -r s a b <<<"$RATIO"
					printf ' %s (%s-%s) |' "$s" "$a" "$b"
				else
					printf ' n/a |'
				fi
			done
			echo
		done
		echo
		echo "Targets (issue #10; reported, never enforced):"
		round_ratios userspace tx_kpps
		target_line "userspace TX small-packet rate >= 1.3x QEMU userspace" "${RATIO%% *}" 1.3 1
		round_ratios userspace rx_kpps
		target_line "userspace RX small-packet rate >= 1.3x QEMU userspace" "${RATIO%% *}" 1.3 1
		for dp in userspace vhost; do
			round_ratios "$dp" rr_p50
			target_line "$dp RR p50 <= QEMU $dp" "${RATIO%% *}" 1 0
		done
		for cfg in minivmm-userspace minivmm-vhost; do
			s=${R[$cfg.overhead]:-}
			if [ -z "$s" ]; then
				echo "- $cfg memory overhead <= 8 MiB: not measured"
			elif awk -v s="$s" 'BEGIN { exit !(s <= 8) }'; then
				echo "- $cfg memory overhead <= 8 MiB: met ($s MiB)"
			else
				echo "- $cfg memory overhead <= 8 MiB: short by $(calc '%.1f' 'ARGV[1] - 8' "$s") MiB ($s MiB)"
			fi
		done
		[ -z "${MQ_SKIPPED:-}" ] || echo "- mq2: $MQ_SKIPPED"
	} >"$RESULTS/results.md"
	{
		echo "{"
		echo "  \"where\": \"$place\","
		echo "  \"guest_kernel\": \"$kernel\", \"cpus\": $CPUS, \"mem\": \"$MEM\","
		echo "  \"rounds\": $ROUNDS, \"secs\": $SECS, \"pings\": $PINGS,"
		echo "  \"configs\": ["
		local sep='' m
		for cfg in "${CONFIGS[@]}"; do
			printf '%s    {"name": "%s", "boot_ms": %s, "vmm_boot_ms": %s, "guest_uptime_s": %s,' \
				"$sep" "$cfg" "$(jnum "$cfg" boot)" "$(jnum "$cfg" vmm_boot)" "$(jnum "$cfg" uptime)"
			printf ' "rss_after_boot_mib": %s' "$(jnum "$cfg" rss)"
			for m in "${METRICS[@]}"; do
				printf ',\n      "%s": {"median": %s, "min": %s, "max": %s, "rounds": %s}' "$m" \
					"$(jnum "$cfg" "$m")" "$(jnum "$cfg" "$m.min")" "$(jnum "$cfg" "$m.max")" \
					"$(jlist "$cfg" "$m")"
			done
			printf '}'
			sep=$',\n'
		done
		printf '\n  ],\n  "ratios": {'
		sep=''
		for dp in "${RATIO_DPS[@]}"; do
			for m in "${METRICS[@]}"; do
				round_ratios "$dp" "$m"
				[ -n "$RATIO" ] || continue
				read -r s a b <<<"$RATIO"
				printf '%s\n    "%s.%s": {"median": %s, "min": %s, "max": %s}' "$sep" "$dp" "$m" "$s" "$a" "$b"
				sep=,
			done
		done
		printf '\n  }\n}\n'
	} >"$RESULTS/results.json"
	# For tests/bench/chart.sh: one line per configuration, "-" where there is no number.
	{
		echo "# config h2g min max g2h min max tx_kpps min max rx_kpps min max rr_p50 min max rr_p99 min max"
		for cfg in "${CONFIGS[@]}"; do
			printf '%s' "$cfg"
			for m in h2g g2h tx_kpps rx_kpps rr_p50 rr_p99; do
				printf ' %s %s %s' "${R[$cfg.$m]:--}" "${R[$cfg.$m.min]:--}" "${R[$cfg.$m.max]:--}"
			done
			echo
		done
	} >"$RESULTS/results.dat"
}

# --- main ----------------------------------------------------------------------------------

for dp in "${DATAPATHS[@]}"; do
	case $dp in userspace | vhost | mq2) ;; *) log "unknown datapath $dp (userspace vhost mq2)"; exit 2 ;; esac
done
for v in "${VMMS[@]}"; do
	case $v in minivmm | qemu) ;; *) log "unknown VMM $v (minivmm qemu)"; exit 2 ;; esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SECS =~ ^[1-9][0-9]*$ && $PINGS =~ ^[1-9][0-9]*$ ]] ||
	{ log "BENCH_ROUNDS, BENCH_SECS and BENCH_PINGS must be positive integers"; exit 2; }
# The host side's pktgen (the test host loads it at boot; a plain host may need it loaded).
[ -d /proc/net/pktgen ] || modprobe pktgen 2>/dev/null
[ -d /proc/net/pktgen ] || { log "FAILED: no /proc/net/pktgen on this host (pktgen.ko)"; exit 1; }
command -v sockperf >/dev/null || { log "FAILED: no sockperf on this host (tools/deps.txt)"; exit 1; }

CONFIGS=() RATIO_DPS=() MQ_SKIPPED=''
for dp in "${DATAPATHS[@]}"; do
	if [ "$dp" = mq2 ] && ! "$MINIVMM" --help 2>&1 | grep -q 'queues='; then
		MQ_SKIPPED="not run: this minivmm's --help offers no queues= (multiqueue, issue #12)"
		log "mq2: $MQ_SKIPPED"
		continue
	fi
	for v in "${VMMS[@]}"; do CONFIGS+=("$v-$dp"); done
	[ ${#VMMS[@]} -lt 2 ] || RATIO_DPS+=("$dp")
done
cleanup_slots() {
	local s
	for s in "${!S_WRAP[@]}"; do guest_down "$s"; done
}
# Whatever happens, no pktgen run outlives the bench, no guest and no tap either.
pktgen_stop() { [ ! -w /proc/net/pktgen/pgctrl ] || echo stop >/proc/net/pktgen/pgctrl; }
slots_kill() {
	local s
	for s in "${!S_WRAP[@]}"; do
		[ -z "${S_WRAP[s]}" ] || { kill "${S_WRAP[s]}" 2>/dev/null; ip link del "${S_TAP[s]}" 2>/dev/null; }
	done
}
on_exit pktgen_stop
on_exit slots_kill
trap 'exit 143' TERM INT HUP
for dp in "${DATAPATHS[@]}"; do
	[ "$dp" != mq2 ] || [ -z "$MQ_SKIPPED" ] || continue
	log "datapath $dp: booting ${VMMS[*]}"
	for i in "${!VMMS[@]}"; do guest_up "$i" "${VMMS[i]}-$dp" || S_DEAD[i]=1; done
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		for i in "${!VMMS[@]}"; do measure "$i"; done
	done
	cleanup_slots
	# After each datapath, so that a bench cut short still leaves what it measured.
	for cfg in "${CONFIGS[@]}"; do summarize "$cfg"; done
	write_results
done
if [ ${#FAILS[@]} -gt 0 ]; then
	log "FAILED: ${#FAILS[@]} measurement(s) could not be taken; the first: ${FAILS[0]}"
	exit 1
fi
