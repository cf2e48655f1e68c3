/* fuzz_net_dev.c: the virtio-net device fixture of the fuzz targets (fuzz_net_dev.h). */
#include "tests/fuzz/fuzz_net_dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "devices/net/net_loop.h"
#include "tests/fuzz/fuzz_mem.h"
#include "tests/fuzz/fuzz_work.h"
#include "vmm/loop.h"
#include "vmm/seccomp.h"
#include "vmm/vm.h"

/* --- threads become steps --- */

static bool capture_threads;
static unsigned long captured;
#define FAKE_THREAD_BASE 0xf0220000ul

int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __real_pthread_join(pthread_t th, void **ret);

int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	if (!capture_threads)
		return __real_pthread_create(th, attr, fn, arg);
	*th = (pthread_t)(FAKE_THREAD_BASE + (captured++ & 0xffff));
	return 0;
}

int __wrap_pthread_join(pthread_t th, void **ret)
{
	if ((unsigned long)th - FAKE_THREAD_BASE <= 0xffff) {
		if (ret)
			*ret = NULL;
		return 0;
	}
	return __real_pthread_join(th, ret);
}

/* The bodies of those threads (net_io_thread, the transport's poller_main) never run here; they
 * reference these, which the fuzz targets do not link the real ones of (vmm/seccomp.c, vm.c). */
int seccomp_enter(enum seccomp_kind kind)
{
	FUZZ_CHECK(0, "seccomp_enter(%d): a device thread body ran", kind);
	return -1;
}

void vm_request_exit(int status, const char *why)
{
	FUZZ_CHECK(0, "vm_request_exit(%d, %s): a device thread body ran", status, why);
}

/* --- stderr that counts lines --- */

static FILE *real_stderr;
static uint64_t log_lines;

static ssize_t counting_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	for (size_t i = 0; i < len; i++)
		log_lines += buf[i] == '\n';
	return fwrite(buf, 1, len, real_stderr);
}

static void log_count_start(void)
{
	if (!real_stderr) {
		FILE *f = fopencookie(NULL, "w", (cookie_io_functions_t){.write = counting_write});
		FUZZ_CHECK(f, "fopencookie");
		setvbuf(f, NULL, _IONBF, 0);
		real_stderr = stderr;
		stderr = f;
	}
	log_lines = 0;
}

void fuzz_net_check_log(void)
{
	/* FUZZ_LOG_MAX=N in the environment: another bound, to look past a known flood. */
	static long max;
	if (!max) {
		const char *s = getenv("FUZZ_LOG_MAX");
		max = s && atol(s) > 0 ? atol(s) : FUZZ_LOG_MAX;
	}
	FUZZ_CHECK(log_lines <= (uint64_t)max, "%llu lines on stderr from one input (at most %ld)",
		   (unsigned long long)log_lines, max);
}

/* --- a backend that counts --- */

static struct net_backend_ops counting_ops;

static ssize_t counting_send(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	fuzz_work_send();
	return fake_net_backend_ops.send(be, iov, iovcnt);
}

static ssize_t counting_recv(struct net_backend *be, const struct iovec *iov, int iovcnt)
{
	fuzz_work_recv();
	return fake_net_backend_ops.recv(be, iov, iovcnt);
}

static int net_running(void *opaque)
{
	struct virtio_net *n = opaque;
	return n->pair[0].running || n->pair[0].dp_started;
}

struct fake_net *fuzz_net_new(const struct guest_mem *gm, uint64_t be_offloads)
{
	capture_threads = true;
	log_count_start();
	counting_ops = fake_net_backend_ops;
	counting_ops.send = counting_send;
	counting_ops.recv = counting_recv;
	/* fake_net's own rings stay unused: the fuzz rings live in the fenced memory. */
	struct fake_net *t = fake_net_new(1, 16);
	t->be_offloads = be_offloads;
	struct net_opts o = {.kind = NET_TAP, .ifname = "fuzz0", .vhost = VHOST_OFF};
	FUZZ_CHECK(fake_net_create(t, &o) == 0, "cannot create the device");
	t->n.be.ops = &counting_ops;
	t->n.pair[0].be.ops = &counting_ops; /* pair 0's view of the backend */
	t->n.vdev.mem = gm;
	fuzz_work_set_running(net_running, &t->n);
	fuzz_work_set_queues(t->n.vdev.vq, NET_NUM_QUEUES);
	return t;
}

void fuzz_net_free(struct fake_net *t)
{
	if (getenv("FUZZ_VERBOSE"))
		virtio_net_stats_print(&t->n, stderr);
	fake_net_free(t, true);
	fuzz_work_forget();
}

int fuzz_net_io_step(struct fake_net *t, uint16_t queue_size)
{
	/* Up to one handler per watched fd (wake, ctrl/tx/rx kicks, backend), each a datapath
	 * round of at most a budget, and the round a budget deferred (loop_defer) last time. */
	uint64_t rounds = 6;
	fuzz_work_begin("I/O thread round", rounds * fuzz_work_max_pops(NET_RX_BUDGET, queue_size),
			rounds * (NET_TX_BUDGET + 1), rounds * 2 * (NET_RX_BUDGET + 1));
	return loop_run_once(t->n.pair[0].loop, 0);
}

void fuzz_net_wire_send(struct fake_net *t, struct fuzz_in *in, uint16_t max_len)
{
	static uint8_t frame[65536];
	size_t len = fuzz_u16(in) % (max_len + 1u);
	fuzz_bytes(in, frame, len);
	/* A full socket drops the frame, as a busy tap would. */
	if (send(t->wire, frame, len, MSG_DONTWAIT) < 0)
		FUZZ_CHECK(errno == EAGAIN || errno == ENOBUFS, "wire send: %d", errno);
}

void fuzz_net_wire_drain(struct fake_net *t)
{
	static uint8_t frame[NET_RX_MAX];
	ssize_t n;
	while ((n = recv(t->wire, frame, sizeof(frame), MSG_DONTWAIT)) >= 0)
		FUZZ_CHECK(n >= (ssize_t)NET_HDR_LEN, "device sent a %zd-byte frame, less than a vnet header",
			   n);
}
