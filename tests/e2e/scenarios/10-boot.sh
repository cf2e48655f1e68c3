#!/usr/bin/env bash
# e2e: minivmm boots Debian's cloud kernel (the bzImage, as users do) with 1 and 2 vCPUs; the
# guest's init sees the CPUs and memory it was given, runs its scenario and powers off; minivmm
# exits 0 and prints the boot time.
# Also: the same under the ASan/UBSan build, `reboot` (reboot=k) ending the VM with 0, and
# --dump-dtb writing the machine's device tree without running the guest.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

BZIMAGE=$BUILD/guest/vmlinuz
for cpus in 1 2; do
	GUEST_KERNEL=$BZIMAGE boot_guest --log "boot-cpus$cpus" -- --cpus "$cpus" --mem 512M --net none
	expect "boot_cpus${cpus}_guest_up" "^MINIVMM-GUEST-UP nproc=$cpus "
	# 512 MiB minus what the kernel keeps for itself: MemTotal lands between 400 and 512 MiB.
	kb=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^MINIVMM-GUEST-UP .*mem_kb=\([0-9]*\).*/\1/p')
	if [ -n "$kb" ] && [ "$kb" -gt 400000 ] && [ "$kb" -le 524288 ]; then
		pass "boot_cpus${cpus}_memory"
	else
		fail "boot_cpus${cpus}_memory" "MemTotal ${kb:-?} kB for --mem 512M"
	fi
	expect "boot_cpus${cpus}_scenario_done" '^MINIVMM-SCENARIO-DONE'
	expect "boot_cpus${cpus}_boot_time_printed" '^guest boot time: [0-9]+ ms'
	check "boot_cpus${cpus}_exit_status_0" test "$GUEST_RC" -eq 0
done

GUEST_KERNEL=$BZIMAGE boot_guest --log boot-big -- --cpus 2 --mem 3584M --net none
kb=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^MINIVMM-GUEST-UP .*mem_kb=\([0-9]*\).*/\1/p')
if [ -n "$kb" ] && [ "$kb" -gt 3300000 ]; then pass boot_memory_above_4g; else fail boot_memory_above_4g "MemTotal ${kb:-?} kB for 3.5G"; fi
check boot_memory_above_4g_exit_0 test "$GUEST_RC" -eq 0

# The sanitized build with a NIC (user networking: the device, transport and slirp all run) and
# --stats, so teardown and the report run under ASan too; and the same kernel as an uncompressed
# ELF vmlinux, entered through its PVH note (lib.sh's default for the other scenarios, named here
# so these checks do not depend on that; one boot for both).
GUEST_KERNEL=$BUILD/guest/vmlinux boot_guest --log boot-san-pvh --vmm "$MINIVMM_SAN" -- --cpus 2 --mem 512M --net user --stats
expect boot_sanitized_build_guest_up '^MINIVMM-GUEST-UP nproc=2 '
check boot_sanitized_build_exit_0 test "$GUEST_RC" -eq 0
expect boot_sanitized_build_stats_printed '^stats: net0 tx \(userspace\) kicks='
if expect_in_log 'ERROR: (Address|Leak)Sanitizer|runtime error:'; then fail boot_sanitized_build_clean; else pass boot_sanitized_build_clean; fi
expect boot_elf_pvh_guest_up '^MINIVMM-GUEST-UP nproc=2 '
check boot_elf_pvh_exit_0 test "$GUEST_RC" -eq 0

# A triple fault is a failure (exit 1) with the reason and a register dump, not a clean exit.
GUEST_KERNEL=$(triple_fault_kernel) boot_guest --log triple-fault -- --net none
check triple_fault_exits_1 test "$GUEST_RC" -eq 1
expect triple_fault_reason_printed '^minivmm: vCPU 0: guest triple fault'
# (AMD resets the vCPU before KVM reports the shutdown, so rip is not the faulting one there.)
expect triple_fault_register_dump '^ rip [0-9a-f]{16} rsp [0-9a-f]{16}'
expect triple_fault_control_registers_dumped '^ cr0 [0-9a-f]{16} cr2'
if [ "$(tr -d '\r' <"$GUEST_LOG" | grep -c 'triple fault')" -eq 1 ]; then pass triple_fault_reported_once
else fail triple_fault_reported_once; fi
# In the test host, the KVM trace of it is kept beside the log (lib.sh, kvmtrace.sh): it ends on
# the SHUTDOWN exit of that vCPU, at the ud2 (0x200000) or its #UD intercept, and the exit to minivmm.
if kvmtrace_on; then
	t=$(zcat "$GUEST_LOG.kvmtrace.gz" 2>/dev/null | tail -n 40)
	if grep -q 'kvm_userspace_exit: reason KVM_EXIT_SHUTDOWN' <<<"$t" && grep -q 'rip 0x200000' <<<"$t"; then
		pass triple_fault_kvm_trace_kept
	else
		fail triple_fault_kvm_trace_kept "no SHUTDOWN exit at rip 0x200000 in $GUEST_LOG.kvmtrace.gz"
	fi
fi

# --dump-dtb builds the machine (so it needs /dev/kvm), writes the tree and exits 0 at once.
dtb=$RESULTS/machine.dtb
rm -f "$dtb"
timeout -k 5 60 "$MINIVMM" --dump-dtb "$dtb" --kernel "$GUEST_KERNEL" --initrd "$GUEST_INITRD" \
	--cpus 2 --net none >"$RESULTS/dump-dtb.log" 2>&1
check dump_dtb_exits_0 test "$?" -eq 0
magic=$(head -c 4 "$dtb" 2>/dev/null | od -An -tx1 | tr -d ' \n')
check dump_dtb_has_fdt_magic test "$magic" = d00dfeed
if command -v dtc >/dev/null; then
	ncpu=$(dtc -I dtb -O dts "$dtb" 2>/dev/null | grep -cE '^[[:space:]]*cpu@[0-9a-f]+ \{')
	check dump_dtb_shows_2_cpu_nodes test "$ncpu" -eq 2
else
	skip dump_dtb_shows_2_cpu_nodes "dtc not installed (device-tree-compiler)"
fi

boot_guest --log reboot --scenario reboot -- --net none
expect reboot_scenario_ran '^MINIVMM-REBOOTING'
check reboot_exits_0 test "$GUEST_RC" -eq 0
e2e_finish
