/* control.c: the machine side of QMP (control.h). Runs on the main thread. */
#include "vmm/control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/acpi_pm.h"
#include "devices/virtio/virtio_pci.h"
#include "vmm/json.h"
#include "vmm/log.h"
#include "vmm/privs.h"
#include "vmm/vm.h"

#define PAUSE_TIMEOUT_MS 2000

static const char *ctl_status(void *opaque)
{
	struct control *c = opaque;
	return vm_exiting() ? "shutdown" : c->paused ? "paused" : "running";
}

static int ctl_stop(void *opaque, struct qmp_error *e)
{
	struct control *c = opaque;
	if (c->paused)
		return 0;
	if (vcpu_pause_all(c->vcpu, c->nvcpus, PAUSE_TIMEOUT_MS)) {
		e->cls = "GenericError";
		snprintf(e->desc, sizeof(e->desc), "the vCPUs did not stop within %d ms", PAUSE_TIMEOUT_MS);
		return -1;
	}
	/* The guest's clock stops with it, as on QEMU: kvmclock is read now and written back on
	 * cont, so the guest sees no jump. */
	if (ioctl(c->vm_fd, KVM_GET_CLOCK, &c->clock) < 0)
		c->clock.clock = 0;
	/* Devices quiesce too: no frame reaches or leaves guest memory while stopped. */
	for (int i = 0; i < c->nnics; i++)
		if (c->nic[i]->vdev.transport)
			virtio_pci_pause(&c->nic[i]->vdev, true);
	c->paused = true;
	qmp_event(c->qmp, "STOP", NULL);
	return 0;
}

static int ctl_cont(void *opaque, struct qmp_error *e)
{
	struct control *c = opaque;
	(void)e;
	if (!c->paused)
		return 0;
	if (c->clock.clock) {
		struct kvm_clock_data d = {.clock = c->clock.clock};
		ioctl(c->vm_fd, KVM_SET_CLOCK, &d);
	}
	c->paused = false;
	for (int i = 0; i < c->nnics; i++)
		if (c->nic[i]->vdev.transport)
			virtio_pci_pause(&c->nic[i]->vdev, false);
	vcpu_resume_all();
	qmp_event(c->qmp, "RESUME", NULL);
	return 0;
}

static int ctl_powerdown(void *opaque, struct qmp_error *e)
{
	struct control *c = opaque;
	(void)e;
	acpi_pm_power_button();
	qmp_event(c->qmp, "POWERDOWN", NULL);
	return 0;
}

static void ctl_quit(void *opaque)
{
	struct control *c = opaque;
	c->quit = true;
	vm_request_exit(0, "quit requested over QMP");
}

/* A NIC by its id= or, always, by netN. */
static struct virtio_net *nic_find(struct control *c, const char *name)
{
	for (int i = 0; i < c->nnics; i++) {
		char def[16];
		snprintf(def, sizeof(def), "net%d", i);
		if (!strcmp(name, def) || (c->cfg->nic[i].id[0] && !strcmp(name, c->cfg->nic[i].id)))
			return c->nic[i];
	}
	return NULL;
}

static int ctl_set_link(void *opaque, const char *name, bool up, struct qmp_error *e)
{
	struct virtio_net *n = nic_find(opaque, name);
	if (!n) {
		e->cls = "DeviceNotFound";
		snprintf(e->desc, sizeof(e->desc), "Device '%.100s' not found", name);
		return -1;
	}
	virtio_net_set_link(n, up);
	return 0;
}

static void ctl_net_stats(void *opaque, struct jbuf *out)
{
	struct control *c = opaque;
	jbuf_raw(out, "[");
	for (int i = 0; i < c->nnics; i++) {
		if (i)
			jbuf_raw(out, ", ");
		virtio_net_stats_json(c->nic[i], out);
	}
	jbuf_raw(out, "]");
}

static const struct qmp_ops control_qmp_ops = {
    .status = ctl_status,
    .stop = ctl_stop,
    .cont = ctl_cont,
    .powerdown = ctl_powerdown,
    .quit = ctl_quit,
    .set_link = ctl_set_link,
    .net_stats = ctl_net_stats,
};

int control_open(struct control *c, struct loop *l)
{
	if (!c->cfg->qmp)
		return 0;
	int err = qmp_open(&c->qmp, c->cfg->qmp, l, &control_qmp_ops, c);
	/* Under --runas the socket is the user's: the user's clients may connect, and minivmm, as
	 * that user, may remove it at exit (in a sticky directory such as /tmp only its owner may).
	 * lchown: should the path be swapped for a symlink after bind, root gives nothing away. */
	if (!err && c->owner && lchown(c->cfg->qmp, c->owner->uid, c->owner->gid)) {
		err = -errno;
		log_err("--qmp: cannot give %s to the --runas user: %s", c->cfg->qmp, strerror(-err));
		qmp_close(c->qmp);
		c->qmp = NULL;
	}
	return err;
}

/* QEMU's ShutdownCause for why the VM stopped. */
static const char *shutdown_cause(struct control *c, bool *guest)
{
	const char *why = vm_exit_reason();
	*guest = true;
	if (c->quit) {
		*guest = false;
		return "host-qmp-quit";
	}
	if (vm_exit_signal()) {
		*guest = false;
		return "host-signal";
	}
	if (strstr(why, "powered off"))
		return "guest-shutdown";
	if (strstr(why, "rebooted"))
		return "guest-reset";
	return vm_exit_status() ? "guest-panic" : "guest-shutdown";
}

void control_close(struct control *c)
{
	if (!c->qmp)
		return;
	bool guest;
	const char *cause = shutdown_cause(c, &guest);
	char data[96];
	snprintf(data, sizeof(data), "{\"guest\": %s, \"reason\": \"%s\"}", guest ? "true" : "false", cause);
	qmp_event(c->qmp, "SHUTDOWN", data);
	qmp_flush(c->qmp, 1000);
	qmp_close(c->qmp);
	c->qmp = NULL;
}
