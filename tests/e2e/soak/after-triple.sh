#!/usr/bin/env bash
# Soak (not part of `make e2e`): does a guest triple fault leave the test host's emulated CPU
# broken for the guests after it? E2E_SOAK_BOOTS (default 10) rounds in one test host, each: a
# "kernel" that triple-faults at once (10-boot's ud2 with no IDT; skipped with
# E2E_SOAK_TRIPLE=0, the control), then the test guest's reboot scenario (1 vCPU, as in 10-boot)
# and a 2-vCPU boot to its scenario's end. One line per guest:
#   SOAK: <round> <guest> ok|fail <secs>s rc=N
# and PASS/FAIL per guest. tests/e2e/README.md, "What was tried against it".
# e2e-timeout: 1800
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

N=${E2E_SOAK_BOOTS:-10}
triple=$(triple_fault_kernel) || exit 1
GUEST_TIMEOUT=90
for i in $(seq "$N"); do
	if [ "${E2E_SOAK_TRIPLE:-1}" != 0 ]; then
		GUEST_KERNEL=$triple boot_guest --log "triple-$i" -- --net none
		r=fail; [ "$GUEST_RC" -eq 1 ] && expect_in_log 'triple fault' && r=ok
		kvmtrace_stopped && kvmtrace_save "$GUEST_LOG.kvmtrace.gz"
		echo "SOAK: $i triple $r ${GUEST_SECS}s rc=$GUEST_RC"
	fi
	boot_guest --log "reboot-$i" --scenario reboot -- --net none
	r=fail; [ "$GUEST_RC" -eq 0 ] && expect_in_log '^MINIVMM-REBOOTING' && r=ok
	echo "SOAK: $i reboot $r ${GUEST_SECS}s rc=$GUEST_RC"
	if [ $r = ok ]; then pass "soak_reboot_$i"; else fail "soak_reboot_$i" "rc $GUEST_RC"; fi
	boot_guest --log "cpus2-$i" -- --cpus 2 --mem 512M --net none
	r=fail; [ "$GUEST_RC" -eq 0 ] && expect_in_log '^MINIVMM-SCENARIO-DONE' && r=ok
	echo "SOAK: $i cpus2 $r ${GUEST_SECS}s rc=$GUEST_RC"
	if [ $r = ok ]; then pass "soak_cpus2_$i"; else fail "soak_cpus2_$i" "rc $GUEST_RC"; fi
done
e2e_finish
