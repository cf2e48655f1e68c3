#!/usr/bin/env bash
# The nested test host: a TCG QEMU VM whose kernel has real KVM (nested SVM) and vhost-net, used
# to run e2e scenarios where this machine's /dev/kvm cannot (PVM). It sees this machine's root
# read-only over 9p and one writable results directory at the same path.
#
#   testhost.sh build                       build build/testhost/{vmlinuz,vmlinux,initrd.img} if stale
#   testhost.sh run [-i] [-t SECS] [-o DIR] CMD [ARGS...]
#       boot the test host, run CMD ARGS (a host path; run from the current directory) as root in
#       a chroot of this machine's root, with fresh /proc /sys /dev /tmp /run; DIR (default
#       build/e2e/<CMD's name>) is writable inside and exported as $MINIVMM_RESULTS.
#       Kept in DIR: console.log (the test host's serial console), output (CMD's stdout+stderr).
#       Environment variables E2E_*, GUEST_*, MINIVMM* and BENCH_* pass through to CMD.
#       Exits with CMD's status, or (-i: interactive, CMD gets the terminal, no watchdog):
#         124  CMD hung: no progress or past SECS (default 600) while the test host was alive
#         120  the test host itself stalled (its heartbeat stopped) or died without a result
#         125  CMD never ran (the test host did not come up, or a setup error)
#   The watchdog: progress is any growth of the files in DIR (CMD's output, the test host's console,
#   guest console logs). After E2E_STALL_SECS (default 150) without progress, or past SECS, the
#   test host is asked for its KVM trace (tests/e2e/group.sh answers), dumped into
#   DIR/stall-dump.txt (QMP: vCPU state and `info registers -a` sampled over seconds, then sysrq
#   l/w/t to its console) and classified by its heartbeat: the test host's init writes
#   DIR/.testhost/heartbeat every 10 s; older than 45 s = the test host stalled.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
th=$build/testhost
# shellcheck source=../../tools/initramfs.sh
. "$src/tools/initramfs.sh"

META=linux-image-amd64
# pktgen: the bench sends small frames into a tap with it (tests/bench/bench.sh).
MODULES=(virtio_pci 9pnet_virtio 9p kvm ccp kvm-amd tun tap vhost vhost_iotlb vhost_net bridge veth pktgen)

testhost_build() {
	local stamp kroot root
	stamp=$(build_stamp "$META" "$src/tests/e2e/testhost.sh" "$src/tests/e2e/testhost-init" \
		"$src/tools/initramfs.sh" /bin/busybox)
	if build_is_current "$th" "$stamp"; then
		return 0
	fi
	echo "testhost: building $th" >&2
	mkdir -p "$th"
	kroot=$th/kernel-root
	kernel_install "$META" "$build/debs" "$kroot" "$th"
	root=$th/initrd-root
	initramfs_skeleton "$root"
	initramfs_add_modules "$root" "$kroot" "${MODULES[@]}"
	install -m 755 "$src/tests/e2e/testhost-init" "$root/init"
	initramfs_pack "$root" "$th/initrd.img"
	rm -rf "$kroot" "$root"
	build_mark_current "$th" "$stamp"
}

testhost_run() {
	local interactive='' secs='' out='' OPTIND=1 opt
	while getopts "it:o:" opt; do
		case $opt in
		i) interactive=1 ;;
		t) secs=$OPTARG ;;
		o) out=$OPTARG ;;
		*) exit 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	[ $# -ge 1 ] || { echo "usage: testhost.sh run [-i] [-t SECS] [-o DIR] CMD [ARGS...]" >&2; exit 2; }
	local cmd
	cmd=$(realpath "$1")
	shift
	[ -n "$out" ] || out=$build/e2e/$(basename "${cmd%.sh}")
	[ -n "$interactive" ] || secs=${secs:-600}
	mkdir -p "$out"
	out=$(realpath "$out")
	testhost_build
	rm -rf "$out/.testhost"
	mkdir -p "$out/.testhost"
	rm -f "$out/console.log" "$out/output" "$out/stall-dump.txt"
	# The wrapper runs inside the chroot: same directory, a clean known environment.
	{
		echo "#!/bin/bash"
		printf 'cd %q || exit 125\n' "$PWD"
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "export HOME=/root TERM=${TERM:-linux} LANG=C.UTF-8 MINIVMM_IN_TESTHOST=1"
		printf 'export MINIVMM_RESULTS=%q\n' "$out"
		[ -z "${BUILD:-}" ] || printf 'export BUILD=%q\n' "$BUILD"
		# Knobs pass through: E2E_*, GUEST_*, MINIVMM* (harness, scenarios), BENCH_* (bench).
		local v
		for v in $(compgen -e | grep -E '^(E2E_|GUEST_|MINIVMM|BENCH_)' | grep -vx 'MINIVMM_RESULTS'); do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
		printf '%q ' "$cmd" "$@"
		echo
		printf 'echo $? >%q\n' "$out/.testhost/rc"
	} >"$out/.testhost/run"

	# The ELF vmlinux boots through PVH, skipping seconds of TCG-emulated decompression.
	local kernel=$th/vmlinuz
	[ ! -f "$th/vmlinux" ] || kernel=$th/vmlinux
	# shellcheck disable=SC2054 # commas belong to QEMU options
	# TESTHOST_QEMU/_ACCEL/_CPU/_SMP/_MEM/_ARGS/_APPEND/_NPT: other configurations, for soaks (README).
	# shellcheck disable=SC2206 # TESTHOST_ARGS is split into words on purpose
	local qemu=("${TESTHOST_QEMU:-qemu-system-x86_64}" -accel "${TESTHOST_ACCEL:-tcg,thread=multi}"
		-cpu "${TESTHOST_CPU:-max}" -smp "${TESTHOST_SMP:-2}" -m "${TESTHOST_MEM:-4096}" -nic none ${TESTHOST_ARGS:-} # (split on purpose)
		-no-reboot -kernel "$kernel" -initrd "$th/initrd.img"
		-virtfs "local,path=/,mount_tag=hostroot,readonly=on,multidevs=remap,security_model=none"
		-virtfs "local,path=$out,mount_tag=results,security_model=none")
	# loglevel 5 and the detectors: a stalled test host leaves what its kernel saw on the console.
	local append="console=ttyS0 panic=-1 loglevel=5 softlockup_panic=0 nmi_watchdog=1"
	append+=" sysctl.kernel.hung_task_timeout_secs=60 sysrq_always_enabled"
	# TESTHOST_NPT=0: the test host's KVM shadows its guests' page tables instead of nested paging.
	# Faster with two lanes, but not a remedy (tests/e2e/README.md, "What was tried against it").
	append+=" kvm_amd.npt=${TESTHOST_NPT:-1}"
	append+=" ${TESTHOST_APPEND:-} testhost.out=$out testhost.src=$src"
	local rc=0 start=$SECONDS
	if [ -n "$interactive" ]; then
		local to=()
		[ -z "$secs" ] || to=(timeout --foreground -k 10 "$secs")
		"${to[@]}" "${qemu[@]}" -nographic -append "$append testhost.interactive=1" || return 125
		[ -s "$out/.testhost/rc" ] || return 125
		return "$(cat "$out/.testhost/rc")"
	fi
	local qmp=$out/.testhost/qmp.sock
	"${qemu[@]}" -display none -monitor none -qmp "unix:$qmp,server=on,wait=off" \
		-serial "file:$out/console.log" -append "$append" </dev/null &
	local qpid=$! verdict=''
	verdict=$(testhost_watch "$qpid" "$out" "$secs" "$start" "$(basename "$cmd")") || true
	rc=0
	wait "$qpid" || rc=$?
	if [ -n "$verdict" ]; then
		echo "testhost: $verdict; dump: $out/stall-dump.txt, console: $out/console.log" >&2
		case $verdict in
		"test host stalled"*) return 120 ;;
		*) return 124 ;;
		esac
	fi
	if [ -s "$out/.testhost/rc" ]; then
		rc=$(cat "$out/.testhost/rc")
		echo "testhost: $(basename "$cmd") exited $rc after $((SECONDS - start))s" >&2
		return "$rc"
	fi
	# No result: QEMU crashed (status != 0), or the test host reset or powered off by itself.
	if ! grep -qa '^TESTHOST-UP' "$out/console.log" 2>/dev/null; then
		echo "testhost: never came up (qemu status $rc); console: $out/console.log" >&2
		[ "$rc" -ne 0 ] && return 120
		return 125
	fi
	echo "testhost: died without a result (qemu status $rc); console: $out/console.log" >&2
	return 120
}

# The QMP socket of the running test host: sends each JSON command given, prints the replies.
testhost_qmp() {
	{
		echo '{"execute":"qmp_capabilities"}'
		printf '%s\n' "$@"
	} | timeout 15 socat -t 5 - "UNIX-CONNECT:$TH_QMP" 2>&1 | tail -n +2
}
testhost_hmp() {
	testhost_qmp "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"$1\"}}" |
		grep '"return"' | sed -e 's/^{"return": "//' -e 's/"}$//' -e 's/\\r\\n/\n/g' -e 's/\\n/\n/g'
}

# Total bytes of the files in DIR that CMD and the test host write (not the watchdog's own).
testhost_progress() {
	find "$1" -path "$1/.testhost" -prune -o -name stall-dump.txt -prune -o -type f -printf '%s\n' |
		awk '{ s += $1 } END { print s + 0 }'
}

# Before a hung test host is killed: if something in it listens (group.sh's trace_on_request, with
# the KVM trace on), asks it to save the trace (DIR/.testhost/save-trace) and waits for the
# answer, up to 60 s while its heartbeat says it can give one. Other commands (the bench, a
# probe) cost the dump no wait.
testhost_ask_trace() {
	local out=$1 hb=$1/.testhost/heartbeat i
	[ -e "$out/.testhost/trace-listening" ] || return 0
	: >"$out/.testhost/save-trace"
	for ((i = 0; i < 60; i++)); do
		[ ! -e "$out/.testhost/trace-saved" ] || return 0
		[ -f "$hb" ] && [ $(($(date +%s) - $(stat -c %Y "$hb"))) -le 45 ] || return 0
		sleep 1
	done
}

# Dumps the test host's state to DIR/stall-dump.txt and prints the verdict: "test host stalled ..."
# (heartbeat stopped) or "NAME hung ..." (test host alive).
testhost_dump() {
	local out=$1 why=$2 start=$3 name=$4 f=$1/stall-dump.txt i hb age rips=()
	TH_QMP=$out/.testhost/qmp.sock
	{
		echo "== $why, at $(date -u +%FT%TZ), $((SECONDS - start))s after start"
		echo "== query-status, query-cpus-fast"
		testhost_qmp '{"execute":"query-status"}' '{"execute":"query-cpus-fast"}'
		for i in 1 2 3 4; do
			echo "== info registers -a, sample $i"
			testhost_hmp 'info registers -a' >"$out/.testhost/regs$i"
			cat "$out/.testhost/regs$i"
			rips+=("$(grep -oE '^(CPU#[0-9]+|RIP=[0-9a-f]+|.*HLT=[01])' "$out/.testhost/regs$i" |
				grep -oE 'CPU#[0-9]+|RIP=[0-9a-f]+|HLT=[01]' | tr '\n' ' ')")
			sleep 2
		done
		echo "== vCPU RIP/HLT per sample"
		printf '  %s\n' "${rips[@]}"
		echo "== sysrq l, w, t (the test host's kernel answers on its console if it can)"
		local k
		for k in l w t; do
			testhost_qmp "{\"execute\":\"send-key\",\"arguments\":{\"keys\":[{\"type\":\"qcode\",\"data\":\"alt\"},{\"type\":\"qcode\",\"data\":\"sysrq\"},{\"type\":\"qcode\",\"data\":\"$k\"}]}}" >/dev/null
			sleep 1
		done
	} >>"$f" 2>&1
	sleep 3
	local cpu
	if [ "$(printf '%s\n' "${rips[@]}" | sort -u | wc -l)" -eq 1 ]; then
		if grep -q 'HLT=0' <<<"${rips[0]}"; then cpu="vCPU RIPs not moving"
		else cpu="all vCPUs halted in every sample"; fi
	else
		cpu="vCPU RIPs moving"
	fi
	hb=$out/.testhost/heartbeat
	if [ -f "$hb" ]; then age=$(($(date +%s) - $(stat -c %Y "$hb"))); else age=$((SECONDS - start)); fi
	echo "== heartbeat ${age}s old; $cpu" >>"$f"
	if [ "$age" -gt 45 ]; then
		echo "test host stalled ($why; heartbeat ${age}s old, $cpu)"
	else
		echo "$name hung ($why; test host alive: heartbeat ${age}s old, $cpu)"
	fi
}

# Waits for QEMU (PID) to exit; on no progress for E2E_STALL_SECS or past SECS, dumps, kills it
# and prints the verdict.
testhost_watch() {
	local qpid=$1 out=$2 secs=$3 start=$4 name=$5 stall=${E2E_STALL_SECS:-150} size last=-1 since=$SECONDS why
	while kill -0 "$qpid" 2>/dev/null; do
		size=$(testhost_progress "$out")
		[ "$size" = "$last" ] || { last=$size since=$SECONDS; }
		why=''
		if [ $((SECONDS - since)) -ge "$stall" ]; then why="no progress for ${stall}s"
		elif [ $((SECONDS - start)) -ge "$secs" ]; then why="still running after ${secs}s"; fi
		if [ -n "$why" ]; then
			testhost_ask_trace "$out"
			testhost_dump "$out" "$why" "$start" "$name"
			kill "$qpid" 2>/dev/null
			sleep 5
			kill -9 "$qpid" 2>/dev/null
			return 0
		fi
		sleep 1
	done
}

case "${1:-}" in
build) testhost_build ;;
run) shift; testhost_run "$@" ;;
*) echo "usage: testhost.sh build | run [-i] [-t SECS] [-o DIR] CMD [ARGS...]" >&2; exit 2 ;;
esac
