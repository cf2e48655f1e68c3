/* test_vhost_net.c: the vhost-net datapath (devices/net/vhost_net.c) and its selection, with a
 * recording fake in place of /dev/vhost-net, fake rings for the queues and a socketpair for the
 * tap. No root, no vhost module needed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "devices/net/net_loop.h"
#include "devices/net/vhost_net.h"
#include "devices/virtio/virtio_net.h"
#include "tests/unit/fake_net.h"
#include "tests/unit/fake_ring.h"
#include "tests/unit/unit.h"
#include "vmm/seccomp.h"

#define BIT(f) (1ULL << (f))
#define RING_BITS                                                                                            \
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |         \
	 BIT(VIRTIO_NET_F_MRG_RXBUF))
#define OFFLOADS                                                                                             \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |               \
	 BIT(VIRTIO_NET_F_GUEST_TSO4))
/* What a Linux guest accepts from us over a tap with offloads. */
#define GUEST_FEATURES                                                                                       \
	(RING_BITS | OFFLOADS | BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) |                           \
	 BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_CTRL_RX) | BIT(VIRTIO_NET_F_CTRL_MAC_ADDR) |           \
	 BIT(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) | BIT(VIRTIO_NET_F_MTU))
/* What a current kernel's vhost-net offers (VHOST_NET_FEATURES), bit 27 included. */
#define VHOST_OFFER                                                                                          \
	(RING_BITS | BIT(VIRTIO_F_NOTIFY_ON_EMPTY) | BIT(VHOST_F_LOG_ALL) |                                  \
	 BIT(VHOST_NET_F_VIRTIO_NET_HDR) | BIT(VIRTIO_F_ACCESS_PLATFORM))
#define FAKE_VHOST_FD 77
/* Entries of the call log that are not ioctls (no vhost ioctl number is that small). */
#define FV_OPEN	 1UL
#define FV_CLOSE 2UL

/* ---- the recording fake /dev/vhost-net ---- */

/* One open(), ioctl() or close(), in the order they happened. */
struct vcall {
	unsigned long req; /* the ioctl, FV_OPEN or FV_CLOSE */
	int fd;
	pid_t tid; /* the calling thread */
	bool had_arg;
	uint64_t u64;
	struct vhost_vring_state st;
	struct vhost_vring_addr addr;
	struct vhost_vring_file file;
	uint32_t nregions;
	struct vhost_memory_region reg[4];
};

static struct {
	struct vcall c[128];
	int n;
	int opens, closes, fds_open; /* over the whole test: vrec_reset() keeps them */
	int open_err;		     /* open() returns this when non-zero */
	uint64_t offer;		     /* GET_FEATURES answer */
	int fail_at;		     /* index (in c[]) of the ioctl that fails, -1 for none */
	int fail_err;
	unsigned base[2]; /* GET_VRING_BASE answers */
	/* SET_OWNER, kept apart from c[]: once per instance, at its first start, not part of any
	 * start's sequence. How many, on which thread, at which length of c[], answering own_err. */
	int owns, own_at, own_err;
	pid_t own_tid;
} V;

/* Empties the call log; the open/close counts go on. */
static void vrec_reset(void)
{
	V.n = 0;
	V.fail_at = -1;
}

static struct vcall *vrec(unsigned long req, int fd)
{
	ck_assert_int_lt(V.n, 128);
	struct vcall *c = &V.c[V.n++];
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->fd = fd;
	c->tid = (pid_t)syscall(SYS_gettid);
	return c;
}

static int fv_open(void)
{
	if (V.open_err)
		return V.open_err;
	/* One NIC, one vhost instance at a time. */
	ck_assert_int_eq(V.fds_open, 0);
	V.opens++;
	V.fds_open++;
	vrec(FV_OPEN, FAKE_VHOST_FD);
	return FAKE_VHOST_FD;
}

static int fv_close(int fd)
{
	ck_assert_int_eq(fd, FAKE_VHOST_FD);
	ck_assert_int_eq(V.fds_open, 1);
	V.closes++;
	V.fds_open--;
	vrec(FV_CLOSE, fd);
	return 0;
}

static int fv_ioctl(int fd, unsigned long req, void *arg)
{
	ck_assert_int_eq(fd, FAKE_VHOST_FD);
	ck_assert_int_eq(V.fds_open, 1);
	if (req == VHOST_SET_OWNER) {
		ck_assert_ptr_null(arg); /* SET_OWNER takes no argument */
		V.owns++;
		V.own_at = V.n;
		V.own_tid = (pid_t)syscall(SYS_gettid);
		return V.own_err;
	}
	struct vcall *c = vrec(req, fd);
	c->had_arg = arg != NULL;
	switch (req) {
	case VHOST_SET_FEATURES:
		c->u64 = *(uint64_t *)arg;
		break;
	case VHOST_SET_MEM_TABLE: {
		const struct vhost_memory *m = arg;
		c->nregions = m->nregions;
		for (uint32_t i = 0; i < m->nregions && i < 4; i++)
			c->reg[i] = m->regions[i];
		break;
	}
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
		c->st = *(struct vhost_vring_state *)arg;
		break;
	case VHOST_SET_VRING_ADDR:
		c->addr = *(struct vhost_vring_addr *)arg;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
	case VHOST_SET_VRING_ERR:
	case VHOST_NET_SET_BACKEND:
		c->file = *(struct vhost_vring_file *)arg;
		break;
	default:
		break;
	}
	if (V.n - 1 == V.fail_at)
		return V.fail_err;
	if (req == VHOST_GET_FEATURES)
		*(uint64_t *)arg = V.offer;
	if (req == VHOST_GET_VRING_BASE) {
		struct vhost_vring_state *s = arg;
		ck_assert_uint_lt(s->index, 2);
		s->num = V.base[s->index];
	}
	return 0;
}

static const struct vhost_ops fake_vhost = {.open = fv_open, .ioctl = fv_ioctl, .close = fv_close};

/* ---- a device over fake rings, a socketpair tap and eventfds from a fake transport ---- */

static struct fake_net *T;

/* stderr of the last capture. */
static char err_text[4096];
static int err_saved = -1;
static FILE *err_tmp;

static void capture_begin(void)
{
	err_tmp = tmpfile();
	ck_assert_ptr_nonnull(err_tmp);
	fflush(stderr);
	err_saved = dup(2);
	ck_assert_int_eq(dup2(fileno(err_tmp), 2), 2);
}

static void capture_end(void)
{
	fflush(stderr);
	dup2(err_saved, 2);
	close(err_saved);
	rewind(err_tmp);
	size_t n = fread(err_text, 1, sizeof(err_text) - 1, err_tmp);
	err_text[n] = 0;
	fclose(err_tmp);
}

static int lines(const char *s)
{
	int k = 0;
	for (; *s; s++)
		k += *s == '\n';
	return k;
}

/* Creates the device with opts.vhost = mode (stderr captured into err_text). Returns
 * virtio_net_init_backend()'s result; on success the queues are set up as if the driver accepted
 * `features`. */
static int tnet_create(enum net_kind kind, enum vhost_mode mode, uint64_t features)
{
	T = fake_net_new(64, 1 << 16);
	T->be_offloads = OFFLOADS;
	struct net_opts opts = {.kind = kind, .ifname = "tap7", .vhost = mode, .mtu = 1500};
	capture_begin();
	int r = fake_net_create(T, &opts);
	capture_end();
	if (r < 0)
		return r;
	fake_net_negotiate(T, features);
	return 0;
}

/* A vhost device the driver set up with GUEST_FEATURES; recording starts after creation. */
static void tnet_open_vhost(void)
{
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_ON, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &vhost_net_datapath);
	vrec_reset();
}

static void tnet_close(bool created)
{
	fake_net_free(T, created);
	T = NULL;
}

static void setup(void)
{
	memset(&V, 0, sizeof(V));
	V.offer = VHOST_OFFER;
	V.fail_at = -1;
	vhost_net_set_ops(&fake_vhost);
}

static void teardown(void)
{
	vhost_net_set_ops(NULL);
}

static int start(void)
{
	return T->n.vdev.ops->start(&T->n.vdev);
}

static void stop(void)
{
	T->n.vdev.ops->stop(&T->n.vdev);
}

/* Checks that c[i..i+5] set up ring q as the fake rings and the transport have it. */
static void assert_ring_setup(int i, int q)
{
	struct fake_ring *fr = &T->fr[q];
	ck_assert_uint_eq(V.c[i].req, VHOST_SET_VRING_NUM);
	ck_assert_uint_eq(V.c[i].st.index, q);
	ck_assert_uint_eq(V.c[i].st.num, 64);
	ck_assert_uint_eq(V.c[i + 1].req, VHOST_SET_VRING_BASE);
	ck_assert_uint_eq(V.c[i + 1].st.index, q);
	ck_assert_uint_eq(V.c[i + 1].st.num, T->n.vdev.vq[q].last_avail);
	ck_assert_uint_eq(V.c[i + 2].req, VHOST_SET_VRING_ADDR);
	ck_assert_uint_eq(V.c[i + 2].addr.index, q);
	ck_assert_uint_eq(V.c[i + 2].addr.flags, 0);
	ck_assert_uint_eq(V.c[i + 2].addr.desc_user_addr,
			  (uintptr_t)fake_ring_host(fr, fr->desc_gpa, 16 * 64));
	ck_assert_uint_eq(V.c[i + 2].addr.avail_user_addr,
			  (uintptr_t)fake_ring_host(fr, fr->avail_gpa, 6 + 2 * 64));
	ck_assert_uint_eq(V.c[i + 2].addr.used_user_addr,
			  (uintptr_t)fake_ring_host(fr, fr->used_gpa, 6 + 8 * 64));
	ck_assert_uint_eq(V.c[i + 3].req, VHOST_SET_VRING_KICK);
	ck_assert_uint_eq(V.c[i + 3].file.index, q);
	ck_assert_int_eq(V.c[i + 3].file.fd, T->kick[q]);
	ck_assert_uint_eq(V.c[i + 4].req, VHOST_SET_VRING_CALL);
	ck_assert_uint_eq(V.c[i + 4].file.index, q);
	ck_assert_int_eq(V.c[i + 4].file.fd, T->call[q]);
	/* An eventfd of the device's own for ring errors. */
	ck_assert_uint_eq(V.c[i + 5].req, VHOST_SET_VRING_ERR);
	ck_assert_uint_eq(V.c[i + 5].file.index, q);
	ck_assert_int_ge(V.c[i + 5].file.fd, 0);
	ck_assert_int_ne(V.c[i + 5].file.fd, T->kick[q]);
	ck_assert_int_ne(V.c[i + 5].file.fd, T->call[q]);
}
#define RING_CALLS 6

/* The 17 calls of a start with both rx and tx set up, on the fd opened at creation: no open (and
 * SET_OWNER, at the first start only, is in V.owns). */
static void assert_start_sequence(int i)
{
	ck_assert_uint_eq(V.c[i].req, VHOST_GET_FEATURES);
	ck_assert_uint_eq(V.c[i + 1].req, VHOST_SET_FEATURES);
	ck_assert_uint_eq(V.c[i + 1].u64, RING_BITS);
	ck_assert_uint_eq(V.c[i + 2].req, VHOST_SET_MEM_TABLE);
	const struct guest_mem *m = T->n.vdev.mem;
	ck_assert_uint_eq(V.c[i + 2].nregions, m->nr);
	for (int r = 0; r < m->nr; r++) {
		ck_assert_uint_eq(V.c[i + 2].reg[r].guest_phys_addr, m->r[r].gpa);
		ck_assert_uint_eq(V.c[i + 2].reg[r].memory_size, m->r[r].size);
		ck_assert_uint_eq(V.c[i + 2].reg[r].userspace_addr, (uintptr_t)m->r[r].hva);
	}
	assert_ring_setup(i + 3, NET_Q_RX);
	assert_ring_setup(i + 3 + RING_CALLS, NET_Q_TX);
	for (int q = 0; q < 2; q++) {
		ck_assert_uint_eq(V.c[i + 3 + 2 * RING_CALLS + q].req, VHOST_NET_SET_BACKEND);
		ck_assert_uint_eq(V.c[i + 3 + 2 * RING_CALLS + q].file.index, q);
		ck_assert_int_eq(V.c[i + 3 + 2 * RING_CALLS + q].file.fd, T->n.be.fd);
	}
}
#define START_CALLS (3 + 2 * RING_CALLS + 2)

/* The 4 calls of a stop with both rings started; no close. */
static void assert_stop_sequence(int i)
{
	for (int q = 0; q < 2; q++) {
		ck_assert_uint_eq(V.c[i + q].req, VHOST_NET_SET_BACKEND);
		ck_assert_uint_eq(V.c[i + q].file.index, q);
		ck_assert_int_eq(V.c[i + q].file.fd, -1);
	}
	for (int q = 0; q < 2; q++) {
		ck_assert_uint_eq(V.c[i + 2 + q].req, VHOST_GET_VRING_BASE);
		ck_assert_uint_eq(V.c[i + 2 + q].st.index, q);
	}
}
#define STOP_CALLS 4

/* The 2 calls of a vhost NIC's creation: open and probe, on this (the creating) thread; not
 * owned yet (root may still be ours). */
static void assert_select_sequence(int i)
{
	pid_t self = (pid_t)syscall(SYS_gettid);
	ck_assert_uint_eq(V.c[i].req, FV_OPEN);
	ck_assert_uint_eq(V.c[i + 1].req, VHOST_GET_FEATURES);
	ck_assert(V.c[i + 1].had_arg);
	for (int k = 0; k < 2; k++)
		ck_assert_int_eq(V.c[i + k].tid, self);
	ck_assert_int_eq(V.owns, 0);
}

static int count_req(unsigned long req)
{
	int k = 0;
	for (int i = 0; i < V.n; i++)
		k += V.c[i].req == req;
	return k;
}

/* ---- start / stop ---- */

START_TEST(start_owns_then_sets_features_mem_table_rings_then_backends)
{
	tnet_open_vhost();
	ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
	ck_assert_int_eq(V.owns, 0);
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.n, START_CALLS);
	assert_start_sequence(0);
	/* Owned first, by the thread that starts it (main, with its final credentials). */
	ck_assert_int_eq(V.owns, 1);
	ck_assert_int_eq(V.own_at, 0);
	ck_assert_int_eq(V.own_tid, (pid_t)syscall(SYS_gettid));
	/* Not opened again. */
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.fds_open, 1);
	stop();
	tnet_close(true);
}
END_TEST

START_TEST(control_queue_is_never_handed_to_vhost_and_still_works)
{
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	for (int i = 0; i < V.n; i++) {
		ck_assert_uint_ne(V.c[i].st.index, NET_Q_CTRL);
		ck_assert_uint_ne(V.c[i].addr.index, NET_Q_CTRL);
		ck_assert_uint_ne(V.c[i].file.index, NET_Q_CTRL);
		ck_assert_int_ne(V.c[i].file.fd, T->kick[NET_Q_CTRL]);
		ck_assert_int_ne(V.c[i].file.fd, T->call[NET_Q_CTRL]);
	}
	/* The I/O thread serves it: CTRL_RX_PROMISC gets its ack. */
	uint8_t cmd[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1};
	struct fake_seg c[] = {FAKE_OUT(cmd, 3), FAKE_IN(1)};
	fake_ring_send(&T->fr[NET_Q_CTRL], c, 2);
	uint64_t one = 1;
	ck_assert_int_eq(write(T->kick[NET_Q_CTRL], &one, 8), 8);
	uint32_t id, len;
	bool got = false;
	for (int i = 0; i < 2000 && !(got = fake_ring_get_used(&T->fr[NET_Q_CTRL], &id, &len)); i++)
		usleep(1000);
	ck_assert(got);
	ck_assert_uint_eq(*(uint8_t *)fake_ring_host(&T->fr[NET_Q_CTRL], c[1].gpa, 1), VIRTIO_NET_OK);
	stop();
	ck_assert(T->n.promisc);
	tnet_close(true);
}
END_TEST

START_TEST(offloads_are_never_passed_to_vhost_but_programmed_on_the_tap)
{
	tnet_open_vhost();
	/* Even a driver feature set with bit 27 (ANY_LAYOUT = VHOST_NET_F_VIRTIO_NET_HDR). */
	T->n.vdev.features |= BIT(VIRTIO_F_ANY_LAYOUT);
	ck_assert_int_eq(start(), 0);
	ck_assert_uint_eq(V.c[1].req, VHOST_SET_FEATURES);
	ck_assert_uint_eq(V.c[1].u64, RING_BITS);
	ck_assert_uint_eq(V.c[1].u64 & BIT(VHOST_NET_F_VIRTIO_NET_HDR), 0);
	ck_assert_uint_eq(V.c[1].u64 & OFFLOADS, 0);
	/* The tap gets the GUEST_* offloads the driver accepted, as with the userspace loop. */
	ck_assert_int_eq(T->n_offloads_set, 1);
	ck_assert_uint_eq(T->offloads_set[0], BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_GUEST_TSO4));
	/* The device's own features are untouched by vhost's offer. */
	ck_assert_uint_eq(T->n.vdev.ops->features(&T->n.vdev) & OFFLOADS, OFFLOADS);
	stop();
	tnet_close(true);
}
END_TEST

START_TEST(vhost_features_are_ring_bits_of_the_driver_intersected_with_the_offer)
{
	uint64_t drv = GUEST_FEATURES | BIT(VIRTIO_F_ANY_LAYOUT);
	ck_assert_uint_eq(vhost_net_features(drv, ~0ULL), RING_BITS);
	ck_assert_uint_eq(vhost_net_features(drv, VHOST_OFFER), RING_BITS);
	/* Only what both sides have. */
	ck_assert_uint_eq(vhost_net_features(drv & ~BIT(VIRTIO_RING_F_EVENT_IDX), VHOST_OFFER),
			  RING_BITS & ~BIT(VIRTIO_RING_F_EVENT_IDX));
	ck_assert_uint_eq(vhost_net_features(drv, VHOST_OFFER & ~BIT(VIRTIO_NET_F_MRG_RXBUF)),
			  RING_BITS & ~BIT(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert_uint_eq(vhost_net_features(drv | BIT(VIRTIO_F_NOTIFY_ON_EMPTY), VHOST_OFFER),
			  RING_BITS | BIT(VIRTIO_F_NOTIFY_ON_EMPTY));
	/* Never logging, platform access or the header flag, whatever the two sides say. */
	ck_assert_uint_eq(vhost_net_features(~0ULL, ~0ULL) &
			      (BIT(VHOST_NET_F_VIRTIO_NET_HDR) | BIT(VHOST_F_LOG_ALL) |
			       BIT(VIRTIO_F_ACCESS_PLATFORM) | OFFLOADS | BIT(VIRTIO_NET_F_CTRL_VQ)),
			  0);
}
END_TEST

START_TEST(start_fails_when_vhost_lacks_a_negotiated_ring_feature_and_keeps_the_fd)
{
	tnet_open_vhost();
	V.offer = VHOST_OFFER & ~BIT(VIRTIO_RING_F_EVENT_IDX);
	capture_begin();
	ck_assert_int_eq(start(), -1);
	capture_end();
	ck_assert_ptr_nonnull(strstr(err_text, "ring features"));
	/* Asked, refused before anything was set: no ring to take back. */
	ck_assert_int_eq(V.n, 1);
	ck_assert_uint_eq(V.c[0].req, VHOST_GET_FEATURES);
	ck_assert_ptr_null(T->n.pair[0].dp);
	/* Still open and owned, and the next start (the vhost fixed) goes through. */
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.fds_open, 1);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
	V.offer = VHOST_OFFER;
	vrec_reset();
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.n, START_CALLS);
	assert_start_sequence(0);
	stop();
	ck_assert_int_eq(V.opens, 1);
	tnet_close(true);
	ck_assert_int_eq(V.closes, 1);
}
END_TEST

START_TEST(stop_detaches_the_tap_reads_ring_bases_back_and_keeps_the_fd)
{
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	V.base[NET_Q_RX] = 7;
	V.base[NET_Q_TX] = 300;
	int n0 = V.n;
	stop();
	ck_assert_int_eq(V.n, n0 + STOP_CALLS);
	assert_stop_sequence(n0);
	ck_assert_uint_eq(T->n.vdev.vq[NET_Q_RX].last_avail, 7);
	ck_assert_uint_eq(T->n.vdev.vq[NET_Q_TX].last_avail, 300);
	ck_assert_uint_eq(T->n.vdev.vq[NET_Q_CTRL].last_avail, 0);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.fds_open, 1);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
	ck_assert_ptr_null(T->n.pair[0].dp);
	ck_assert(!T->n.pair[0].running);
	/* A second stop (VMM exit after a reset) does nothing more. */
	stop();
	ck_assert_int_eq(V.n, n0 + STOP_CALLS);
	ck_assert_int_eq(V.closes, 0);
	/* Free closes it, once, with nothing else to undo. */
	virtio_net_free(&T->n);
	ck_assert_int_eq(V.n, n0 + STOP_CALLS + 1);
	ck_assert_uint_eq(V.c[n0 + STOP_CALLS].req, FV_CLOSE);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
	tnet_close(false);
}
END_TEST

START_TEST(restart_after_stop_reuses_the_owned_vhost_and_repeats_the_setup)
{
	tnet_open_vhost();
	for (int round = 0; round < 3; round++) {
		int n0 = V.n;
		uint16_t rx = T->n.vdev.vq[NET_Q_RX].last_avail, tx = T->n.vdev.vq[NET_Q_TX].last_avail;
		ck_assert_int_eq(start(), 0);
		ck_assert_int_eq(V.n, n0 + START_CALLS);
		assert_start_sequence(n0);
		/* vhost resumes where the last stop read it back. */
		ck_assert_uint_eq(V.c[n0 + 4].st.num, rx);
		ck_assert_uint_eq(V.c[n0 + 4 + RING_CALLS].st.num, tx);
		ck_assert_uint_eq(rx, round ? 10 * round + 1 : 0);
		ck_assert_uint_eq(tx, round ? 20 * round + 2 : 0);
		V.base[NET_Q_RX] = 10 * (round + 1) + 1;
		V.base[NET_Q_TX] = 20 * (round + 1) + 2;
		stop();
		ck_assert_int_eq(V.n, n0 + START_CALLS + STOP_CALLS);
		assert_stop_sequence(n0 + START_CALLS);
		ck_assert_int_eq(V.opens, 1);
		ck_assert_int_eq(V.closes, 0);
		ck_assert_int_eq(V.fds_open, 1);
	}
	ck_assert_int_eq(count_req(FV_OPEN), 0);
	ck_assert_int_eq(V.owns, 1); /* owned once, at the first of the starts */
	int n0 = V.n;
	virtio_net_free(&T->n);
	ck_assert_int_eq(V.n, n0 + 1);
	ck_assert_uint_eq(V.c[n0].req, FV_CLOSE);
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
	tnet_close(false);
}
END_TEST

START_TEST(free_while_started_detaches_the_tap_then_closes_the_vhost)
{
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	virtio_net_free(&T->n);
	ck_assert_int_eq(V.n, START_CALLS + STOP_CALLS + 1);
	assert_stop_sequence(START_CALLS);
	ck_assert_uint_eq(V.c[START_CALLS + STOP_CALLS].req, FV_CLOSE);
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
	ck_assert_int_eq(T->be_closes, 1);
	tnet_close(false);
}
END_TEST

START_TEST(queue_the_driver_did_not_enable_is_not_handed_to_vhost)
{
	tnet_open_vhost();
	T->n.vdev.vq[NET_Q_TX].ready = false;
	ck_assert_int_eq(start(), 0);
	const int n = 3 + RING_CALLS + 1;
	ck_assert_int_eq(V.n, n);
	assert_ring_setup(3, NET_Q_RX);
	ck_assert_uint_eq(V.c[n - 1].req, VHOST_NET_SET_BACKEND);
	ck_assert_uint_eq(V.c[n - 1].file.index, NET_Q_RX);
	stop();
	ck_assert_int_eq(V.n, n + 2);
	ck_assert_uint_eq(V.c[n].req, VHOST_NET_SET_BACKEND);
	ck_assert_uint_eq(V.c[n].file.index, NET_Q_RX);
	ck_assert_uint_eq(V.c[n + 1].req, VHOST_GET_VRING_BASE);
	ck_assert_uint_eq(V.c[n + 1].st.index, NET_Q_RX);
	tnet_close(true);
}
END_TEST

/* QMP set_link: down takes the tap from vhost (no frame moves), up hands it back and kicks TX for
 * what the guest queued meanwhile; a stop while down has no tap to take back, and a start while
 * down does not hand it over. */
START_TEST(link_down_takes_the_tap_from_vhost_and_up_hands_it_back_and_kicks_tx)
{
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.n, START_CALLS);
	uint64_t v;
	while (read(T->kick[NET_Q_TX], &v, sizeof(v)) > 0)
		; /* the start's own kicks */
	virtio_net_set_link(&T->n, false);
	ck_assert_int_eq(V.n, START_CALLS + 2);
	for (int q = 0; q < 2; q++) {
		ck_assert_uint_eq(V.c[START_CALLS + q].req, VHOST_NET_SET_BACKEND);
		ck_assert_uint_eq(V.c[START_CALLS + q].file.index, q);
		ck_assert_int_eq(V.c[START_CALLS + q].file.fd, -1);
	}
	virtio_net_set_link(&T->n, false); /* no change, nothing to do */
	ck_assert_int_eq(V.n, START_CALLS + 2);
	ck_assert_int_eq(read(T->kick[NET_Q_TX], &v, sizeof(v)), -1);
	virtio_net_set_link(&T->n, true);
	ck_assert_int_eq(V.n, START_CALLS + 4);
	for (int q = 0; q < 2; q++) {
		ck_assert_uint_eq(V.c[START_CALLS + 2 + q].req, VHOST_NET_SET_BACKEND);
		ck_assert_int_eq(V.c[START_CALLS + 2 + q].file.fd, T->n.be.fd);
	}
	ck_assert_int_eq(read(T->kick[NET_Q_TX], &v, sizeof(v)), sizeof(v));

	virtio_net_set_link(&T->n, false);
	vrec_reset();
	stop();
	ck_assert_int_eq(V.n, 2); /* the ring bases only */
	ck_assert_uint_eq(V.c[0].req, VHOST_GET_VRING_BASE);
	ck_assert_uint_eq(V.c[1].req, VHOST_GET_VRING_BASE);
	vrec_reset();
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.n, START_CALLS - 2);
	for (int i = 0; i < V.n; i++)
		ck_assert_uint_ne(V.c[i].req, VHOST_NET_SET_BACKEND);
	virtio_net_set_link(&T->n, true);
	ck_assert_int_eq(V.n, START_CALLS);
	stop();
	tnet_close(true);
}
END_TEST

/* Every ioctl of the start sequence failing in turn: start returns -1 (the transport then sets
 * NEEDS_RESET), a tap already handed over is taken back, only the rings whose base this start set
 * are read back, the vhost fd stays open and owned (no close, no reopen), and the next start
 * works. */
START_TEST(ioctl_failure_at_start_fails_cleanly_and_keeps_the_owned_fd)
{
	tnet_open_vhost();
	/* What vhost would still hold from an earlier start: must not leak into the virtqs. */
	V.base[NET_Q_RX] = 7;
	V.base[NET_Q_TX] = 300;
	for (int k = 0; k < START_CALLS; k++) {
		vrec_reset();
		V.fail_at = k;
		V.fail_err = -EINVAL;
		capture_begin();
		ck_assert_int_eq(start(), -1);
		capture_end();
		ck_assert_msg(strstr(err_text, "vhost VHOST_") != NULL, "k=%d: %s", k, err_text);
		ck_assert_int_eq(V.opens, 1);
		ck_assert_int_eq(V.closes, 0);
		ck_assert_int_eq(V.fds_open, 1);
		ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
		ck_assert_int_eq(V.owns, 1);
		ck_assert_ptr_null(T->n.pair[0].dp);
		ck_assert(!T->n.pair[0].running);
		/* Nothing after the failed call but the teardown. */
		for (int i = k + 1; i < V.n; i++) {
			ck_assert(V.c[i].req == VHOST_NET_SET_BACKEND || V.c[i].req == VHOST_GET_VRING_BASE);
			if (V.c[i].req == VHOST_NET_SET_BACKEND)
				ck_assert_int_eq(V.c[i].file.fd, -1);
		}
		for (int q = 0; q < 2; q++) {
			bool handed = false, based = false, back = false, read = false;
			for (int i = 0; i < k; i++) {
				handed |=
				    V.c[i].req == VHOST_NET_SET_BACKEND && V.c[i].file.index == (unsigned)q;
				based |= V.c[i].req == VHOST_SET_VRING_BASE && V.c[i].st.index == (unsigned)q;
			}
			for (int i = k + 1; i < V.n; i++) {
				back |=
				    V.c[i].req == VHOST_NET_SET_BACKEND && V.c[i].file.index == (unsigned)q;
				read |= V.c[i].req == VHOST_GET_VRING_BASE && V.c[i].st.index == (unsigned)q;
			}
			/* Each tap handed over is taken back, and only those. */
			ck_assert_msg(back == handed, "k=%d: queue %d tap handed %d, taken back %d", k, q,
				      handed, back);
			/* A ring's position is read back iff this start set it. */
			ck_assert_msg(read == based, "k=%d: queue %d base set %d, read back %d", k, q, based,
				      read);
			ck_assert_uint_eq(T->n.vdev.vq[q].last_avail, based ? V.base[q] : 0);
		}
		/* The driver resets and sets the queues up again (virtq_init). */
		for (int q = 0; q < NET_NUM_QUEUES; q++)
			ck_assert_int_eq(fake_ring_attach(&T->fr[q], &T->n.vdev.vq[q], GUEST_FEATURES), 0);
	}
	/* And the device starts fine afterwards, on the same fd. */
	vrec_reset();
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.n, START_CALLS);
	assert_start_sequence(0);
	stop();
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 0);
	tnet_close(true);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
}
END_TEST

START_TEST(start_does_not_reopen_dev_vhost_net)
{
	tnet_open_vhost();
	/* /dev/vhost-net gone (module unloaded, permissions changed) after creation: the owned fd
	 * still serves every start. */
	V.open_err = -ENOENT;
	for (int round = 0; round < 2; round++) {
		vrec_reset();
		ck_assert_int_eq(start(), 0);
		ck_assert_int_eq(V.n, START_CALLS);
		assert_start_sequence(0);
		stop();
	}
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 0);
	tnet_close(true);
	ck_assert_int_eq(V.closes, 1);
}
END_TEST

START_TEST(irq_changes_need_no_vhost_call)
{
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	int n0 = V.n;
	for (int q = 0; q < NET_NUM_QUEUES; q++)
		T->n.vdev.ops->irq_changed(&T->n.vdev, q);
	ck_assert_int_eq(V.n, n0);
	/* The call fds vhost got are exactly the transport's call_fd of each queue. */
	for (int i = 0; i < n0; i++)
		if (V.c[i].req == VHOST_SET_VRING_CALL)
			ck_assert_int_eq(V.c[i].file.fd, T->call[V.c[i].file.index]);
	stop();
	tnet_close(true);
}
END_TEST

START_TEST(ring_error_from_vhost_marks_the_device_needs_reset)
{
	/* vhost signals a ring's error eventfd when the guest's ring is malformed and stops serving
	 * it; without VHOST_SET_VRING_ERR that stall was silent. */
	tnet_open_vhost();
	ck_assert_int_eq(start(), 0);
	for (int q = 0; q < 2; q++) {
		int fd = -1;
		for (int i = 0; i < V.n; i++)
			if (V.c[i].req == VHOST_SET_VRING_ERR && V.c[i].file.index == (unsigned)q)
				fd = V.c[i].file.fd;
		ck_assert_int_ge(fd, 0);
		uint64_t one = 1;
		ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
		/* The I/O thread sees it; the tcase timeout is the failure if it never does. */
		while (__atomic_load_n(&T->needs_reset, __ATOMIC_ACQUIRE) != q + 1)
			sched_yield();
		ck_assert(T->n.vdev.vq[q].broken);
		ck_assert_uint_eq(T->n.stats[q].broken, 1);
	}
	/* A second error on a broken ring is not reported again. */
	int fd = -1;
	for (int i = 0; i < V.n; i++)
		if (V.c[i].req == VHOST_SET_VRING_ERR && V.c[i].file.index == NET_Q_RX)
			fd = V.c[i].file.fd;
	uint64_t one = 1;
	ck_assert_int_eq(write(fd, &one, sizeof(one)), sizeof(one));
	/* Read by the I/O thread once it is no longer readable. */
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, 0) != 0)
		sched_yield();
	stop();
	ck_assert_int_eq(T->needs_reset, 2);
	tnet_close(true);
}
END_TEST

/* ---- selection ---- */

START_TEST(vhost_on_opens_and_probes_the_vhost_at_creation)
{
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_ON, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &vhost_net_datapath);
	ck_assert_int_eq(V.n, 2);
	assert_select_sequence(0);
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.fds_open, 1);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
	ck_assert_str_eq(err_text, "");
	/* Never started (never owned): free only closes it. */
	virtio_net_free(&T->n);
	ck_assert_int_eq(V.n, 3);
	ck_assert_uint_eq(V.c[2].req, FV_CLOSE);
	ck_assert_int_eq(V.owns, 0);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
	tnet_close(false);
}
END_TEST

/* Creating a vhost=on NIC fails with ERR (-errno) and one line: WHAT, the error, the way out. */
static void assert_vhost_on_creation_fails(int err, const char *what)
{
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_ON, GUEST_FEATURES), err);
	ck_assert_int_eq(lines(err_text), 1);
	ck_assert_ptr_nonnull(strstr(err_text, what));
	ck_assert_ptr_nonnull(strstr(err_text, strerror(-err)));
	ck_assert_ptr_nonnull(strstr(err_text, "load vhost_net or use vhost=off"));
}

START_TEST(vhost_on_fails_with_one_clear_line_when_it_cannot_open)
{
	V.open_err = -ENOENT;
	assert_vhost_on_creation_fails(-ENOENT, "--net tap,vhost=on: cannot open /dev/vhost-net: ");
	ck_assert_int_eq(V.n, 0);
	ck_assert_int_eq(V.opens, 0);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.fds_open, 0);
	/* The tap the device was given is closed. */
	ck_assert_int_eq(T->be_closes, 1);
	tnet_close(false);
}
END_TEST

/* GET_FEATURES failing at creation: vhost=on fails with one line and the fd closed, right after
 * the failed call. */
START_TEST(vhost_on_fails_with_one_clear_line_when_it_cannot_probe)
{
	V.fail_at = 1;
	V.fail_err = -EBUSY;
	assert_vhost_on_creation_fails(-EBUSY, "--net tap,vhost=on: /dev/vhost-net cannot drive");
	ck_assert_int_eq(V.n, 3);
	ck_assert_uint_eq(V.c[0].req, FV_OPEN);
	ck_assert_uint_eq(V.c[1].req, VHOST_GET_FEATURES);
	ck_assert_uint_eq(V.c[2].req, FV_CLOSE);
	ck_assert_int_eq(V.fds_open, 0);
	ck_assert_int_eq(V.owns, 0);
	ck_assert_int_eq(T->be_closes, 1);
	tnet_close(false);
	ck_assert_int_eq(V.closes, 1);
}
END_TEST

/* SET_OWNER failing (since Linux 6.4 it creates a thread: EAGAIN past the user's process limit):
 * that start fails, naming it, before any other call; the fd stays open, and the next start owns
 * it and goes on. */
START_TEST(a_start_that_cannot_own_fails_naming_it_and_the_next_owns)
{
	tnet_open_vhost();
	V.own_err = -EAGAIN;
	capture_begin();
	ck_assert_int_eq(start(), -1);
	capture_end();
	/* vhost's line naming the call, the device's saying the start failed. */
	ck_assert_msg(lines(err_text) == 2, "%s", err_text);
	ck_assert_ptr_nonnull(strstr(err_text, "vhost VHOST_SET_OWNER: "));
	ck_assert_ptr_nonnull(strstr(err_text, strerror(EAGAIN)));
	ck_assert_int_eq(V.owns, 1);
	ck_assert_int_eq(V.n, 0);
	ck_assert_ptr_null(T->n.pair[0].dp);
	ck_assert_int_eq(V.fds_open, 1);
	V.own_err = 0;
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.owns, 2);
	ck_assert_int_eq(V.n, START_CALLS);
	assert_start_sequence(0);
	stop();
	ck_assert_int_eq(start(), 0);
	ck_assert_int_eq(V.owns, 2);
	stop();
	tnet_close(true);
}
END_TEST

START_TEST(vhost_auto_falls_back_to_userspace_with_one_warning)
{
	V.open_err = -EACCES;
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_AUTO, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &net_loop_datapath);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
	ck_assert_int_eq(lines(err_text), 1);
	ck_assert_ptr_nonnull(strstr(err_text, "warning"));
	ck_assert_ptr_nonnull(strstr(err_text, "vhost=auto"));
	ck_assert_ptr_nonnull(strstr(err_text, "cannot open /dev/vhost-net"));
	ck_assert_ptr_nonnull(strstr(err_text, "userspace"));
	/* And it runs the userspace loop: a TX frame reaches the wire without any vhost call. */
	ck_assert_int_eq(start(), 0);
	uint8_t frame[12 + 60] = {0};
	frame[20] = 0x5a;
	struct fake_seg s[] = {FAKE_OUT(frame, sizeof(frame))};
	fake_ring_send(&T->fr[NET_Q_TX], s, 1);
	uint64_t one = 1;
	ck_assert_int_eq(write(T->kick[NET_Q_TX], &one, 8), 8);
	struct pollfd p = {.fd = T->wire, .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	uint8_t got[128];
	ck_assert_int_eq(recv(T->wire, got, sizeof(got), 0), sizeof(frame));
	ck_assert_mem_eq(got, frame, sizeof(frame));
	stop();
	tnet_close(true);
	ck_assert_int_eq(V.n, 0);
	ck_assert_int_eq(V.opens, 0);
	ck_assert_int_eq(V.closes, 0);
}
END_TEST

START_TEST(vhost_auto_falls_back_with_one_warning_when_it_cannot_probe)
{
	V.fail_at = 1; /* open, GET_FEATURES */
	V.fail_err = -EBUSY;
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_AUTO, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &net_loop_datapath);
	ck_assert_int_eq(lines(err_text), 1);
	ck_assert_ptr_nonnull(strstr(err_text, "warning"));
	ck_assert_ptr_nonnull(strstr(err_text, "vhost=auto"));
	ck_assert_ptr_nonnull(strstr(err_text, strerror(EBUSY)));
	ck_assert_ptr_nonnull(strstr(err_text, "userspace"));
	ck_assert_int_eq(V.n, 3);
	assert_select_sequence(0);
	ck_assert_uint_eq(V.c[2].req, FV_CLOSE);
	ck_assert_int_eq(V.fds_open, 0);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
	/* The userspace loop never calls vhost, and free has nothing of vhost's to close. */
	ck_assert_int_eq(start(), 0);
	stop();
	tnet_close(true);
	ck_assert_int_eq(V.n, 3);
	ck_assert_int_eq(V.opens, 1);
	ck_assert_int_eq(V.closes, 1);
}
END_TEST

START_TEST(vhost_auto_uses_vhost_when_it_opens)
{
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_AUTO, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &vhost_net_datapath);
	ck_assert_str_eq(err_text, "");
	ck_assert_int_eq(V.n, 2);
	assert_select_sequence(0);
	ck_assert_int_eq(V.fds_open, 1);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, FAKE_VHOST_FD);
	tnet_close(true);
	ck_assert_int_eq(V.closes, 1);
	ck_assert_int_eq(V.fds_open, 0);
}
END_TEST

/* Each ring feature the device offers, missing from vhost's offer: never owned, closed right
 * after GET_FEATURES; on fails the creation, auto uses the userspace loop. */
START_TEST(vhost_lacking_a_ring_feature_is_refused_or_skipped_with_the_fd_closed)
{
	static const int bits[] = {VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
				   VIRTIO_NET_F_MRG_RXBUF};
	for (unsigned b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
		V.offer = VHOST_OFFER & ~BIT(bits[b]);
		for (int mode = VHOST_ON; mode <= VHOST_AUTO; mode++) {
			vrec_reset();
			int closes = V.closes;
			int r = tnet_create(NET_TAP, mode, GUEST_FEATURES);
			ck_assert_int_eq(lines(err_text), 1);
			ck_assert_ptr_nonnull(strstr(err_text, "cannot drive virtio 1.x rings"));
			ck_assert_ptr_nonnull(strstr(err_text, strerror(EOPNOTSUPP)));
			ck_assert_int_eq(V.n, 3);
			ck_assert_uint_eq(V.c[0].req, FV_OPEN);
			ck_assert_uint_eq(V.c[1].req, VHOST_GET_FEATURES);
			ck_assert_uint_eq(V.c[2].req, FV_CLOSE);
			ck_assert_int_eq(V.closes, closes + 1);
			ck_assert_int_eq(V.fds_open, 0);
			if (mode == VHOST_ON) {
				ck_assert_int_eq(r, -EOPNOTSUPP);
				ck_assert_ptr_nonnull(strstr(err_text, "vhost=on"));
				tnet_close(false);
			} else {
				ck_assert_int_eq(r, 0);
				ck_assert_ptr_nonnull(strstr(err_text, "vhost=auto"));
				ck_assert_ptr_eq(T->n.datapath, &net_loop_datapath);
				ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
				tnet_close(true);
				ck_assert_int_eq(V.closes, closes + 1);
			}
		}
	}
}
END_TEST

START_TEST(vhost_off_never_touches_dev_vhost_net)
{
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_OFF, GUEST_FEATURES), 0);
	ck_assert_ptr_eq(T->n.datapath, &net_loop_datapath);
	ck_assert_int_eq(T->n.pair[0].vhost_fd, -1);
	ck_assert_int_eq(start(), 0);
	stop();
	tnet_close(true);
	ck_assert_int_eq(V.opens, 0);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.n, 0);
}
END_TEST

START_TEST(vhost_with_user_networking_is_an_error)
{
	for (int mode = VHOST_ON; mode <= VHOST_AUTO; mode++) {
		ck_assert_int_eq(tnet_create(NET_USER, mode, GUEST_FEATURES), -EINVAL);
		ck_assert_int_eq(lines(err_text), 1);
		ck_assert_ptr_nonnull(strstr(err_text, "tap"));
		ck_assert_int_eq(T->be_closes, 1);
		tnet_close(false);
	}
	ck_assert_int_eq(V.opens, 0);
	ck_assert_int_eq(V.closes, 0);
	ck_assert_int_eq(V.n, 0);
}
END_TEST

/* ---- stats ---- */

static char *stats_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	virtio_net_stats_print(&T->n, f);
	fclose(f);
	return buf;
}

START_TEST(stats_say_rx_and_tx_are_counted_in_the_kernel_with_vhost)
{
	tnet_open_vhost();
	char *s = stats_text();
	ck_assert_ptr_nonnull(strstr(s, "stats: net0 rx (vhost) kicks=0 interrupts=0 packets=0 bytes=0 "
					"drops=0 broken=0 (packets moved in the kernel)\n"));
	ck_assert_ptr_nonnull(strstr(s, "stats: net0 tx (vhost) kicks=0 interrupts=0 packets=0 bytes=0 "
					"drops=0 broken=0 (packets moved in the kernel)\n"));
	ck_assert_ptr_nonnull(strstr(s, "stats: net0 ctrl (vmm) kicks=0 interrupts=0 packets=0"));
	ck_assert_int_eq(lines(s), 3);
	free(s);
	tnet_close(true);
	ck_assert_int_eq(tnet_create(NET_TAP, VHOST_OFF, GUEST_FEATURES), 0);
	T->n.stats[NET_Q_TX].packets = 5;
	s = stats_text();
	ck_assert_ptr_null(strstr(s, "in the kernel"));
	ck_assert_ptr_nonnull(strstr(
	    s, "stats: net0 tx (userspace) kicks=0 interrupts=0 packets=5 bytes=0 drops=0 broken=0\n"));
	free(s);
	tnet_close(true);
}
END_TEST

/* Activation runs on the main thread under its seccomp list: every request a start/stop cycle
 * makes must be on it (a missing one kills minivmm at the guest's first DRIVER_OK with vhost).
 * The filter checks numbers only, so the requests are replayed on /dev/null in a child. */
START_TEST(every_vhost_request_of_a_start_stop_cycle_is_on_the_main_threads_seccomp_list)
{
	tnet_open_vhost();
	vrec_reset();
	ck_assert_int_eq(start(), 0);
	stop();
	unsigned long reqs[128];
	int n = 0;
	ck_assert_int_eq(V.owns, 1);
	reqs[n++] = VHOST_SET_OWNER;
	for (int i = 0; i < V.n; i++)
		if (V.c[i].req != FV_OPEN && V.c[i].req != FV_CLOSE)
			reqs[n++] = V.c[i].req;
	ck_assert_int_gt(n, 10);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || seccomp_setup(true) || seccomp_enter(SECCOMP_MAIN))
			_exit(3);
		for (int i = 0; i < n; i++)
			if (ioctl(null, reqs[i], NULL) >= 0 || errno != ENOTTY)
				_exit(4);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	tnet_close(true);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vhost_net");
	TCase *tc = tcase_create("vhost_net");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, start_owns_then_sets_features_mem_table_rings_then_backends);
	tcase_add_test(tc, control_queue_is_never_handed_to_vhost_and_still_works);
	tcase_add_test(tc, offloads_are_never_passed_to_vhost_but_programmed_on_the_tap);
	tcase_add_test(tc, vhost_features_are_ring_bits_of_the_driver_intersected_with_the_offer);
	tcase_add_test(tc, start_fails_when_vhost_lacks_a_negotiated_ring_feature_and_keeps_the_fd);
	tcase_add_test(tc, stop_detaches_the_tap_reads_ring_bases_back_and_keeps_the_fd);
	tcase_add_test(tc, restart_after_stop_reuses_the_owned_vhost_and_repeats_the_setup);
	tcase_add_test(tc, free_while_started_detaches_the_tap_then_closes_the_vhost);
	tcase_add_test(tc, queue_the_driver_did_not_enable_is_not_handed_to_vhost);
	tcase_add_test(tc, link_down_takes_the_tap_from_vhost_and_up_hands_it_back_and_kicks_tx);
	tcase_add_test(tc, ioctl_failure_at_start_fails_cleanly_and_keeps_the_owned_fd);
	tcase_add_test(tc, start_does_not_reopen_dev_vhost_net);
	tcase_add_test(tc, irq_changes_need_no_vhost_call);
	tcase_add_test(tc, ring_error_from_vhost_marks_the_device_needs_reset);
	tcase_add_test(tc, every_vhost_request_of_a_start_stop_cycle_is_on_the_main_threads_seccomp_list);
	tcase_add_test(tc, vhost_on_opens_and_probes_the_vhost_at_creation);
	tcase_add_test(tc, vhost_on_fails_with_one_clear_line_when_it_cannot_open);
	tcase_add_test(tc, vhost_on_fails_with_one_clear_line_when_it_cannot_probe);
	tcase_add_test(tc, a_start_that_cannot_own_fails_naming_it_and_the_next_owns);
	tcase_add_test(tc, vhost_auto_falls_back_to_userspace_with_one_warning);
	tcase_add_test(tc, vhost_auto_falls_back_with_one_warning_when_it_cannot_probe);
	tcase_add_test(tc, vhost_auto_uses_vhost_when_it_opens);
	tcase_add_test(tc, vhost_lacking_a_ring_feature_is_refused_or_skipped_with_the_fd_closed);
	tcase_add_test(tc, vhost_off_never_touches_dev_vhost_net);
	tcase_add_test(tc, vhost_with_user_networking_is_an_error);
	tcase_add_test(tc, stats_say_rx_and_tx_are_counted_in_the_kernel_with_vhost);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
