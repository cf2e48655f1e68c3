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
#     E2E_LANES=N               scenarios at a time in the test host (default 1; README)
#     E2E_PREPARED=1            the test guest, test host and own kernel are built (make test)
#     E2E_STALL_SECS=SECS       the test host's watchdog: no output anywhere for this long (default
#                               150) = dumped and classified; a script that is silent longer on
#                               purpose says so with a line "# e2e-stall: SECS"
# Each scenario gets its own results directory build/e2e/<scenario>/ (console logs, output). In
# the test host, all of them run in one boot (tests/e2e/group.sh); the end shows a time table.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$src/build}
e2e=$src/tests/e2e

scripts=()
selftest=''
for a in "$@"; do
	case $a in
	--selftest) selftest=1 ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# E2E_PREPARED=1: `make test` built all this already (its e2e-prepare), alongside the compiler.
if [ -z "${E2E_PREPARED:-}" ]; then
	hostrun_prepare "$mode"
	# The kernel 15-own-kernel boots as a user's own, unpacked here (the test host cannot).
	case " ${scripts[*]}" in *own-kernel*) "$e2e/own-kernel.sh" ;; esac
fi

timeout_of() {
	local secs
	secs=$(sed -n 's/^# e2e-timeout: *\([0-9]\+\).*/\1/p' "$1" | head -n1)
	echo "${secs:-${E2E_TIMEOUT:-600}}"
}
name_of() { basename "${1%.sh}"; }
# A scenario's results say it failed: a non-zero status or a FAIL line.
scenario_failed() { [ "$(cat "$1/.rc" 2>/dev/null)" != 0 ] || grep -q '^FAIL: ' "$1/output" 2>/dev/null; }

passed=0 failed=0 HOSTRUN_STALLS=0 EMUL_RETRIED='' times=()
# Collects one scenario's result lines: rc, its output in $out/output, its run time.
collect() {
	local name=$1 rc=$2 secs=$3 why=${4:-} out=$build/e2e/$1 lines p f
	lines=$(grep -E '^(PASS|FAIL|SKIP): ' "$out/output" 2>/dev/null || true)
	[ -z "$lines" ] || echo "$lines"
	p=$(grep -c '^PASS: ' <<<"$lines" || true)
	f=$(grep -c '^FAIL: ' <<<"$lines" || true)
	if [ -n "$why" ]; then
		echo "FAIL: $name $why (logs: $out)"
		f=$((f + 1))
	elif [ "$rc" -eq 124 ]; then
		echo "FAIL: $name timed out (logs: $out)"
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
	echo "e2e: $name took ${secs}s" >&2
	times+=("$(printf '%-32s %5ss %4s %4s' "$name" "$secs" "$p" "$f")")
	passed=$((passed + p))
	failed=$((failed + f))
}

if [ "$mode" = direct ]; then
	for s in "${scripts[@]}"; do
		name=$(name_of "$s") out=$build/e2e/$(name_of "$s") secs=$(timeout_of "$s")
		echo "e2e: $name ($mode, timeout ${secs}s)" >&2
		start=$SECONDS rc=0
		rm -rf "$out"
		hostrun_script "$mode" "$secs" "$out" "$s" || rc=$?
		collect "$name" "$rc" $((SECONDS - start))
	done
else
	# One test-host boot runs the scenarios (tests/e2e/group.sh), E2E_LANES at a time, the
	# longest (by timeout) first; each in its own results directory build/e2e/<name>/
	# (console.log: the test host's console while it ran). If the test host stalls (testhost.sh's
	# watchdog: status 120), the scenarios it was running and the ones not yet started run again
	# in a new test host, once; a scenario that hung, timed out or failed is never run again, and
	# the ones not yet started go on in a new test host. One exception, once per scenario: a
	# scenario that failed or hung because its guest met the test host's own CPU emulation fault
	# (emulfault.sh: the KVM trace's evidence, a triple fault or the NPF loop) runs once more at
	# the end.
	top=$build/e2e
	# A failed or hung scenario whose KVM trace shows the test host's emulation fault
	# (emulfault.sh): set aside in <name>.emulfault and queued in retry, once per scenario.
	emul_retry() {
		local name why
		name=$(name_of "$1")
		[[ " $EMUL_RETRIED " != *" $name "* ]] && why=$("$src/tests/e2e/emulfault.sh" "$top/$name") || return 1
		EMUL_RETRIED+=" $name"
		rm -rf "$top/$name.emulfault" && mv "$top/$name" "$top/$name.emulfault"
		echo "e2e: $name: the test host's CPU emulation fault ($why); logs in $top/$name.emulfault; running it once more" >&2
		retry+=("$1")
	}
	mkdir -p "$top/.group"
	for s in "${scripts[@]}"; do rm -rf "${top:?}/$(name_of "$s")" "$top/$(name_of "$s")".{stalled,emulfault}; done
	todo=() retry=()
	while read -r _ s; do todo+=("$s"); done < <(for s in "${scripts[@]}"; do echo "$(timeout_of "$s") $s"; done | sort -s -k1,1nr)
	while [ ${#todo[@]} -gt 0 ]; do
		total=60
		: >"$top/.group/list"
		for s in "${todo[@]}"; do
			echo "$(timeout_of "$s") $s" >>"$top/.group/list"
			total=$((total + $(timeout_of "$s") + 15))
		done
		echo "e2e: ${#todo[@]} scenario(s) in one test-host boot: $(for s in "${todo[@]}"; do printf '%s ' "$(name_of "$s")"; done)" >&2
		# The watchdog's "no progress" limit: E2E_STALL_SECS (150), or the largest
		# "# e2e-stall: SECS" line of these scenarios (one that is silent longer on purpose).
		stall=${E2E_STALL_SECS:-150}
		for s in "${todo[@]}"; do
			n=$(sed -n 's/^# e2e-stall: *\([0-9]\+\).*/\1/p' "$s" | head -n1)
			[ -z "$n" ] || [ "$n" -le "$stall" ] || stall=$n
		done
		rc=0
		E2E_STALL_SECS=$stall "$src/tests/e2e/testhost.sh" run -t "$total" -o "$top" \
			"$src/tests/e2e/group.sh" "$top/.group/list" || rc=$?
		# console.log per scenario: the lines between its start and end marks (lanes overlap).
		awk -v top="$top" '{ sub(/\r$/, "") }
			/^TESTHOST-SCENARIO /{ open[$2] = top "/" $2 "/console.log" }
			{ for (n in open) print > open[n] }
			/^TESTHOST-SCENARIO-END /{ close(open[$2]); delete open[$2] }' "$top/console.log" 2>/dev/null || true
		# Each scenario either finished (.rc), was running when the test host ended (its directory
		# but no .rc), or never started.
		rest=() running=()
		for s in "${todo[@]}"; do
			name=$(name_of "$s")
			if [ -f "$top/$name/.rc" ]; then
				! scenario_failed "$top/$name" || ! emul_retry "$s" || continue
				collect "$name" "$(cat "$top/$name/.rc")" "$(cat "$top/$name/.secs")"
			elif [ -d "$top/$name" ]; then
				running+=("$s")
			else
				rest+=("$s")
			fi
		done
		if [ ${#running[@]} -eq 0 ] && [ ${#rest[@]} -eq 0 ]; then
			[ ${#retry[@]} -gt 0 ] || break
			todo=("${retry[@]}") retry=()
			continue
		fi
		# Ended between two scenarios: the next one is the one it ended in.
		[ ${#running[@]} -gt 0 ] || { running=("${rest[0]}"); rest=("${rest[@]:1}"); }
		names=$(for s in "${running[@]}"; do printf '%s ' "$(name_of "$s")"; done)
		if [ "$rc" -eq 120 ] && [ "$HOSTRUN_STALLS" -eq 0 ]; then
			HOSTRUN_STALLS=$((HOSTRUN_STALLS + 1))
			for s in "${running[@]}"; do
				name=$(name_of "$s")
				mkdir -p "$top/$name"
				cp "$top/console.log" "$top/stall-dump.txt" "$top/$name/" 2>/dev/null || true
				rm -rf "$top/$name.stalled" && mv "$top/$name" "$top/$name.stalled"
			done
			echo "e2e: the test host stalled during ${names% }; logs in $top/<name>.stalled; running them and the rest once more" >&2
			todo=("${running[@]}" "${rest[@]}" "${retry[@]}") retry=()
			continue
		fi
		if [ "$rc" -eq 125 ]; then
			for s in "${running[@]}" "${rest[@]}" "${retry[@]}"; do
				collect "$(name_of "$s")" 125 0 "never ran: the test host did not come up (logs: $top/console.log)"
			done
			break
		fi
		case $rc in
		120) why="the test host stalled again" ;;
		124) why="hung: no progress for ${stall}s, or past its time (stall-dump.txt)" ;;
		*) why="the test host ended during it (status $rc)" ;;
		esac
		for s in "${running[@]}"; do
			name=$(name_of "$s")
			mkdir -p "$top/$name"
			cp "$top/stall-dump.txt" "$top/$name/" 2>/dev/null || true
			[ "$rc" -ne 124 ] || ! emul_retry "$s" || continue
			collect "$name" "$rc" "$(cat "$top/$name/.secs" 2>/dev/null || echo '?')" "$why"
		done
		todo=("${rest[@]}" "${retry[@]}") retry=()
	done
fi
if [ ${#times[@]} -gt 1 ]; then
	printf '%-32s %6s %4s %4s\n' scenario time pass fail
	printf '%s\n' "${times[@]}" | sort
	printf '%-32s %5ss (wall, with the test-host boots)\n' total "$SECONDS"
fi >&2
stalls=''
[ "$HOSTRUN_STALLS" -eq 0 ] || stalls=", $HOSTRUN_STALLS test-host stall$([ "$HOSTRUN_STALLS" -eq 1 ] || echo s) retried"
n=$(wc -w <<<"$EMUL_RETRIED")
[ "$n" -eq 0 ] || stalls+=", $n test-host CPU emulation fault$([ "$n" -eq 1 ] || echo s) retried (${EMUL_RETRIED# })"
echo "e2e: $passed passed, $failed failed$stalls"
[ "$failed" -eq 0 ] && [ $((passed + failed)) -gt 0 ]
