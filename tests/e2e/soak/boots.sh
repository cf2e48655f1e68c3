#!/usr/bin/env bash
# Soak (not part of `make e2e`): E2E_SOAK_BOOTS (default 3) boots of the test guest under minivmm
# and as many under QEMU+KVM, alternating, in one test host, each with earlyprintk=serial and the
# full kernel log on the console (no quiet), 2 vCPUs, 512 MiB. A triple fault keeps the test
# host's KVM trace as <vmm>-<i>.log.kvmtrace.gz (tests/e2e/kvmtrace.sh). One line per boot:
#   SOAK: <vmm> <i> ok|triple-fault|no-init|fail <secs>s
# and PASS/FAIL per boot. Run back to back: tests/e2e/README.md, "Test-host reliability".
# e2e-timeout: 1800
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

N=${E2E_SOAK_BOOTS:-3}
GUEST_BASE_CMDLINE="console=ttyS0 earlyprintk=serial reboot=k panic=-1"
qemu_vmm=$RESULTS/qemu-as-vmm
cat >"$qemu_vmm" <<'SH'
#!/bin/sh
# minivmm's --kernel/--initrd/--append mapped onto QEMU's (QEMU exits on the guest's reset too).
exec qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512 -nographic -nic none -no-reboot \
	-kernel "$2" -initrd "$4" -append "$6"
SH
chmod +x "$qemu_vmm"

for i in $(seq "$N"); do
	for vmm in minivmm qemu; do
		if [ $vmm = minivmm ]; then
			boot_guest --log "$vmm-$i" -- --cpus 2 --mem 512M --net none
		else
			boot_guest --log "$vmm-$i" --vmm "$qemu_vmm" --
		fi
		# A triple fault under either VMM stops the test host's KVM trace (kvmtrace.sh): QEMU's
		# -no-reboot just exits, so the trace is what tells it from other failures.
		tf=''
		if kvmtrace_stopped; then tf=1; kvmtrace_save "$GUEST_LOG.kvmtrace.gz"; fi
		if expect_in_log '^MINIVMM-SCENARIO-DONE' && [ "$GUEST_RC" -eq 0 ] && [ -z "$tf" ]; then r=ok
		elif [ -n "$tf" ] || expect_in_log 'triple fault'; then r=triple-fault
		elif ! expect_in_log '^MINIVMM-GUEST-UP'; then r=no-init
		else r=fail; fi
		echo "SOAK: $vmm $i $r ${GUEST_SECS}s rc=$GUEST_RC"
		if [ $r = ok ]; then pass "soak_${vmm}_boot_$i"; else fail "soak_${vmm}_boot_$i" "$r (rc $GUEST_RC)"; fi
	done
done
e2e_finish
