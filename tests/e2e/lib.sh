# shellcheck shell=bash disable=SC2034 # the GUEST_* and path variables are for scenarios
# Helpers for e2e scenarios (sourced by tests/e2e/scenarios/NN-name.sh). A scenario prints one
# line per check, "PASS: <name>" or "FAIL: <name> <why>", which tests/e2e/run.sh collects.
# It runs as root, either on this machine or inside the nested test host (tests/e2e/testhost.sh),
# where only $RESULTS (and /tmp, /run, a fresh tmpfs each) is writable.
#
# Paths (all absolute; override by exporting before sourcing):
#   MINIVMM_SRC   the source tree          BUILD         $MINIVMM_SRC/build
#   MINIVMM       $BUILD/minivmm           MINIVMM_SAN   $BUILD/minivmm-san (ASan+UBSan build)
#   GUEST_KERNEL  $BUILD/guest/vmlinux     GUEST_INITRD  $BUILD/guest/initrd.img
#                 (the ELF, entered through PVH: under nested TCG a bzImage's decompressor costs
#                 4-5 s a boot; scenarios about the bzImage path name $BUILD/guest/vmlinuz)
#   RESULTS       this scenario's writable log directory ($MINIVMM_RESULTS from the driver, else
#                 $BUILD/e2e/<scenario>)
#   SCENARIO      this scenario's name (its file name without .sh)
#   GUEST_TIMEOUT seconds one guest may run before boot_guest kills it (default 120)
#
# Results:   pass NAME | fail NAME WHY | skip NAME WHY | check NAME CMD... | expect NAME PATTERN
#            e2e_finish (exit status: 1 if anything failed)
# Guests:    boot_guest [opts] [--] [minivmm args...]     (foreground; returns minivmm's status)
#            boot_guest_bg [opts] [--] [minivmm args...]  (background; then wait_guest)
#              opts: --scenario S   guest-side scenario guest/scenarios/S.sh (default "boot");
#                                   "" boots to the interactive shell (useless without a tty)
#                    --args A,B     minivmm.args for the guest scenario (commas split)
#                    --append STR   extra kernel command line
#                    --log NAME     console log $RESULTS/NAME.log (default: the guest scenario)
#                    --timeout S    (default $GUEST_TIMEOUT)   --vmm PATH  (default $MINIVMM)
#              sets GUEST_LOG, GUEST_RC (124 = killed by the timeout), GUEST_SECS, GUEST_PID (bg)
#            wait_guest                     wait for boot_guest_bg's VM; sets GUEST_RC/GUEST_SECS
#                                           (returns 0)
#            wait_for_log PATTERN [SECS]    poll GUEST_LOG until PATTERN (ERE) shows (default 60s)
#            expect_in_log PATTERN [LOG]    true if PATTERN (ERE) is in LOG (default GUEST_LOG)
#            expect NAME '^MINIVMM-SCENARIO-DONE'  also fails on the guest's MINIVMM-SCENARIO-FAILED
#                                           and on kernel errors (GUEST_KERNEL_ERRORS) in the log
#            A guest that ended in a triple fault, made no progress (a wait_for_log that ran out
#            while it ran, or its timeout) or crashed (an oops, a segfault) leaves the test host's
#            KVM trace beside its log: NAME.log.kvmtrace.gz (tests/e2e/kvmtrace.sh; README: "The
#            vCPU-1 triple fault")
#            triple_fault_kernel            builds $RESULTS/triple.elf, a "kernel" that triple-faults
#                                           at once, and prints its path
# Network:   tap_create NAME [ADDR/PREFIX]  a tap device, up, removed when the scenario exits
#            on_exit CMD...                 run CMD when the scenario exits (LIFO)

MINIVMM_SRC=${MINIVMM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$MINIVMM_SRC/build}
MINIVMM=${MINIVMM:-$BUILD/minivmm}
MINIVMM_SAN=${MINIVMM_SAN:-$BUILD/minivmm-san}
GUEST_KERNEL=${GUEST_KERNEL:-$BUILD/guest/vmlinux}
GUEST_INITRD=${GUEST_INITRD:-$BUILD/guest/initrd.img}
SCENARIO=${SCENARIO:-$(basename "${0%.sh}")}
RESULTS=${MINIVMM_RESULTS:-$BUILD/e2e/$SCENARIO}
GUEST_TIMEOUT=${GUEST_TIMEOUT:-120}
# loglevel=5, not quiet (=4): kernel warnings (WARNING: splats) reach the console log.
GUEST_BASE_CMDLINE=${GUEST_BASE_CMDLINE:-console=ttyS0 reboot=k panic=-1 loglevel=5}
# Kernel console lines that fail a guest scenario (guest/init checks dmesg for the same).
GUEST_KERNEL_ERRORS='BUG[: ]|WARNING:|Oops|Call Trace|bad ring|BAD_RING|is not a head|ACPI (BIOS )?Error|virtio.*([Ee]rror|[Ff]ail|[Ii]nvalid|[Bb]roken)'

mkdir -p "$RESULTS"
E2E_FAILS=0
GUEST_LOG='' GUEST_RC='' GUEST_SECS='' GUEST_PID=''

pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1 ${2:-}"
	E2E_FAILS=$((E2E_FAILS + 1))
	# Context for whoever reads the output, not a result line; once a log.
	if [ -n "$GUEST_LOG" ] && [ -f "$GUEST_LOG" ] && [ "$GUEST_LOG" != "${E2E_SHOWN_LOG:-}" ]; then
		E2E_SHOWN_LOG=$GUEST_LOG
		echo "  | last lines of $GUEST_LOG:"
		tr -d '\r' <"$GUEST_LOG" | tail -n 15 | sed 's/^/  | /'
	fi
	return 0
}
skip() { echo "SKIP: $1 ${2:-}"; }
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "($* failed: $?)"; fi
}
expect() {
	if ! expect_in_log "$2"; then
		fail "$1" "no /$2/ in $(basename "$GUEST_LOG")"
	elif [ "$2" = '^MINIVMM-SCENARIO-DONE' ] && ! guest_scenario_clean; then
		fail "$1" "guest scenario failed or the guest kernel logged errors: $GUEST_ERRORS"
	else
		pass "$1"
	fi
}
# A guest scenario's DONE counts only without a FAILED marker (guest/init) and without kernel
# errors on the console; sets GUEST_ERRORS to the first offending lines.
guest_scenario_clean() {
	GUEST_ERRORS=$(tr -d '\r' <"$GUEST_LOG" | grep -E -- "^MINIVMM-(SCENARIO-FAILED|KERNEL-ERROR)|^\[ *[0-9]+\.[0-9]+\] .*($GUEST_KERNEL_ERRORS)" |
		head -n 3 | tr '\n' ' ')
	[ -z "$GUEST_ERRORS" ]
}
e2e_finish() { exit $((E2E_FAILS > 0)); }

# One grep on the log as it is: console lines end in CR LF, so a pattern's closing $ may follow
# a CR. (One process, not tr | grep: every fork costs the nested test host's CPU, which the
# guest being waited for needs.)
expect_in_log() {
	local log=${2:-$GUEST_LOG} pat=$1
	[[ $pat != *[^\\]\$ ]] || pat=${pat%?}$'\r''?$'
	[ -f "$log" ] && grep -a -E -q -- "$pat" "$log"
}

# A sleep without a fork: a read that times out on a pipe nobody writes to.
exec {E2E_SNOOZE_FD}<> <(:)
snooze() { read -r -t "$1" -u "$E2E_SNOOZE_FD" _ || :; }

wait_for_log() {
	local pat=$1 secs=${2:-60} end
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		expect_in_log "$pat" && return 0
		if [ -n "$GUEST_PID" ] && ! kill -0 "$GUEST_PID" 2>/dev/null; then
			expect_in_log "$pat"
			return
		fi
		snooze 0.3
	done
	[ -z "$GUEST_PID" ] || guest_trace_keep
	return 1
}

# Fills the array GUEST_CMD from boot_guest's options.
guest_cmd() {
	local scen=boot args='' append='' log='' vmm=$MINIVMM
	GUEST_TIME=$GUEST_TIMEOUT
	while [ $# -gt 0 ]; do
		case $1 in
		--scenario) scen=$2; shift 2 ;;
		--args) args=$2; shift 2 ;;
		--append) append=$2; shift 2 ;;
		--log) log=$2; shift 2 ;;
		--timeout) GUEST_TIME=$2; shift 2 ;;
		--vmm) vmm=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	local cmdline=$GUEST_BASE_CMDLINE
	[ -z "$scen" ] || cmdline+=" minivmm.scenario=$scen"
	[ -z "$args" ] || cmdline+=" minivmm.args=$args"
	[ -z "$append" ] || cmdline+=" $append"
	GUEST_LOG=$RESULTS/${log:-${scen:-shell}}.log
	GUEST_CMD=(timeout -k 5 "$GUEST_TIME" "$vmm" --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD"
		--append "$cmdline" "$@")
	echo "${GUEST_CMD[*]:4}" >"$GUEST_LOG.cmd"
}

boot_guest() {
	local start=$SECONDS
	guest_cmd "$@"
	GUEST_PID=
	GUEST_RC=0
	"${GUEST_CMD[@]}" </dev/null >"$GUEST_LOG" 2>&1 || GUEST_RC=$?
	GUEST_SECS=$((SECONDS - start))
	guest_trace_save
}

boot_guest_bg() {
	guest_cmd "$@"
	GUEST_START=$SECONDS
	"${GUEST_CMD[@]}" </dev/null >"$GUEST_LOG" 2>&1 &
	GUEST_PID=$!
}

wait_guest() {
	GUEST_RC=0
	wait "$GUEST_PID" || GUEST_RC=$?
	GUEST_SECS=$((SECONDS - GUEST_START))
	GUEST_PID=
	guest_trace_save
}

# shellcheck source=kvmtrace.sh
. "$MINIVMM_SRC/tests/e2e/kvmtrace.sh"
# A "kernel" whose first instruction faults with no IDT: the guest triple-faults at once.
triple_fault_kernel() {
	printf '.globl _start\n_start: ud2\n' >"$RESULTS/triple.S"
	cc -nostdlib -static -no-pie -Wl,-Ttext=0x200000 -Wl,--build-id=none -o "$RESULTS/triple.elf" \
		"$RESULTS/triple.S" && echo "$RESULTS/triple.elf"
}

# After a guest ended: if it triple-faulted and the test host's KVM trace stopped on it, keep the
# trace beside its log; if its timeout killed it, or its kernel or a program crashed (no retry
# takes that: the trace is for whoever reads the failure), keep the trace of its last seconds.
guest_trace_save() {
	if expect_in_log 'triple fault' && kvmtrace_stopped; then
		kvmtrace_save "$GUEST_LOG.kvmtrace.gz"
		echo "  (KVM trace of the triple fault: $GUEST_LOG.kvmtrace.gz)"
	elif [ "$GUEST_RC" = 124 ]; then
		guest_trace_keep "made no progress"
	elif expect_in_log 'Oops|general protection fault|Kernel panic|segfault at'; then
		guest_trace_keep "crashed"
	fi
	return 0
}

# The test host's KVM trace beside the guest's log, once, for emulfault.sh to judge (a guest that
# made no progress: a wait for its log ran out while it ran, or its timeout killed it; the NPF
# loop) or for a reader (WHY).
guest_trace_keep() {
	kvmtrace_on && [ ! -e "$GUEST_LOG.kvmtrace.gz" ] || return 0
	kvmtrace_save "$GUEST_LOG.kvmtrace.gz"
	echo "  (KVM trace of the guest that ${1:-made no progress}: $GUEST_LOG.kvmtrace.gz)"
}

E2E_ON_EXIT=()
on_exit() {
	local q
	q=$(printf '%q ' "$@")
	E2E_ON_EXIT=("$q" "${E2E_ON_EXIT[@]}")
}
e2e_cleanup() {
	local c
	[ -z "$GUEST_PID" ] || kill "$GUEST_PID" 2>/dev/null || true
	for c in "${E2E_ON_EXIT[@]}"; do eval "$c" || true; done
}
trap e2e_cleanup EXIT

tap_create() {
	ip tuntap add dev "$1" mode tap || return
	on_exit ip link del "$1"
	[ -z "${2:-}" ] || ip addr add "$2" dev "$1" || return
	ip link set "$1" up
}
