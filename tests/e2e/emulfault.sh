#!/usr/bin/env bash
# emulfault.sh DIR: whether a scenario's guest triple fault was raised by the test host's emulated
# CPU (QEMU's TCG running nested SVM), not by minivmm or the guest (tests/e2e/README.md, "The
# vCPU-1 triple fault"). The evidence is the KVM trace the test host keeps (kvmtrace.sh;
# NAME.log.kvmtrace.gz or kvm-trace.txt.gz in DIR), in three parts:
#   - the vCPU's SHUTDOWN exit happened while a page fault was being delivered (EXITINTINFO
#     0x80000b0e) whose error code says instruction fetch (I/D, bit 4);
#   - the vCPU's previous exit was at the same instruction (an interrupt exit: it resumes there,
#     delivering the event KVM re-injects) or at one at most 15 bytes before it (an instruction
#     KVM or minivmm completed), on the same 4 KiB page: no guest instruction ran between the
#     VMRUN and the fault, on code that had just run (a real CPU does not fault there);
#   - the fault could not be delivered either (that is what made it a SHUTDOWN).
# Prints the two trace lines and exits 0 if so; exits 1 otherwise (no trace, no shutdown, or any
# other triple fault: those are failures of minivmm or the guest).
set -uo pipefail
dir=${1:?usage: emulfault.sh RESULTS_DIR}
shopt -s nullglob
for t in "$dir"/*.kvmtrace.gz "$dir"/kvm-trace.txt.gz; do
	# The last exit of the shutting-down vCPU before its SHUTDOWN exit, then that exit. A vCPU is
	# its thread (the first field, "vcpuN-TID"): a ring that saw several guests has several vCPU 0s.
	pair=$(zcat "$t" 2>/dev/null | awk '
		/kvm_exit: vcpu [0-9]+ reason / {
			if ($0 ~ / reason shutdown /) { print prev[$1]; print $0; exit }
			prev[$1] = $0
		}') || continue
	[ "$(wc -l <<<"$pair")" -eq 2 ] || continue
	before=$(head -n1 <<<"$pair") shut=$(tail -n1 <<<"$pair")
	code=$(sed -n 's/.* intr_info 0x80000b0e error_code 0x\([0-9a-f]\{1,8\}\).*/\1/p' <<<"$shut")
	rip=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$shut")
	rip0=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$before")
	[ -n "$code" ] && [ -n "$rip" ] && [ -n "$rip0" ] || continue
	# Bash arithmetic is signed 64-bit: compare pages and the distance, not raw kernel addresses.
	if (((0x$code & 0x10) && (0x$rip >> 12) == (0x$rip0 >> 12) && 0x$rip - 0x$rip0 >= 0 &&
		0x$rip - 0x$rip0 <= 15)); then
		echo "${t#"$dir"/}: $(tr -s ' ' <<<"${before# *}") / $(tr -s ' ' <<<"${shut# *}")"
		exit 0
	fi
done
exit 1
