# shellcheck shell=bash
# Where guests run, and running a host-side script there (sourced, not run): directly when this
# machine's /dev/kvm runs stock kernels, else inside the nested test host (tests/e2e/testhost.sh).
# Used by tests/e2e/run.sh (scenarios), tests/bench/run.sh (the bench) and tools/run.sh.
#
#   hostrun_mode [FORCED]           prints direct|testhost; FORCED (e.g. "$E2E_MODE") wins if set
#   hostrun_prepare MODE            build what the script needs that it cannot build itself (the
#                                   test guest; the test host in testhost mode): inside the test
#                                   host this tree is read-only
#   hostrun_script MODE SECS OUT SCRIPT [ARGS...]
#                                   run SCRIPT with $MINIVMM_RESULTS=OUT (writable, also inside
#                                   the test host), its stdout+stderr in OUT/output; returns its
#                                   status, 124 if it hung (no progress, or past SECS), 125 if it
#                                   never ran, 120 if the test host stalled twice. A test-host
#                                   stall (testhost.sh's watchdog) is retried once and counted in
#                                   HOSTRUN_STALLS.
#   hostrun_report NAME RC OUT TABLE
#                                   print OUT/TABLE (a run's Markdown results) if it is there and,
#                                   when RC is not 0, the last lines of OUT/output; returns RC
hostrun_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# PVM's /dev/kvm (kvm_pvm) runs only PVM-enabled guest kernels.
hostrun_mode() {
	if [ -n "${1:-}" ]; then
		echo "$1"
	elif [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then
		echo direct
	else
		echo testhost
	fi
}

hostrun_prepare() {
	"$hostrun_src/guest/build.sh"
	[ "$1" = direct ] || "$hostrun_src/tests/e2e/testhost.sh" build
}

hostrun_script() {
	local mode=$1 secs=$2 out=$3
	shift 3
	mkdir -p "$out"
	if [ "$mode" = direct ]; then
		MINIVMM_RESULTS=$out timeout -k 10 "$secs" bash "$@" </dev/null >"$out/output" 2>&1
	else
		local rc=0
		"$hostrun_src/tests/e2e/testhost.sh" run -t "$secs" -o "$out" "$@" || rc=$?
		# 120: the test host itself stalled (its heartbeat stopped) or died without a result.
		# That is the test machinery, not minivmm or the guest: keep the run's logs, count it in
		# HOSTRUN_STALLS and try once more. Nothing else is retried.
		if [ "$rc" -eq 120 ]; then
			HOSTRUN_STALLS=$((${HOSTRUN_STALLS:-0} + 1))
			rm -rf "$out.stalled" && mv "$out" "$out.stalled" && mkdir -p "$out"
			echo "hostrun: the test host stalled or died; logs in $out.stalled; trying once more" >&2
			rc=0
			"$hostrun_src/tests/e2e/testhost.sh" run -t "$secs" -o "$out" "$@" || rc=$?
		fi
		return $rc
	fi
}

hostrun_report() {
	local name=$1 rc=$2 out=$3 table=$4
	if [ -f "$out/$table" ]; then
		echo
		cat "$out/$table"
		echo
	fi
	if [ "$rc" -ne 0 ]; then
		echo "$name: exited $rc; last lines of $out/output:" >&2
		tail -n 20 "$out/output" 2>/dev/null | sed 's/^/  | /' >&2
	fi
	return "$rc"
}
