#!/usr/bin/env bash
# Runs each Check unit-test binary given; prints one summary line "unit: N passed, N failed".
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
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks|:[EF]:|^SKIP:' || true
	# Check's summary: "100%: Checks: 7, Failures: 0, Errors: 0"
	n=$(printf '%s\n' "$out" | sed -n 's/.*Checks: \([0-9]*\), Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2 \3/p' | tail -n1)
	if [ -z "$n" ]; then
		echo "FAIL: $t produced no Check summary (exit $rc)"; printf '%s\n' "$out" | tail -n 20
		fail=$((fail + 1)); continue
	fi
	read -r c f e <<<"$n"
	pass=$((pass + c - f - e)); fail=$((fail + f + e))
	[ $rc -eq 0 ] || [ $((f + e)) -gt 0 ] || { echo "FAIL: $t exited $rc"; fail=$((fail + 1)); }
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ]
