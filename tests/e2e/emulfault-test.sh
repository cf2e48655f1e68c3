#!/usr/bin/env bash
# `make check-harness` (part of `make test`): emulfault.sh, the judge that lets run.sh retry a
# scenario once, against small KVM traces written here in the test host's trace format: each
# shape it must take (the two triple-fault forms, the NPF-loop hang) and, for each, the nearest
# shapes it must not (a guest's own triple fault, a loop too short, inside the guest's RAM, with
# the instruction fetched, interrupted by the VMM, ended by itself). A judge that takes too much
# hides minivmm's bugs behind a retry; one that takes too little fails suites on the test host.
# Prints "PASS: name" / "FAIL: name why" lines; exits 1 if anything failed. Needs no root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Trace lines of thread vcpuN-TID, as the test host's tracefs prints them.
ev() { printf '           vcpu%s-%s    [000] .....   100.000000: %s\n' "$1" "$((100 + $1))" "$2"; }
kexit() { # VCPU REASON RIP [INFO2 [INTR_INFO [ERROR_CODE]]]
	ev "$1" "kvm_exit: vcpu $1 reason $2 rip 0x$3 info1 0x0000000000000000 info2 0x${4:-0000000000000000} intr_info 0x${5:-00000000} error_code 0x${6:-00000000}"
}
# One turn of the hang: the NPF while delivering a fetch #PF, the emulation with no bytes
# (BYTES: some instead), the re-injected #PF.
npf_turn() { # VCPU GPA [ERROR_CODE [BYTES]]
	kexit "$1" npf ffffffffc040b20c "$2" 80000b0e "${3:-00000010}"
	ev "$1" "kvm_emulate_insn: 0:ffffffffc040b20c:${4:-} (prot64)"
	ev "$1" "kvm_inj_exception: #PF (0x10)"
}
npf_loop() { local i; for ((i = 0; i < $3; i++)); do npf_turn "$1" "$2" "${4:-}" "${5:-}"; done; }
to_vmm() { ev "$1" "kvm_userspace_exit: reason KVM_EXIT_IO (2)"; }
# The vCPU's normal life before: exits to the VMM on the serial port.
prologue() { kexit "$1" io ffffffff816c2276; to_vmm "$1"; ev "$1" "kvm_fpu: load"; }

# case NAME WANT(0 taken, 1 refused) [MEM]: the trace on stdin judged in a directory of its own
# with a guest of MEM (--mem; none: no command line kept).
case_() {
	local name=$1 want=$2 mem=${3:-} d=$tmp/$1 rc=0 out
	mkdir -p "$d"
	gzip -c >"$d/net.log.kvmtrace.gz"
	[ -z "$mem" ] || echo "minivmm --kernel k --cpus 2 --mem $mem --net tap,ifname=t0" >"$d/net.log.cmd"
	out=$("$here/emulfault.sh" "$d" 2>&1) || rc=$?
	if [ "$rc" -eq "$want" ]; then
		echo "PASS: emulfault_$name"
	else
		echo "FAIL: emulfault_$name (exit $rc, wanted $want: ${out:-no output})"
		fails=$((fails + 1))
	fi
}
GPA_HOST=0000000103b60fe0 # 4 GiB + 59 MiB: the test host's RAM, not a 512 MiB guest's
GPA_LOW=0000000001000000  # 16 MiB: in any guest's RAM

# The NPF-loop hang.
{ prologue 1; npf_loop 1 $GPA_HOST 1000; } | case_ npf_loop_outside_ram_taken 0 512M
{ prologue 1; npf_loop 1 $GPA_HOST 1000; } | case_ npf_loop_default_mem_taken 0
{ prologue 1; npf_loop 1 $GPA_HOST 1000; to_vmm 1; } | case_ npf_loop_then_the_vmm_killed_taken 0 512M
{ prologue 0; prologue 1; npf_loop 1 $GPA_HOST 600; prologue 0; npf_loop 1 $GPA_HOST 600; } |
	case_ npf_loop_other_vcpu_between_taken 0 512M
{ prologue 1; npf_loop 1 $GPA_HOST 999; } | case_ npf_loop_999_refused 1 512M
{ prologue 1; npf_loop 1 $GPA_LOW 1000; } | case_ npf_loop_inside_ram_refused 1 512M
{ prologue 1; npf_loop 1 $GPA_HOST 1000; } | case_ npf_loop_in_high_ram_refused 1 4G
{ prologue 1; npf_loop 1 $GPA_HOST 1000 00000010 '0f 0b'; } | case_ npf_loop_insn_fetched_refused 1 512M
{ prologue 1; npf_loop 1 $GPA_HOST 1000 00000002; } | case_ npf_loop_data_fault_refused 1 512M
{ prologue 1; npf_loop 1 $GPA_HOST 600; to_vmm 1; ev 1 "kvm_fpu: load"; npf_loop 1 $GPA_HOST 600; } |
	case_ npf_loop_vmm_between_refused 1 512M
{ prologue 1; npf_loop 1 $GPA_HOST 1000; prologue 1; } | case_ npf_loop_ended_refused 1 512M

# The triple faults: a SHUTDOWN exit, and the exit before it.
{ prologue 0; kexit 0 interrupt ffffffff81317d16; kexit 0 shutdown ffffffff81317d16 0 80000b0e 00000010; } |
	case_ shutdown_fetch_pf_same_rip_taken 0 512M
{ prologue 0; kexit 0 io ffffffff81317d10; kexit 0 shutdown ffffffff81317d16 0 80000b0e 00000010; } |
	case_ shutdown_fetch_pf_next_insn_taken 0 512M
# The ring goes on after the shutdown (other vCPUs, other guests): the judge stops reading there,
# and zcat then dies of SIGPIPE, which must not count as "no shutdown" (it did once, 2 Dec 2026).
{ prologue 0; kexit 0 io ffffffff8199b5aa; kexit 0 shutdown ffffffff8199b5ab 0 80000b0e 00000010
  yes "$(ev 1 'kvm_fpu: load')" | head -n 40000; } | case_ shutdown_with_a_long_trace_after_it_taken 0 512M
{ prologue 0; kexit 0 io ffffffff81318d16; kexit 0 shutdown ffffffff81317d16 0 80000b0e 00000010; } |
	case_ shutdown_fetch_pf_other_page_refused 1 512M
{ prologue 0; kexit 0 interrupt ffffffff81317d16; kexit 0 shutdown ffffffff81317d16 0 80000b0e 00000002; } |
	case_ shutdown_data_pf_refused 1 512M
{ prologue 0; ev 0 "kvm_inj_virq: IRQ 0xec"; kexit 0 hlt ffffffff81a17a0a; kexit 0 shutdown ffffffff81a17a0b 0 800000ec; } |
	case_ shutdown_delivering_injected_irq_taken 0 512M
{ prologue 0; ev 0 "kvm_inj_virq: IRQ 0xec"; kexit 0 hlt ffffffff81a17a0a; kexit 0 shutdown ffffffff81a17a0b 0 800000ed; } |
	case_ shutdown_delivering_new_irq_refused 1 512M
{ kexit 0 "UD excp" 200000; ev 0 "kvm_emulate_insn: 0:200000:0f 0b (prot64)"; ev 0 "kvm_inj_exception: #UD"
  kexit 0 shutdown 200000 0 80000306; } | case_ shutdown_guest_ud_refused 1 512M
prologue 0 | case_ no_shutdown_no_loop_refused 1 512M
mkdir -p "$tmp/none" && if "$here/emulfault.sh" "$tmp/none" >/dev/null 2>&1; then
	echo "FAIL: emulfault_no_trace_refused"; fails=$((fails + 1))
else echo "PASS: emulfault_no_trace_refused"; fi
exit $((fails > 0))
