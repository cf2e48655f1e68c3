/* main.c: minivmm's entry: parse the command line, build the machine, run it, tear it down.
 * Setup failures print one line and exit 2; a guest that dies at run time exits 1; a guest that
 * powers off, or SIGTERM/SIGINT/SIGHUP, exits 0. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "devices/acpi_pm.h"
#include "devices/boot_marker.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/virtio/virtio_net.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/serial.h"
#include "firmware/boot.h"
#include "firmware/dtb.h"
#include "firmware/firmware.h"
#include "firmware/layout.h"
#include "vmm/cli.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "vmm/control.h"
#include "vmm/kvm.h"
#include "vmm/log.h"
#include "vmm/loop.h"
#include "vmm/privs.h"
#include "vmm/seccomp.h"
#include "vmm/stats.h"
#include "vmm/term.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define PCI_CLASS_NET_ETHERNET 0x020000

static struct machine {
	uint64_t t0;
	struct vm_config cfg;
	struct guest_mem mem;
	struct boot_info boot;
	struct machine_desc md; /* filled once KVM says how many physical address bits guests get */
	struct kvm kvm;
	struct vcpu vcpu[CONFIG_MAX_CPUS];
	int nvcpus;
	bool ran; /* the vCPUs were started */
	struct serial serial;
	struct virtio_net *nic[CONFIG_MAX_NICS];
	int nnics;
	struct loop *loop;
	int sigfd;
	struct privs_user runas;
	struct control ctl; /* --qmp */
} M = { .sigfd = -1, .kvm = { .fd = -1, .vm_fd = -1 } };

static int machine_load(struct machine *m)
{
	int ret = guest_mem_init(&m->mem, m->cfg.mem);
	if (ret) {
		log_err("cannot allocate %llu MiB of guest memory: %s", (unsigned long long)(m->cfg.mem >> 20),
			strerror(-ret));
		return ret;
	}
	struct boot_spec spec = {
		.kernel = m->cfg.kernel,
		.initrd = m->cfg.initrd,
		.cmdline = m->cfg.cmdline,
		.machine = { .ram_size = m->cfg.mem, .ncpus = m->cfg.cpus },
	};
	return boot_load(&m->mem, &spec, &m->boot);
}

/* A virtio-net device on the virtio PCI transport, with the transport's interrupt poller. */
static int machine_nic(struct machine *m, int i)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	int ret = virtio_net_init(n, &m->cfg.nic[i], i, &m->mem);
	if (ret) {
		free(n);
		return ret;
	}
	m->nic[m->nnics++] = n;
	if ((ret = virtio_pci_create(&n->vdev, PCI_CLASS_NET_ETHERNET, NULL)))
		log_err("net%d: cannot create its PCI function: %s", i, strerror(-ret));
	return ret;
}

/* The interrupt pollers are the first threads: started after the privilege drop (glibc's set*id
 * would have to reach threads already filtered), each installs its own filter. */
static int machine_pollers(struct machine *m)
{
	for (int i = 0; i < m->nnics; i++) {
		char name[16]; /* a thread name: 15 characters at most; i < CONFIG_MAX_NICS */
		snprintf(name, sizeof(name), "net%u-irq", (unsigned)i % CONFIG_MAX_NICS);
		int ret = virtio_pci_poller_start(&m->nic[i]->vdev, name);
		if (ret) {
			log_err("net%d: cannot start the interrupt poller: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int machine_devices(struct machine *m)
{
	int ret;
	if ((ret = serial_init(&m->serial, 0x3f8, LAYOUT_IRQ_SERIAL, console_out_fd(STDOUT_FILENO))) || (ret = i8042_init()) ||
	    (ret = acpi_pm_init()) || (ret = boot_marker_init(m->t0)) || (ret = pci_host_init())) {
		log_err("cannot register platform devices: %s", strerror(-ret));
		return ret;
	}
	for (int i = 0; i < m->cfg.nnics; i++)
		if ((ret = machine_nic(m, i)))
			return ret;
	return 0;
}

static int machine_vcpus(struct machine *m)
{
	m->nvcpus = m->cfg.cpus;
	for (int i = 0; i < m->nvcpus; i++) {
		int ret = vcpu_create(&m->kvm, &m->vcpu[i], i, m->nvcpus);
		if (ret)
			return ret;
	}
	int ret = vcpu_set_boot_state(&m->vcpu[0], &m->boot);
	if (ret)
		log_err("cannot set the boot vCPU's registers: %s", strerror(-ret));
	return ret;
}

/* Everything before the first instruction. Any failure here is reported and exits 2. */
static int machine_build(struct machine *m)
{
	int ret;
	/* The kernel and initrd are checked before /dev/kvm so file errors show on any machine. */
	if ((ret = machine_load(m)))
		return ret;
	if ((ret = kvm_open(&m->kvm, "/dev/kvm")) || (ret = kvm_create_vm(&m->kvm, &m->mem)))
		return ret;
	int phys_bits = kvm_guest_phys_bits(&m->kvm);
	if (phys_bits < 0)
		return phys_bits;
	if ((ret = machine_desc_init(&m->md, m->cfg.mem, m->cfg.cpus, phys_bits))) {
		log_err("no room for the 64-bit PCI window with %d physical address bits and %llu MiB of RAM",
			phys_bits, (unsigned long long)(m->cfg.mem >> 20));
		return ret;
	}
	pci_mmio64_window_set(m->md.mmio64_base, m->md.mmio64_size);
	if ((ret = machine_devices(m)))
		return ret;
	if ((ret = firmware_build(&m->mem, &m->md))) {
		log_err("cannot build the firmware tables: %s", strerror(-ret));
		return ret;
	}
	return machine_vcpus(m);
}

static void print_stats(struct machine *m)
{
	stats_print(stderr, m->vcpu, m->nvcpus, m->nic, m->nnics);
	serial_stats_print(&m->serial, stderr);
}

static void on_signal(void *opaque, uint32_t events)
{
	struct machine *m = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(m->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGUSR1) {
		print_stats(m);
		return;
	}
	vm_request_signal_exit(si.ssi_signo);
}

/* A NIC's driver set DRIVER_OK or reset it: its datapath is started and stopped here, on the main
 * thread, never on the vCPU that wrote the register (virtio_pci.h). */
static void on_nic_lifecycle(void *opaque, uint32_t events)
{
	(void)events;
	virtio_pci_lifecycle_run(&((struct virtio_net *)opaque)->vdev);
}

static void on_exit_request(void *opaque, uint32_t events)
{
	(void)events;
	loop_stop(((struct machine *)opaque)->loop);
}

/* The signals the main loop takes through a signalfd. */
static void main_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
}

/* The main thread owns the console, signals, the exit request and the NICs' lifecycle (start and
 * stop of their datapaths); vCPUs and NIC I/O threads run on their own. */
static int machine_run(struct machine *m)
{
	sigset_t set;
	main_signals(&set);
	m->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	m->loop = loop_new();
	int ret;
	if (m->sigfd < 0 || !m->loop || (ret = vm_lifecycle_init()) ||
	    loop_add(m->loop, m->sigfd, EPOLLIN, on_signal, m) ||
	    loop_add(m->loop, vm_exit_fd(), EPOLLIN, on_exit_request, m) ||
	    console_attach(m->loop, STDIN_FILENO, &m->serial)) {
		int e = errno ? errno : EIO;
		log_err("cannot set up the main loop: %s", strerror(e));
		return -e;
	}
	for (int i = 0; i < m->nnics; i++) {
		if (loop_add(m->loop, virtio_pci_lifecycle_fd(&m->nic[i]->vdev), EPOLLIN, on_nic_lifecycle,
			     m->nic[i])) {
			log_err("cannot set up the main loop");
			return -EIO;
		}
	}
	m->ctl = (struct control){.vcpu = m->vcpu, .nvcpus = m->nvcpus, .nic = m->nic, .nnics = m->nnics,
				  .cfg = &m->cfg, .vm_fd = m->kvm.vm_fd};
	if (m->cfg.runas)
		m->ctl.owner = &m->runas;
	if ((ret = control_open(&m->ctl, m->loop)))
		return ret;
	/* Everything privileged is open (the QMP socket too): drop root, then confine each thread
	 * as it starts. */
	if ((m->cfg.runas && (ret = privs_drop(&m->runas))) || (ret = seccomp_setup(m->cfg.seccomp)) ||
	    (ret = machine_pollers(m)))
		return ret;
	term_raw(STDIN_FILENO);
	m->ran = true;
	for (int i = 0; i < m->nvcpus; i++) {
		if ((ret = vcpu_start(&m->vcpu[i]))) {
			vm_request_exit(EXIT_RUNTIME, "cannot start a vCPU thread");
			break;
		}
	}
	/* Last: the threads started above must not inherit main's list (seccomp.h). */
	if (seccomp_enter(SECCOMP_MAIN))
		vm_request_exit(EXIT_RUNTIME, "cannot install the main thread's system call filter");
	loop_run(m->loop);
	control_close(&m->ctl);
	return 0;
}

static void machine_teardown(struct machine *m)
{
	for (int i = 0; i < m->nvcpus; i++)
		vcpu_stop(&m->vcpu[i]);
	if (m->ran)
		console_out_flush(&m->serial, 500);
	term_restore();
	/* The counters are final once the vCPUs stopped; report them while the NICs still exist. */
	if (m->cfg.stats && m->ran)
		print_stats(m);
	for (int i = 0; i < m->nnics; i++) {
		if (m->nic[i]->vdev.transport)
			virtio_pci_destroy(&m->nic[i]->vdev);
		virtio_net_free(m->nic[i]);
		free(m->nic[i]);
	}
	m->nnics = 0;
	for (int i = 0; i < m->nvcpus; i++)
		vcpu_destroy(&m->vcpu[i]);
	kvm_close(&m->kvm);
	serial_free(&m->serial);
	guest_mem_free(&m->mem);
	loop_free(m->loop);
	if (m->sigfd >= 0)
		close(m->sigfd);
}

int main(int argc, char **argv)
{
	struct machine *m = &M;
	m->t0 = boot_marker_now_ns();
	log_debug_on = getenv("MINIVMM_DEBUG") != NULL;
	int ret = cli_parse(argc, argv, &m->cfg);
	if (ret == 1)
		return 0;
	if (ret < 0)
		return EXIT_BADINPUT;
	if (m->cfg.runas && privs_lookup(m->cfg.runas, &m->runas))
		return EXIT_BADINPUT;
	privs_raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Blocked before any thread (NIC I/O, interrupt poller, vCPU) exists, so all of them inherit
	 * the mask and these signals only ever reach the main loop's signalfd. */
	sigset_t set;
	main_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (machine_build(m)) {
		machine_teardown(m);
		return EXIT_BADINPUT;
	}
	if (m->cfg.dump_dtb) {
		/* Built, devices placed, nothing run: describe it and stop (like QEMU's dumpdtb). */
		ret = dtb_write_file(m->cfg.dump_dtb, &m->md, &m->mem, &m->boot, m->cfg.cmdline);
		machine_teardown(m);
		return ret ? EXIT_BADINPUT : 0;
	}
	if (machine_run(m)) {
		/* A setup failure (one line printed), not something the guest did. */
		machine_teardown(m);
		return EXIT_BADINPUT;
	}
	machine_teardown(m);
	int status = vm_exit_status();
	/* A signal ends the VM with status 0 but still says so, as QEMU does. */
	if (status || vm_exit_signal())
		log_err("%s", vm_exit_reason());
	else if (log_debug_on)
		log_dbg("%s", vm_exit_reason());
	return status;
}
