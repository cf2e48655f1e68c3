#!/usr/bin/env bash
# emulfault.sh DIR: whether a scenario's guest triple fault was raised by the test host's emulated
# CPU (QEMU's TCG running nested SVM), not by minivmm or the guest (tests/e2e/README.md, "The
# vCPU-1 triple fault"). The evidence is the KVM trace the test host keeps (kvmtrace.sh;
# NAME.log.kvmtrace.gz or kvm-trace.txt.gz in DIR), in three parts:
#   - the vCPU's SHUTDOWN exit happened while a page fault was being delivered (EXITINTINFO
#     0x80000b0e) whose error code says instruction fetch (I/D, bit 4), or while an external
#     interrupt was (0x800000VV) whose vector the trace shows injected into this vCPU before
#     (its IDT entry, stack and handler had worked);
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
	# The last exit of the shutting-down vCPU before its SHUTDOWN exit, that exit, and how often
	# the external interrupt it was delivering (if one) had been injected into that vCPU. A vCPU
	# is its thread (the first field, "vcpuN-TID"): a ring that saw several guests has several
	# vCPU 0s.
	pair=$(zcat "$t" 2>/dev/null | awk '
		/kvm_inj_virq: IRQ 0x/ { v = $0; sub(/.*IRQ 0x/, "", v); sub(/[^0-9a-f].*/, "", v); inj[$1 " " v]++ }
		/kvm_exit: vcpu [0-9]+ reason / {
			if ($0 ~ / reason shutdown /) {
				v = ""
				if (match($0, /intr_info 0x800000[0-9a-f][0-9a-f] /)) {
					v = substr($0, RSTART + 18, 2); sub(/^0/, "", v)
				}
				print prev[$1]; print $0; print inj[$1 " " v] + 0; exit
			}
			prev[$1] = $0
		}') || continue
	[ "$(wc -l <<<"$pair")" -eq 3 ] || continue
	before=$(sed -n 1p <<<"$pair") shut=$(sed -n 2p <<<"$pair") injected=$(sed -n 3p <<<"$pair")
	code=$(sed -n 's/.* intr_info 0x80000b0e error_code 0x\([0-9a-f]\{1,8\}\).*/\1/p' <<<"$shut")
	rip=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$shut")
	rip0=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$before")
	[ -n "$rip" ] && [ -n "$rip0" ] || continue
	fetch=0
	[ -z "$code" ] || fetch=$((0x$code & 0x10))
	# Bash arithmetic is signed 64-bit: compare pages and the distance, not raw kernel addresses.
	if (((fetch || injected > 0) && (0x$rip >> 12) == (0x$rip0 >> 12) && 0x$rip - 0x$rip0 >= 0 &&
		0x$rip - 0x$rip0 <= 15)); then
		echo "${t#"$dir"/}: $(tr -s ' ' <<<"${before# *}") / $(tr -s ' ' <<<"${shut# *}")"
		exit 0
	fi
done
exit 1
