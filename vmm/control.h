/* control.h: what QMP commands do to this machine (vmm/qmp.c speaks the protocol, this file
 * acts): pause and resume the vCPUs with the guest clock frozen in between, press the ACPI power
 * button, change a NIC's link, read its counters, quit; and the events that tell clients so. */
#ifndef MINIVMM_CONTROL_H
#define MINIVMM_CONTROL_H
#include <linux/kvm.h>
#include <stdbool.h>

#include "devices/virtio/virtio_net.h"
#include "vmm/config.h"
#include "vmm/qmp.h"
#include "vmm/vcpu.h"

struct privs_user;

struct control {
	struct vcpu *vcpu;
	int nvcpus;
	struct virtio_net **nic;
	int nnics;
	const struct vm_config *cfg; /* the NICs' id= */
	int vm_fd;
	bool paused;
	struct kvm_clock_data clock; /* kvmclock when paused: restored on resume */
	bool quit;		     /* the exit was asked for over QMP */
	struct qmp *qmp;
	const struct privs_user *owner; /* --runas: the QMP socket is given to this user */
};

/* Listens on cfg->qmp (if set) on loop l. 0 or -errno with one line printed. */
int control_open(struct control *c, struct loop *l);
/* After the VM stopped: the SHUTDOWN event (why it stopped), sent before the socket goes. */
void control_close(struct control *c);
#endif
