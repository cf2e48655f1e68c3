# shellcheck shell=bash
# The test host's KVM trace (sourced by tests/e2e/group.sh and lib.sh): KVM's tracepoints into a
# bounded, overwriting per-CPU ring (tracefs), so a guest's triple fault comes with the exits,
# injected events and interrupts that led to it. SVM wipes the VMCB when it reports SHUTDOWN, so
# minivmm's own register dump is empty; kvm_exit is traced before that, with the guest RIP.
# A trigger stops the ring when KVM returns KVM_EXIT_SHUTDOWN to a VMM (kvm_userspace_exit reason
# 8), so what follows (other guests, the next scenario) cannot overwrite it until it is saved.
# That covers both ways a triple fault happens: the CPU's SHUTDOWN intercept (a kvm_exit with
# reason shutdown, SVM exit code 0x7f, just before) and KVM's own (an exception KVM injects or
# re-injects while a #DF is pending: kvm_inj_exception lines, and no shutdown exit).
#
#   kvmtrace_start              mount tracefs, enable the events, arm the trigger (no-op, status
#                               1, where tracefs or KVM's events are missing)
#   kvmtrace_on                 true if the trace runs here (started by kvmtrace_start)
#   kvmtrace_stopped            true if the trigger fired since the last start/save
#   kvmtrace_save FILE          write the ring (gzip) to FILE, empty it and trace again
# E2E_KVMTRACE_KB: ring size per CPU (default 4096); E2E_KVMTRACE=0 turns tracing off.
KVMTRACE=/sys/kernel/tracing
KVMTRACE_EVENTS='kvm_exit kvm_inj_exception kvm_inj_virq kvm_apic_accept_irq kvm_apic_ipi kvm_msi_set_irq kvm_ioapic_set_irq kvm_pic_set_irq kvm_msr kvm_emulate_insn kvm_userspace_exit kvm_fpu'
KVM_EXIT_SHUTDOWN=8

kvmtrace_start() {
	[ "${E2E_KVMTRACE:-1}" != 0 ] || return 1
	[ -d $KVMTRACE/events ] || mount -t tracefs nodev $KVMTRACE 2>/dev/null || return 1
	[ -d $KVMTRACE/events/kvm ] || return 1
	local e
	echo 0 >$KVMTRACE/tracing_on
	echo "${E2E_KVMTRACE_KB:-4096}" >$KVMTRACE/buffer_size_kb
	echo 1 >$KVMTRACE/options/overwrite
	for e in $KVMTRACE_EVENTS; do
		[ ! -d "$KVMTRACE/events/kvm/$e" ] || echo 1 >"$KVMTRACE/events/kvm/$e/enable"
	done
	echo "traceoff if reason == $KVM_EXIT_SHUTDOWN" >$KVMTRACE/events/kvm/kvm_userspace_exit/trigger
	: >$KVMTRACE/trace
	echo 1 >$KVMTRACE/tracing_on
}

kvmtrace_on() {
	grep -q "^traceoff" $KVMTRACE/events/kvm/kvm_userspace_exit/trigger 2>/dev/null
}

kvmtrace_stopped() {
	kvmtrace_on && [ "$(cat $KVMTRACE/tracing_on 2>/dev/null)" = 0 ]
}

kvmtrace_save() {
	[ -d $KVMTRACE/events/kvm ] || return 1
	echo 0 >$KVMTRACE/tracing_on
	cat $KVMTRACE/trace | gzip -c >"$1" # (a pipe: gzip warns that the tracefs file changed size)
	: >$KVMTRACE/trace
	echo 1 >$KVMTRACE/tracing_on
}
