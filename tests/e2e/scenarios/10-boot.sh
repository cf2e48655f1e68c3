#!/usr/bin/env bash
# e2e: minivmm boots Debian's cloud kernel with 1 and 2 vCPUs; the guest's init sees the CPUs and
# memory it was given, runs its scenario and powers off; minivmm exits 0 and prints the boot time.
# Also: the same under the ASan/UBSan build, `reboot` (reboot=k) ending the VM with 0, and
# --dump-dtb writing the machine's device tree without running the guest.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

for cpus in 1 2; do
	boot_guest --log "boot-cpus$cpus" -- --cpus "$cpus" --mem 512M --net none
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

boot_guest --log boot-big -- --cpus 2 --mem 3584M --net none
kb=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/^MINIVMM-GUEST-UP .*mem_kb=\([0-9]*\).*/\1/p')
if [ -n "$kb" ] && [ "$kb" -gt 3300000 ]; then pass boot_memory_above_4g; else fail boot_memory_above_4g "MemTotal ${kb:-?} kB for 3.5G"; fi
check boot_memory_above_4g_exit_0 test "$GUEST_RC" -eq 0

boot_guest --log boot-san --vmm "$MINIVMM_SAN" -- --cpus 2 --mem 512M --net none
expect boot_sanitized_build_guest_up '^MINIVMM-GUEST-UP nproc=2 '
check boot_sanitized_build_exit_0 test "$GUEST_RC" -eq 0
if expect_in_log 'ERROR: (Address|Leak)Sanitizer|runtime error:'; then fail boot_sanitized_build_clean; else pass boot_sanitized_build_clean; fi

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
