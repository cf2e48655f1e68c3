#!/usr/bin/env bash
# emulfault.sh DIR: whether a scenario's guest triple fault or hang was caused by the test host's
# emulated CPU (QEMU's TCG running nested SVM), not by minivmm or the guest (tests/e2e/README.md,
# "The vCPU-1 triple fault"). The evidence is the KVM trace the test host keeps (kvmtrace.sh;
# DIR/*.kvmtrace.gz: NAME.log.kvmtrace.gz beside a guest's log, hang.kvmtrace.gz from group.sh,
# or kvm-trace.txt.gz), in one of two shapes.
#
# A triple fault, in three parts:
#   - the vCPU's SHUTDOWN exit happened while a page fault was being delivered (EXITINTINFO
#     0x80000b0e) whose error code says instruction fetch (I/D, bit 4), or while an external
#     interrupt was (0x800000VV) whose vector the trace shows injected into this vCPU before
#     (its IDT entry, stack and handler had worked);
#   - the vCPU's previous exit was at the same instruction (an interrupt exit: it resumes there,
#     delivering the event KVM re-injects) or at one at most 15 bytes before it (an instruction
#     KVM or minivmm completed), on the same 4 KiB page: no guest instruction ran between the
#     VMRUN and the fault, on code that had just run (a real CPU does not fault there);
#   - the fault could not be delivered either (that is what made it a SHUTDOWN).
# A hang (the NPF loop): a vCPU's last exits are at least 1000 in a row, none of them to the
#   VMM, all one nested page fault at one RIP and one guest-physical address while a fetch #PF
#   was being delivered, each followed by an emulation that could not fetch a single instruction
#   byte (KVM then re-injects the #PF, and the loop starts again); and that address is outside the
#   guest's RAM (its --mem in DIR/*.cmd, laid out as minivmm does: below the PCI hole at 3 GiB,
#   the rest from 4 GiB). The vCPU was handed the test host's own values (its page-table walk
#   leads out of the guest's memory), and KVM spins on them without ever returning to the VMM.
# Prints the evidence and exits 0 if so; exits 1 otherwise (no trace, or any other triple fault
# or hang: those are failures of minivmm or the guest).
set -uo pipefail
dir=${1:?usage: emulfault.sh RESULTS_DIR}
NPF_LOOP_MIN=1000
PCI_HOLE=$((0xc0000000)) GIB4=$((0x100000000))

# The shutdown shape in trace T: prints the two exits if it matches.
shutdown_form() {
	local t=$1 pair before shut injected code rip rip0 fetch=0
	# The last exit of the shutting-down vCPU before its SHUTDOWN exit, that exit, and how often
	# the external interrupt it was delivering (if one) had been injected into that vCPU. A vCPU
	# is its thread (the first field, "vcpuN-TID"): a ring that saw several guests has several
	# vCPU 0s. (awk stops at the shutdown, and zcat may then die of SIGPIPE: the pipeline's status
	# says nothing, the three lines do.)
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
		}')
	[ "$(wc -l <<<"$pair")" -eq 3 ] || return 1
	before=$(sed -n 1p <<<"$pair") shut=$(sed -n 2p <<<"$pair") injected=$(sed -n 3p <<<"$pair")
	code=$(sed -n 's/.* intr_info 0x80000b0e error_code 0x\([0-9a-f]\{1,8\}\).*/\1/p' <<<"$shut")
	rip=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$shut")
	rip0=$(sed -n 's/.* rip 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$before")
	[ -n "$rip" ] && [ -n "$rip0" ] || return 1
	[ -z "$code" ] || fetch=$((0x$code & 0x10))
	# Bash arithmetic is signed 64-bit: compare pages and the distance, not raw kernel addresses.
	(((fetch || injected > 0) && (0x$rip >> 12) == (0x$rip0 >> 12) && 0x$rip - 0x$rip0 >= 0 &&
		0x$rip - 0x$rip0 <= 15)) || return 1
	echo "$(tr -s ' ' <<<"${before# *}") / $(tr -s ' ' <<<"${shut# *}")"
}

# The NPF loop in trace T: prints "N exits: <one of them>" for the vCPU thread whose last exits
# are the longest such loop, if it has NPF_LOOP_MIN of them.
npf_loop() {
	zcat "$1" 2>/dev/null | awk -v min="$NPF_LOOP_MIN" '
		/kvm_exit: vcpu [0-9]+ reason / {
			t = $1; k = ""
			if (gone[t]) { run[t] = 0; key[t] = ""; gone[t] = 0 }
			if ($0 ~ / reason npf / && match($0, / intr_info 0x80000b0e error_code 0x[0-9a-f]+/) &&
				index("13579bdf", substr($0, RSTART + RLENGTH - 2, 1)) > 0) {
				k = $0; sub(/^.* rip /, "", k); sub(/ intr_info .*$/, "", k)
			}
			# A loop exit continues the run only if the one before it failed its emulation.
			if (k != "" && k == key[t] && failed[t]) run[t]++
			else { run[t] = (k != ""); key[t] = k; line[t] = $0 }
			failed[t] = 0
			next
		}
		# No instruction bytes after "0:RIP:": the emulator could not fetch one.
		/kvm_emulate_insn: [0-9]+:[0-9a-f]+: \(/ { failed[$1] = 1; next }
		# The VMM got control: the next exit starts a new run (a last exit to it, when the VMM
		# was killed in the loop, leaves the run standing).
		/kvm_userspace_exit: / { gone[$1] = 1 }
		END {
			for (t in run) if (run[t] > best) { best = run[t]; b = t }
			if (best >= min) { l = line[b]; sub(/^ */, "", l); gsub(/  +/, " ", l); print best " exits: " l }
		}'
}

# The guest's RAM size in bytes: the largest --mem of the command lines in DIR (minivmm's default
# of 512M where none says).
guest_ram() {
	local m n best=$((512 << 20))
	for m in $(sed -n 's/.*--mem \([0-9]\+[KMG]\?\).*/\1/p' "$dir"/*.cmd 2>/dev/null); do
		case $m in
		*K) n=$((${m%K} << 10)) ;; *M) n=$((${m%M} << 20)) ;; *G) n=$((${m%G} << 30)) ;; *) n=$m ;;
		esac
		[ "$n" -le "$best" ] || best=$n
	done
	echo "$best"
}

# Whether GPA (hex, no 0x) lies outside RAM of SIZE bytes as minivmm lays it out.
outside_ram() {
	local gpa=$((0x$1)) size=$2 low high=$GIB4
	low=$((size < PCI_HOLE ? size : PCI_HOLE))
	[ "$size" -le "$PCI_HOLE" ] || high=$((GIB4 + size - PCI_HOLE))
	(((gpa >= low && gpa < GIB4) || gpa >= high))
}

ram=$(guest_ram)
shopt -s nullglob
for t in "$dir"/*.kvmtrace.gz "$dir"/kvm-trace.txt.gz; do
	if why=$(shutdown_form "$t"); then
		echo "${t#"$dir"/}: $why"
		exit 0
	fi
	loop=$(npf_loop "$t")
	gpa=$(sed -n 's/.* info2 0x\([0-9a-f]\{1,16\}\) .*/\1/p' <<<"$loop")
	if [ -n "$gpa" ] && outside_ram "$gpa" "$ram"; then
		echo "${t#"$dir"/}: a loop of $loop (GPA 0x$gpa outside the guest's $((ram >> 20)) MiB)"
		exit 0
	fi
done
exit 1
