/* test_seccomp.c: each thread kind's filter, in a forked child: what its list allows still works,
 * a call outside it ends the process with one line naming the kind and the call. No KVM needed:
 * a filter checks numbers, so an ioctl on /dev/null shows whether KVM_RUN would pass. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/net/vhost_net.h"
#include "devices/virtio/virtio_net.h"
#include "tests/unit/fake_net.h"
#include "tests/unit/fake_ring.h"
#include "tests/unit/unit.h"
#include "vmm/ioeventfd.h"
#include "vmm/irq.h"
#include "vmm/loop.h"
#include "vmm/qmp.h"
#include "vmm/seccomp.h"

static int devnull = -1;

static void *nothing(void *arg)
{
	return arg;
}

/* Runs fn(kind) in a child with the filters on and kind entered; returns the child's wait status
 * and what it wrote to stderr. fn returning means the child exits 0. */
static int in_child(enum seccomp_kind kind, void (*fn)(enum seccomp_kind), char *err, size_t cap)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		close(p[0]);
		/* As in minivmm, threads exist before any filter (glibc sets up on the first one). */
		pthread_t t;
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
		devnull = open("/dev/null", O_RDWR);
		if (seccomp_setup(true) || seccomp_enter(kind))
			_exit(3);
		fn(kind);
		_exit(0);
	}
	close(p[1]);
	return unit_child_collect(pid, p[0], err, cap);
}

static int exited_with(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Exactly one line, and it is the expected report. */
static void assert_report(const char *err, const char *kind, const char *call)
{
	char want[128];
	snprintf(want, sizeof(want), "minivmm: seccomp: %s thread ", kind);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "report: \"%s\"", err);
	snprintf(want, sizeof(want), "made a forbidden system call: %s (", call);
	ck_assert_msg(strstr(err, want), "report: \"%s\"", err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: \"%s\"", err);
}

static void call_personality(enum seccomp_kind k)
{
	(void)k;
	syscall(SYS_personality, 0xffffffffUL);
}

START_TEST(every_kind_reports_a_call_outside_its_list_in_one_line)
{
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		char err[512];
		int st = in_child(k, call_personality, err, sizeof(err));
		ck_assert_int_eq(exited_with(st), 1);
		assert_report(err, seccomp_kind_name(k), "personality");
	}
}
END_TEST

static void test_hook_violates(enum seccomp_kind k)
{
	(void)k;
	/* Not reached: seccomp_enter() made the forbidden call already. */
}

START_TEST(test_hook_makes_the_named_kind_violate_on_entry)
{
	char err[512];
	setenv("MINIVMM_TEST_SECCOMP_VIOLATE", "irq-poller", 1);
	int st = in_child(SECCOMP_IRQ_POLLER, test_hook_violates, err, sizeof(err));
	int other = in_child(SECCOMP_VCPU, test_hook_violates, err + 256, 256);
	unsetenv("MINIVMM_TEST_SECCOMP_VIOLATE");
	ck_assert_int_eq(exited_with(st), 1);
	assert_report(err, "irq-poller", "personality");
	ck_assert_int_eq(exited_with(other), 0); /* only the kind named */
}
END_TEST

static void kvm_run_on_devnull(enum seccomp_kind k)
{
	(void)k;
	ioctl(devnull, KVM_RUN, 0); /* ENOTTY if the filter let it through */
}

static void raise_interrupts_on_devnull(enum seccomp_kind k)
{
	(void)k;
	if (ioctl(devnull, KVM_IRQ_LINE, NULL) >= 0 || errno != ENOTTY)
		_exit(4);
	if (ioctl(devnull, KVM_SIGNAL_MSI, NULL) >= 0 || errno != ENOTTY)
		_exit(4);
}

/* Any device thread may have to interrupt the guest: a net-io thread that finds a queue broken
 * raises the config interrupt (INTx when MSI-X is off, KVM_SIGNAL_MSI otherwise). The hostile
 * e2e scenarios (60-62) found the net-io list without them: a guest could make minivmm die. */
START_TEST(every_device_thread_kind_may_raise_interrupts)
{
	char err[512];
	const enum seccomp_kind kinds[] = {SECCOMP_MAIN, SECCOMP_VCPU, SECCOMP_NET_IO, SECCOMP_IRQ_POLLER};
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		int st = in_child(kinds[i], raise_interrupts_on_devnull, err, sizeof(err));
		ck_assert_msg(exited_with(st) == 0, "%s: status %#x: %s", seccomp_kind_name(kinds[i]), st, err);
	}
}
END_TEST

START_TEST(only_vcpus_may_run_the_guest)
{
	char err[512];
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		int st = in_child(k, kvm_run_on_devnull, err, sizeof(err));
		if (k == SECCOMP_VCPU) {
			ck_assert_int_eq(exited_with(st), 0);
			continue;
		}
		ck_assert_int_eq(exited_with(st), 1);
		assert_report(err, seccomp_kind_name(k), "ioctl");
		ck_assert_msg(strstr(err, "request 0xae80)"), "report: \"%s\"", err);
	}
}
END_TEST

/* A tun ioctl on /dev/null: the filter judges the request, the kernel answers ENOTTY. */
static void tun_ioctl_on_devnull(unsigned long req)
{
	struct ifreq_like {
		char b[40];
	} ifr = {{0}};
	ioctl(devnull, req, &ifr);
}

static void tun_setiff_on_devnull(enum seccomp_kind k)
{
	(void)k;
	tun_ioctl_on_devnull(TUNSETIFF);
}

START_TEST(no_kind_may_attach_a_new_tap_after_setup)
{
	char err[512];
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		ck_assert_int_eq(exited_with(in_child(k, tun_setiff_on_devnull, err, sizeof(err))), 1);
		assert_report(err, seccomp_kind_name(k), "ioctl");
	}
}
END_TEST

static void tun_setqueue_on_devnull(enum seccomp_kind k)
{
	(void)k;
	tun_ioctl_on_devnull(TUNSETQUEUE);
}

/* A multi-queue tap's queues are attached at activation (main) and switched by each pair's own
 * I/O thread (VQ_PAIRS_SET); vCPUs and pollers never. */
START_TEST(main_and_net_io_switch_tap_queues_and_no_other_kind)
{
	char err[512];
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		int st = exited_with(in_child(k, tun_setqueue_on_devnull, err, sizeof(err)));
		if (k == SECCOMP_MAIN || k == SECCOMP_NET_IO) {
			ck_assert_msg(st == 0, "%s: status %d: %s", seccomp_kind_name(k), st, err);
		} else {
			ck_assert_int_eq(st, 1);
			assert_report(err, seccomp_kind_name(k), "ioctl");
		}
	}
}
END_TEST

static void inet_socket(enum seccomp_kind k)
{
	(void)k;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		_exit(4);
	close(s);
}

static void packet_socket(enum seccomp_kind k)
{
	(void)k;
	socket(AF_PACKET, SOCK_RAW, 0);
}

START_TEST(net_io_opens_inet_sockets_for_slirp_and_nothing_else)
{
	char err[512];
	ck_assert_int_eq(exited_with(in_child(SECCOMP_NET_IO, inet_socket, err, sizeof(err))), 0);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(exited_with(in_child(SECCOMP_NET_IO, packet_socket, err, sizeof(err))), 1);
	assert_report(err, "net-io", "socket");
	ck_assert_int_eq(exited_with(in_child(SECCOMP_VCPU, inet_socket, err, sizeof(err))), 1);
	assert_report(err, "vcpu", "socket");
	ck_assert_int_eq(exited_with(in_child(SECCOMP_IRQ_POLLER, inet_socket, err, sizeof(err))), 1);
	assert_report(err, "irq-poller", "socket");
}
END_TEST

static void exec_mapping(enum seccomp_kind k)
{
	(void)k;
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

START_TEST(no_kind_maps_executable_memory)
{
	char err[512];
	for (int k = 0; k < SECCOMP_KINDS; k++) {
		ck_assert_int_eq(exited_with(in_child(k, exec_mapping, err, sizeof(err))), 1);
		assert_report(err, seccomp_kind_name(k), "mmap");
	}
}
END_TEST

static void *net_io_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "net0-io");
	if (seccomp_enter(SECCOMP_NET_IO))
		_exit(5);
	int e = eventfd(0, 0); /* main's list has eventfd2, net-io's does not */
	(void)e;
	return NULL;
}

static void main_spawns_net_io(enum seccomp_kind k)
{
	(void)k;
	pthread_t t;
	/* clone3 gets ENOSYS, glibc falls back to clone with CLONE_THREAD. */
	if (pthread_create(&t, NULL, net_io_thread, NULL))
		_exit(6);
	pthread_join(t, NULL);
}

START_TEST(main_creates_net_io_threads_which_then_follow_their_own_list)
{
	char err[512];
	ck_assert_int_eq(exited_with(in_child(SECCOMP_MAIN, main_spawns_net_io, err, sizeof(err))), 1);
	assert_report(err, "net-io", "eventfd2");
	ck_assert_msg(strstr(err, "thread net0-io "), "report: \"%s\"", err);
}
END_TEST

static void spawn(enum seccomp_kind k)
{
	(void)k;
	pthread_t t;
	/* Refused with EPERM rather than trapped: pthread_create blocks SIGSYS around clone. */
	_exit(pthread_create(&t, NULL, nothing, NULL) == EPERM ? 7 : 8);
}

START_TEST(only_main_creates_threads)
{
	char err[512];
	for (int k = 0; k < SECCOMP_KINDS; k++)
		if (k != SECCOMP_MAIN)
			ck_assert_int_eq(exited_with(in_child(k, spawn, err, sizeof(err))), 7);
}
END_TEST

static pthread_barrier_t both;

static void *vcpu_violates(void *arg)
{
	(void)arg;
	if (seccomp_enter(SECCOMP_VCPU))
		_exit(5);
	pthread_barrier_wait(&both);
	syscall(SYS_personality, 0xffffffffUL);
	return NULL;
}

static void two_vcpus_violate_at_once(enum seccomp_kind k)
{
	(void)k;
	pthread_t t[2];
	pthread_barrier_init(&both, NULL, 2);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, vcpu_violates, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

START_TEST(two_threads_violating_at_once_leave_one_line)
{
	char err[512];
	ck_assert_int_eq(exited_with(in_child(SECCOMP_MAIN, two_vcpus_violate_at_once, err, sizeof(err))), 1);
	assert_report(err, "vcpu", "personality");
}
END_TEST

/* ---- the userspace datapath under the lists: main activates, net-io moves frames ---- */

static struct fake_net *FN;

static void main_runs_a_nic(enum seccomp_kind k)
{
	(void)k;
	struct virtio_dev *v = &FN->n.vdev;
	uint8_t frame[12 + 200] = {0}, got[512];
	uint64_t one = 1;
	for (int round = 0; round < 2; round++) {
		/* Activation as the main loop does it: the net-io thread is created under main's
		 * list and installs its own. */
		if (v->ops->start(v))
			_exit(20);
		frame[20] = (uint8_t)round;
		struct fake_seg tx[] = {FAKE_OUT(frame, sizeof(frame))};
		fake_ring_send(&FN->fr[NET_Q_TX], tx, 1);
		if (write(FN->kick[NET_Q_TX], &one, 8) != 8)
			_exit(21);
		struct pollfd p = {.fd = FN->wire, .events = POLLIN};
		if (poll(&p, 1, 2000) != 1 || recv(FN->wire, got, sizeof(got), 0) != (ssize_t)sizeof(frame) ||
		    got[20] != round)
			_exit(22);
		if (send(FN->wire, frame, sizeof(frame), 0) != (ssize_t)sizeof(frame))
			_exit(23);
		struct fake_seg rx[] = {FAKE_IN(2048)};
		fake_ring_send(&FN->fr[NET_Q_RX], rx, 1);
		if (write(FN->kick[NET_Q_RX], &one, 8) != 8 || !fake_ring_wait_used(&FN->fr[NET_Q_RX], round + 1))
			_exit(24);
		uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
		struct fake_seg c[] = {FAKE_OUT(cmd, 3), FAKE_IN(1)};
		fake_ring_send(&FN->fr[NET_Q_CTRL], c, 2);
		if (write(FN->kick[NET_Q_CTRL], &one, 8) != 8 ||
		    !fake_ring_wait_used(&FN->fr[NET_Q_CTRL], round + 1))
			_exit(25);
		v->ops->stop(v);
	}
}

START_TEST(main_activates_a_nic_and_its_io_thread_moves_frames_under_their_lists)
{
	FN = fake_net_new(16, 1 << 20);
	struct net_opts opts = {.kind = NET_TAP, .ifname = "tap7"};
	ck_assert_int_eq(fake_net_create(FN, &opts), 0);
	fake_net_negotiate(FN, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_NET_F_MAC |
				   1ULL << VIRTIO_NET_F_CTRL_VQ | 1ULL << VIRTIO_NET_F_CTRL_RX |
				   1ULL << VIRTIO_NET_F_MRG_RXBUF);
	char err[512];
	int st = in_child(SECCOMP_MAIN, main_runs_a_nic, err, sizeof(err));
	fake_net_free(FN, true);
	ck_assert_msg(exited_with(st) == 0, "status %#x: %s", st, err);
	ck_assert_str_eq(err, "");
}
END_TEST

/* Two pairs: VQ_PAIRS_SET on pair 0's net-io thread, and pair 1's thread attaching and detaching
 * its queue with a real TUNSETQUEUE (on /dev/null: ENOTTY if the filter let it through). */
static struct net_backend_ops mq_ops;

static int mq_queue_enable(struct net_backend *be, bool on)
{
	tun_ioctl_on_devnull(TUNSETQUEUE);
	return fake_net_backend_ops.queue_enable(be, on);
}

static void main_runs_a_two_pair_nic(enum seccomp_kind k)
{
	(void)k;
	struct virtio_dev *v = &FN->n.vdev;
	uint64_t one = 1;
	uint64_t n;
	if (v->ops->start(v))
		_exit(40);
	/* Start detached pair 1 (main, synchronously): that change is counted already. */
	if (read(FN->attach_fd, &n, 8) != 8)
		_exit(43);
	for (int i = 0; i < 2; i++) {
		uint8_t cmd[4] = {VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET, (uint8_t)(2 - i), 0};
		struct fake_seg c[] = {FAKE_OUT(cmd, 4), FAKE_IN(1)};
		fake_ring_send(&FN->fr[4], c, 2);
		if (write(FN->kick[4], &one, 8) != 8 || !fake_ring_wait_used(&FN->fr[4], i + 1))
			_exit(41);
		struct pollfd p = {.fd = FN->attach_fd, .events = POLLIN};
		if (poll(&p, 1, 5000) != 1 || read(FN->attach_fd, &n, 8) != 8 ||
		    __atomic_load_n(&FN->attached[1], __ATOMIC_ACQUIRE) != (i == 0))
			_exit(42);
	}
	v->ops->stop(v);
}

START_TEST(pair_threads_switch_their_tap_queue_under_the_net_io_list)
{
	FN = fake_net_new_pairs(2, 16, 1 << 20);
	struct net_opts opts = {.kind = NET_TAP, .ifname = "tap7", .queues = 2};
	ck_assert_int_eq(fake_net_create(FN, &opts), 0);
	fake_net_negotiate(FN, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_NET_F_MAC |
				   1ULL << VIRTIO_NET_F_CTRL_VQ | 1ULL << VIRTIO_NET_F_MQ);
	mq_ops = fake_net_backend_ops;
	mq_ops.queue_enable = mq_queue_enable;
	FN->n.be.ops = &mq_ops;
	for (int i = 0; i < 2; i++)
		FN->n.pair[i].be.ops = &mq_ops;
	char err[512];
	int st = in_child(SECCOMP_MAIN, main_runs_a_two_pair_nic, err, sizeof(err));
	fake_net_free(FN, true);
	ck_assert_msg(exited_with(st) == 0, "status %#x: %s", st, err);
	ck_assert_str_eq(err, "");
}
END_TEST

/* vhost's ioctls for real, on /dev/null: the filter sees the request numbers vhost_net.c uses;
 * ENOTTY is the kernel's answer when it let one through, a trap ends the child. */
static int vhost_devnull_ioctl(int fd, unsigned long req, void *arg)
{
	(void)fd;
	ioctl(devnull, req, arg);
	if (req == VHOST_GET_FEATURES)
		*(uint64_t *)arg = ~0ULL;
	return 0;
}

static const struct vhost_ops vhost_devnull = {.ioctl = vhost_devnull_ioctl};

static void main_starts_and_stops_vhost(enum seccomp_kind k)
{
	(void)k;
	struct virtio_dev *v = &FN->n.vdev;
	for (int round = 0; round < 2; round++) {
		if (v->ops->start(v))
			_exit(30);
		v->ops->stop(v);
	}
}

START_TEST(main_drives_vhost_and_only_main_may)
{
	FN = fake_net_new(16, 1 << 20);
	struct net_opts opts = {.kind = NET_TAP, .ifname = "tap7"};
	ck_assert_int_eq(fake_net_create(FN, &opts), 0);
	fake_net_negotiate(FN, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_NET_F_MAC |
				   1ULL << VIRTIO_NET_F_CTRL_VQ);
	vhost_net_set_ops(&vhost_devnull);
	FN->n.datapath = &vhost_net_datapath;
	FN->n.pair[0].vhost_fd = 1000; /* any: the ioctls go to /dev/null */
	char err[512];
	int st = in_child(SECCOMP_MAIN, main_starts_and_stops_vhost, err, sizeof(err));
	int io = in_child(SECCOMP_NET_IO, main_starts_and_stops_vhost, err + 256, 256);
	FN->n.pair[0].vhost_fd = -1;
	vhost_net_set_ops(NULL);
	fake_net_free(FN, true);
	ck_assert_msg(exited_with(st) == 0, "status %#x: %s", st, err);
	ck_assert_int_eq(exited_with(io), 1);
	assert_report(err + 256, "net-io", "ioctl");
}
END_TEST

/* The interrupt and doorbell calls device models make (vmm/irq.c, ioeventfd.c), for real on
 * /dev/null: the filter judges the request numbers, the kernel answers ENOTTY. */
static int kvm_efd;

static void device_model_kvm_calls(enum seccomp_kind k)
{
	(void)k;
	irq_line(4, 1);
	int gsi = irq_msi_alloc();
	irq_msi_set(gsi, 0xfee00000, 0x41); /* KVM_SET_GSI_ROUTING */
	irq_msi_signal(0xfee00000, 0x41);
	irq_irqfd(kvm_efd, gsi, 1);
	ioeventfd_mmio(kvm_efd, 0xe0000000, 2, true);
}

static void poller_kvm_calls(enum seccomp_kind k)
{
	(void)k;
	irq_line(4, 1);
	irq_msi_signal(0xfee00000, 0x41);
	irq_irqfd(kvm_efd, 40, 1); /* routing is the vCPU's (MSI-X writes) and main's, not the poller's */
}

START_TEST(vcpus_reach_kvm_interrupts_and_doorbells_pollers_only_inject)
{
	char err[512];
	int nul = open("/dev/null", O_RDWR);
	kvm_efd = eventfd(0, 0);
	irq_init(nul);
	ioeventfd_init(nul);
	int v = in_child(SECCOMP_VCPU, device_model_kvm_calls, err, sizeof(err));
	ck_assert_msg(exited_with(v) == 0, "status %#x: %s", v, err);
	int m = in_child(SECCOMP_MAIN, device_model_kvm_calls, err, sizeof(err));
	ck_assert_msg(exited_with(m) == 0, "status %#x: %s", m, err);
	int p = in_child(SECCOMP_IRQ_POLLER, poller_kvm_calls, err, sizeof(err));
	ioeventfd_init(-1);
	irq_init(-1);
	close(nul);
	close(kvm_efd);
	ck_assert_int_eq(exited_with(p), 1);
	assert_report(err, "irq-poller", "ioctl");
	ck_assert_msg(strstr(err, "request 0x4020ae76)"), "report: %s", err); /* KVM_IRQFD */
}
END_TEST

/* QMP (vmm/qmp.c) serving a client from the main loop under main's list: accept, a timer per
 * client, recv/send, close, and the socket removed at the end. */
static bool qmp_quit;
static const char *q_status(void *o)
{
	(void)o;
	return "running";
}
static void q_quit(void *o)
{
	(void)o;
	qmp_quit = true;
}
static const struct qmp_ops q_ops = {.status = q_status, .quit = q_quit};

static void qmp_say(int fd, const char *msg, char *reply, size_t cap)
{
	if (msg)
		ck_assert_int_eq(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	size_t n = 0;
	while (n < cap - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ck_assert_int_eq(poll(&p, 1, 5000), 1);
		ssize_t r = read(fd, reply + n, 1);
		ck_assert_int_eq(r, 1);
		if (reply[n++] == '\n')
			break;
	}
	reply[n] = 0;
}

START_TEST(qmp_serves_a_client_under_mains_list)
{
	char dir[] = "/tmp/test_seccomp.XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	int ready[2], errp[2];
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(errp), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(errp[1], STDERR_FILENO);
		pthread_t t;
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
		struct loop *l = loop_new();
		struct qmp *q;
		if (!l || qmp_open(&q, path, l, &q_ops, NULL) || seccomp_setup(true) ||
		    seccomp_enter(SECCOMP_MAIN))
			_exit(3);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		for (int i = 0; i < 400 && !qmp_quit; i++)
			loop_run_once(l, 25);
		qmp_flush(q, 1000);
		qmp_close(q);
		_exit(qmp_quit ? 0 : 5);
	}
	close(errp[1]);
	char c, line[512];
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	qmp_say(fd, NULL, line, sizeof(line));
	ck_assert_msg(strstr(line, "\"QMP\""), "greeting: %s", line);
	qmp_say(fd, "{\"execute\": \"qmp_capabilities\"}\n", line, sizeof(line));
	ck_assert_msg(!strncmp(line, "{\"return\": {}}", 14), "reply: %s", line);
	qmp_say(fd, "{\"execute\": \"query-status\"}\n", line, sizeof(line));
	ck_assert_msg(strstr(line, "running"), "status: %s", line);
	qmp_say(fd, "{\"execute\": \"quit\"}\n", line, sizeof(line));
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	char err[512];
	ssize_t n = read(errp[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = 0;
	close(fd);
	rmdir(dir);
	ck_assert_msg(exited_with(st) == 0, "status %#x: %s", st, err);
	ck_assert_int_ne(access(path, F_OK), 0); /* removed at close, under the filter */
}
END_TEST

START_TEST(off_installs_nothing)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (seccomp_setup(false) || seccomp_enter(SECCOMP_VCPU))
			_exit(3);
		syscall(SYS_personality, 0xffffffffUL);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(exited_with(st), 0);
}
END_TEST

UNIT_MAIN("seccomp", every_kind_reports_a_call_outside_its_list_in_one_line,
	  test_hook_makes_the_named_kind_violate_on_entry, only_vcpus_may_run_the_guest,
	  every_device_thread_kind_may_raise_interrupts,
	  no_kind_may_attach_a_new_tap_after_setup, main_and_net_io_switch_tap_queues_and_no_other_kind,
	  net_io_opens_inet_sockets_for_slirp_and_nothing_else,
	  no_kind_maps_executable_memory, main_creates_net_io_threads_which_then_follow_their_own_list,
	  only_main_creates_threads, two_threads_violating_at_once_leave_one_line,
	  main_activates_a_nic_and_its_io_thread_moves_frames_under_their_lists,
	  pair_threads_switch_their_tap_queue_under_the_net_io_list,
	  main_drives_vhost_and_only_main_may, vcpus_reach_kvm_interrupts_and_doorbells_pollers_only_inject,
	  qmp_serves_a_client_under_mains_list, off_installs_nothing)
