/* fake_net.c: a virtio-net device over fake rings, a socketpair backend and a fake transport (see
 * fake_net.h). */
#include "tests/unit/fake_net.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static ssize_t fnb_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	if (((struct fake_net *)be->priv)->eagain)
		return -EAGAIN;
	ssize_t n = writev(be->fd, iov, iovcnt);
	return n < 0 ? -errno : n;
}

static ssize_t fnb_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	((struct fake_net *)be->priv)->recvs++;
	/* MSG_TRUNC: a frame longer than iov reports its whole length, as a tap's read() does. */
	struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n = recvmsg(be->fd, &m, MSG_TRUNC);
	return n < 0 ? -errno : n;
}

static int fnb_set_offloads(struct net_backend *be, uint64_t f)
{
	struct fake_net *t = be->priv;
	if (t->n_offloads_set < 8)
		t->offloads_set[t->n_offloads_set++] = f;
	return 0;
}

static uint64_t fnb_offload_features(struct net_backend *be)
{
	return ((struct fake_net *)be->priv)->be_offloads;
}

static int fnb_queue_enable(struct net_backend *be, bool on)
{
	struct fake_net *t = be->priv;
	uint64_t one = 1;
	for (int p = 0; p < t->pairs; p++) {
		if (t->be_fds[p] != be->fd)
			continue;
		__atomic_store_n(&t->attached[p], on, __ATOMIC_RELEASE);
		__atomic_add_fetch(&t->attach_calls, 1, __ATOMIC_ACQ_REL);
		if (write(t->attach_fd, &one, sizeof(one)) != sizeof(one))
			return -EIO;
		return 0;
	}
	return -EBADF;
}

static void fnb_close(struct net_backend *be)
{
	struct fake_net *t = be->priv;
	t->be_closes++;
	for (int p = 1; p < be->queues; p++)
		close(be->qfd[p]);
	close(be->fd);
	be->fd = -1;
}

const struct net_backend_ops fake_net_backend_ops = {
    .name = "socketpair",
    .send = fnb_send,
    .recv = fnb_recv,
    .set_offloads = fnb_set_offloads,
    .offload_features = fnb_offload_features,
    .queue_enable = fnb_queue_enable,
    .close = fnb_close,
};

static int fnt_kick_fd(struct virtio_dev *vdev, int q)
{
	return ((struct fake_net *)vdev->transport)->kick[q];
}

static int fnt_call_fd(struct virtio_dev *vdev, int q)
{
	return ((struct fake_net *)vdev->transport)->call[q];
}

static void fnt_config_changed(struct virtio_dev *vdev)
{
	((struct fake_net *)vdev->transport)->config_changes++;
}

static void fnt_needs_reset(struct virtio_dev *vdev)
{
	((struct fake_net *)vdev->transport)->needs_reset++;
}

const struct virtio_transport_ops fake_net_transport_ops = {
    .kick_fd = fnt_kick_fd,
    .call_fd = fnt_call_fd,
    .config_changed = fnt_config_changed,
    .needs_reset = fnt_needs_reset,
};

struct fake_net *fake_net_new(uint16_t qsize, uint64_t data_bytes)
{
	return fake_net_new_pairs(1, qsize, data_bytes);
}

struct fake_net *fake_net_new_pairs(int pairs, uint16_t qsize, uint64_t data_bytes)
{
	struct fake_net *t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	ck_assert(pairs >= 1 && pairs <= NET_MAX_PAIRS);
	t->pairs = pairs;
	t->wire = -1;
	for (int p = 0; p < NET_MAX_PAIRS; p++)
		t->wires[p] = t->be_fds[p] = -1;
	t->attach_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ck_assert_int_ge(t->attach_fd, 0);
	for (int q = 0; q < 2 * pairs + 1; q++) {
		t->kick[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		t->call[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		ck_assert_int_ge(t->kick[q], 0);
		ck_assert_int_ge(t->call[q], 0);
		fake_ring_init(&t->fr[q], qsize, data_bytes);
	}
	return t;
}

int fake_net_create(struct fake_net *t, const struct net_opts *opts)
{
	struct net_backend be = {.ops = &fake_net_backend_ops, .priv = t, .queues = t->pairs};
	for (int p = 0; p < t->pairs; p++) {
		int sv[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
		/* Room for several 64 KiB frames in flight. */
		int sz = 1 << 20;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		t->wires[p] = sv[1];
		t->be_fds[p] = be.qfd[p] = sv[0];
		t->attached[p] = true;
	}
	t->wire = t->wires[0];
	be.fd = be.qfd[0];
	int r = virtio_net_init_backend(&t->n, opts, 0, &t->fr[t->mem_q].mem, &be);
	if (r < 0)
		return r;
	t->n.vdev.tops = &fake_net_transport_ops;
	t->n.vdev.transport = t;
	return 0;
}

void fake_net_negotiate(struct fake_net *t, uint64_t features)
{
	for (int q = 0; q < 2 * t->pairs + 1; q++)
		ck_assert_int_eq(fake_ring_attach(&t->fr[q], &t->n.vdev.vq[q], features), 0);
	ck_assert_int_eq(t->n.vdev.ops->set_features(&t->n.vdev, features), 0);
	t->n.vdev.features = features;
}

void fake_net_free(struct fake_net *t, bool created)
{
	if (created)
		virtio_net_free(&t->n);
	for (int p = 0; p < t->pairs; p++)
		if (t->wires[p] >= 0)
			close(t->wires[p]);
	close(t->attach_fd);
	for (int q = 0; q < 2 * t->pairs + 1; q++) {
		fake_ring_free(&t->fr[q]);
		close(t->kick[q]);
		close(t->call[q]);
	}
	free(t);
}
