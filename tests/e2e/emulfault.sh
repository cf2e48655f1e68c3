#!/usr/bin/env bash
# emulfault.sh DIR: whether a scenario's guest triple fault was raised by the test host's emulated
# CPU (QEMU's TCG), not by minivmm or the guest (tests/e2e/README.md, "The vCPU-1 triple fault").
# The evidence is the KVM trace the test host keeps (kvmtrace.sh; NAME.log.kvmtrace.gz or
# kvm-trace.txt.gz in DIR): the vCPU's SHUTDOWN exit happened while a page fault was being
# delivered (EXITINTINFO 0x80000b0e) whose error code has the reserved-bit flag set and the present
# flag clear. A real CPU never reports that pair (a reserved bit is only seen in a present entry);
# QEMU's page walker does. Prints the trace line and exits 0 if so; exits 1 otherwise (no trace,
# no shutdown, or any other triple fault: those are failures of minivmm or the guest).
set -uo pipefail
dir=${1:?usage: emulfault.sh RESULTS_DIR}
shopt -s nullglob
for t in "$dir"/*.kvmtrace.gz "$dir"/kvm-trace.txt.gz; do
	line=$(zcat "$t" 2>/dev/null | grep -m1 -E 'kvm_exit: vcpu [0-9]+ reason shutdown ') || continue
	code=$(sed -n 's/.* intr_info 0x80000b0e error_code 0x\([0-9a-f]\{1,8\}\).*/\1/p' <<<"$line")
	[ -n "$code" ] || continue
	if (((0x$code & 0x9) == 0x8)); then
		echo "${t#"$dir"/}: $line"
		exit 0
	fi
done
exit 1
