#!/usr/bin/env bash
# The e2e driver (`make e2e`): runs each scenario script, collects its PASS/FAIL lines and ends
# with one line "e2e: N passed, N failed"; exits non-zero if anything failed or nothing ran.
#
#   run.sh [--selftest] [SCENARIO...]
#     SCENARIO: a path or a name in tests/e2e/scenarios/ ("01-boot" or "01-boot.sh");
#               default: every tests/e2e/scenarios/[0-9]*.sh in order.
#     --selftest: run tests/e2e/selftest/*.sh instead (proves the harness without minivmm).
#   Environment:
#     E2E_MODE=direct|testhost  where scenarios run; default: direct when this machine's /dev/kvm
#                               can run stock kernels (present and not PVM), else the test host
#     E2E_TIMEOUT=SECS          per scenario script (default 600); a script may override it with
#                               a line "# e2e-timeout: SECS"
# Each scenario gets its own results directory build/e2e/<scenario>/ (console logs, output).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
e2e=$src/tests/e2e

scripts=()
selftest=''
for a in "$@"; do
	case $a in
	--selftest) selftest=1 ;;
	-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*)
		if [ -f "$a" ]; then scripts+=("$(realpath "$a")")
		elif [ -f "$e2e/scenarios/${a%.sh}.sh" ]; then scripts+=("$e2e/scenarios/${a%.sh}.sh")
		else echo "e2e: no scenario $a" >&2; exit 2
		fi ;;
	esac
done
if [ ${#scripts[@]} -eq 0 ]; then
	if [ -n "$selftest" ]; then
		scripts=("$e2e"/selftest/*.sh)
	else
		shopt -s nullglob
		scripts=("$e2e"/scenarios/[0-9]*.sh)
		shopt -u nullglob
	fi
fi

# shellcheck source=../../tools/hostrun.sh
. "$src/tools/hostrun.sh"
mode=$(hostrun_mode "${E2E_MODE:-}")
hostrun_prepare "$mode"
# The kernel 15-own-kernel boots as a user's own, unpacked here (the test host cannot).
case " ${scripts[*]}" in *own-kernel*) "$e2e/own-kernel.sh" ;; esac

passed=0 failed=0 HOSTRUN_STALLS=0 times=()
for s in "${scripts[@]}"; do
	name=$(basename "${s%.sh}")
	out=$build/e2e/$name
	secs=$(sed -n 's/^# e2e-timeout: *\([0-9]\+\).*/\1/p' "$s" | head -n1)
	secs=${secs:-${E2E_TIMEOUT:-600}}
	echo "e2e: $name ($mode, timeout ${secs}s)" >&2
	start=$SECONDS
	rc=0
	rm -rf "$out" "$out.stalled"
	hostrun_script "$mode" "$secs" "$out" "$s" || rc=$?
	lines=$(grep -E '^(PASS|FAIL|SKIP|RETRY): ' "$out/output" 2>/dev/null || true)
	[ -z "$lines" ] || echo "$lines"
	p=$(grep -c '^PASS: ' <<<"$lines" || true)
	f=$(grep -c '^FAIL: ' <<<"$lines" || true)
	if [ "$rc" -eq 124 ]; then
		echo "FAIL: $name hung: no progress, or past ${secs}s (logs: $out, stall-dump.txt)"
		f=$((f + 1))
	elif [ "$rc" -eq 120 ]; then
		echo "FAIL: $name the test host stalled twice (logs: $out.stalled, $out)"
		f=$((f + 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name exited $rc (logs: $out)"
		f=$((f + 1))
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name reported nothing (logs: $out)"
		f=$((f + 1))
	fi
	if [ "$f" -gt 0 ] && [ -f "$out/output" ]; then
		echo "e2e: $name output (last lines of $out/output):" >&2
		tail -n 30 "$out/output" | sed 's/^/  | /' >&2
	fi
	echo "e2e: $name took $((SECONDS - start))s" >&2
	times+=("$(printf '%-32s %5ss %4s %4s' "$name" $((SECONDS - start)) "$p" "$f")")
	passed=$((passed + p))
	failed=$((failed + f))
done
if [ ${#times[@]} -gt 1 ]; then
	printf '%-32s %6s %4s %4s\n' scenario time pass fail
	printf '%s\n' "${times[@]}"
	printf '%-32s %5ss\n' total "$SECONDS"
fi >&2
stalls=''
[ "$HOSTRUN_STALLS" -eq 0 ] || stalls=", $HOSTRUN_STALLS test-host stall$([ "$HOSTRUN_STALLS" -eq 1 ] || echo s) retried"
echo "e2e: $passed passed, $failed failed$stalls"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
