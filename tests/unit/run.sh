#!/usr/bin/env bash
# Runs each Check unit-test binary given, NPROC (UNIT_JOBS) at a time; prints one summary line "unit: N passed, N failed".
set -u
pass=0 fail=0
# test_tap_real needs root and /dev/net/tun. As root (CI) it must run, not skip: a missing device
# node (containers often lack one) is made, and the test's SKIP becomes a failure.
if [ "$(id -u)" -eq 0 ]; then
	export MINIVMM_REQUIRE_TAP=1
	if [ ! -c /dev/net/tun ]; then
		modprobe tun 2>/dev/null
		mkdir -p /dev/net 2>/dev/null && mknod -m 600 /dev/net/tun c 10 200 ||
			echo "unit: no /dev/net/tun and cannot make it"
	fi
fi
# The binaries run NPROC at a time (each alone in its output file), then are reported in order.
# Check's per-test timeout is only a hang guard: give it room for a loaded machine.
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-3}
jobs=${UNIT_JOBS:-$(nproc 2>/dev/null || echo 2)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
for t in "$@"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	("$t" >"$tmp/$i.out" 2>&1; echo $? >"$tmp/$i.rc") &
	i=$((i + 1))
done
wait
i=0
for t in "$@"; do
	out=$(cat "$tmp/$i.out"); rc=$(cat "$tmp/$i.rc"); i=$((i + 1))
	printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks|:[EF]:|^SKIP:' || true
	# Check's summary: "100%: Checks: 7, Failures: 0, Errors: 0"
	n=$(printf '%s\n' "$out" | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' | tail -n1)
	if [ -z "$n" ]; then
		echo "FAIL: $t produced no Check summary (exit $rc)"; printf '%s\n' "$out" | tail -n 20
		fail=$((fail + 1)); continue
	fi
	read -r c f e <<<"$n"
	pass=$((pass + c - f - e)); fail=$((fail + f + e))
	[ "$rc" -eq 0 ] || [ $((f + e)) -gt 0 ] || { echo "FAIL: $t exited $rc"; fail=$((fail + 1)); }
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ]
