/* test_tap_real.c: the tap backend (devices/net/tap.c) against the real /dev/net/tun.
 *
 * Needs root (CAP_NET_ADMIN) and /dev/net/tun, so it is its own binary: without them it prints a
 * "SKIP:" line and runs no checks ("Checks: 0"); with MINIVMM_REQUIRE_TAP=1 in the environment a
 * missing tap is a failure instead. Frames are exchanged with an AF_PACKET socket bound to the
 * tap, so no addresses or routes are involved. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "devices/net/net_backend.h"
#include "tests/unit/unit.h"
#include "vmm/config.h"

#define HDR	 ((int)sizeof(struct virtio_net_hdr_v1))
#define TAP_NAME "mvmtest0"

static struct net_backend be;
static int pkt = -1; /* AF_PACKET socket on the tap: the "network" side */

static void link_up(const char *name)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ck_assert_int_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

static void setup(void)
{
	struct net_opts o = {.kind = NET_TAP, .ifname = TAP_NAME};
	ck_assert_int_eq(net_backend_open(&be, &o), 0);
	link_up(TAP_NAME);
	pkt = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ck_assert_int_ge(pkt, 0);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = (int)if_nametoindex(TAP_NAME)};
	ck_assert_int_ne(sll.sll_ifindex, 0);
	ck_assert_int_eq(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
}

static void teardown(void)
{
	close(pkt);
	be.ops->close(&be);
}

/* An Ethernet frame with a private EtherType the kernel's stacks ignore. */
static size_t make_frame(uint8_t *f, size_t payload, uint8_t seed)
{
	static const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 0x01}, src[6] = {0x02, 0, 0, 0, 0, 0x02};
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = 0x88;
	f[13] = 0xb5; /* IEEE local experimental */
	for (size_t i = 0; i < payload; i++)
		f[14 + i] = (uint8_t)(i + seed);
	return 14 + payload;
}

START_TEST(tap_offers_checksum_and_tso_offloads)
{
	uint64_t f = be.ops->offload_features(&be);
	ck_assert(f & (1ULL << VIRTIO_NET_F_CSUM));
	ck_assert(f & (1ULL << VIRTIO_NET_F_GUEST_CSUM));
	ck_assert(f & (1ULL << VIRTIO_NET_F_HOST_TSO4));
	ck_assert(f & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
	ck_assert_int_eq(be.ops->set_offloads(&be, f), 0);
	ck_assert_int_eq(be.ops->set_offloads(&be, 0), 0);
	ck_assert_int_ge(be.fd, 0);
	ck_assert_int_ne(fcntl(be.fd, F_GETFL) & O_NONBLOCK, 0);
}
END_TEST

START_TEST(tap_send_puts_the_frame_without_its_vnet_header_on_the_link)
{
	struct virtio_net_hdr_v1 h = {0};
	uint8_t f[1514], got[2048];
	size_t len = make_frame(f, 1000, 3);
	struct iovec iov[2] = {{&h, HDR}, {f, len}};
	ck_assert_int_eq(be.ops->send(&be, iov, 2), HDR + (ssize_t)len);
	/* Skip whatever else the kernel put on the link (IPv6 autoconfiguration). */
	for (int i = 0; i < 50; i++) {
		struct pollfd p = {.fd = pkt, .events = POLLIN};
		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		ssize_t n = recv(pkt, got, sizeof(got), 0);
		if (n == (ssize_t)len && got[12] == 0x88 && got[13] == 0xb5) {
			ck_assert_mem_eq(got, f, len);
			return;
		}
	}
	ck_abort_msg("frame never seen on the tap's link");
}
END_TEST

START_TEST(tap_recv_returns_vnet_header_then_frame_and_eagain_when_empty)
{
	uint8_t f[600], buf[HDR + 65550];
	size_t len = make_frame(f, 500, 9);
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(TAP_NAME), .sll_halen = 6};
	ck_assert_int_eq(sendto(pkt, f, len, 0, (struct sockaddr *)&sll, sizeof(sll)), (ssize_t)len);
	struct iovec iov = {buf, sizeof(buf)};
	for (int i = 0; i < 50; i++) {
		struct pollfd p = {.fd = be.fd, .events = POLLIN};
		ck_assert_int_eq(poll(&p, 1, 2000), 1);
		ssize_t n = be.ops->recv(&be, &iov, 1);
		ck_assert_int_gt(n, HDR);
		if (n == HDR + (ssize_t)len && buf[HDR + 12] == 0x88) {
			struct virtio_net_hdr_v1 *h = (void *)buf;
			ck_assert_uint_eq(h->gso_type, VIRTIO_NET_HDR_GSO_NONE);
			ck_assert_mem_eq(buf + HDR, f, len);
			while (be.ops->recv(&be, &iov, 1) > 0)
				;
			ck_assert_int_eq(be.ops->recv(&be, &iov, 1), -EAGAIN);
			return;
		}
	}
	ck_abort_msg("frame never read from the tap");
}
END_TEST

START_TEST(tap_open_of_a_busy_tap_fails_with_errno)
{
	struct net_backend b2;
	struct net_opts o = {.kind = NET_TAP, .ifname = TAP_NAME};
	/* Attached already (no IFF_MULTI_QUEUE): the kernel says EBUSY. */
	ck_assert_int_eq(net_backend_open(&b2, &o), -EBUSY);
}
END_TEST

/* A persistent tap owned by uid owner (multi_queue or not), made as root. */
static void persistent_tap(const char *name, uid_t owner, bool mq, bool keep)
{
	int fd = open("/dev/net/tun", O_RDWR);
	ck_assert_int_ge(fd, 0);
	struct ifreq ifr = {0};
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (mq ? IFF_MULTI_QUEUE : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	if (keep) {
		ck_assert_int_eq(ioctl(fd, TUNSETOWNER, (unsigned long)owner), 0);
		ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	} else {
		ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 0), 0);
	}
	close(fd);
}

/* Queue q's view of a multi-queue backend, as the device's pairs use it. */
static struct net_backend tap_queue(const struct net_backend *b, int q)
{
	struct net_backend v = *b;
	v.fd = b->qfd[q];
	return v;
}

/* net_backend_open() of name with `queues` in a child (as uid, 0 = root), then, if that worked,
 * a detach and an attach of queue 1: its result (-errno of the first failure), and its stderr. */
static int open_queues_as(uid_t uid, const char *name, int queues, char *err, size_t cap)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid)))
			_exit(100);
		struct net_backend b;
		struct net_opts o = {.kind = NET_TAP, .queues = (uint8_t)queues};
		strncpy(o.ifname, name, sizeof(o.ifname) - 1);
		int r = net_backend_open(&b, &o);
		if (r == 0 && queues > 1) {
			struct net_backend q1 = tap_queue(&b, 1);
			r = b.ops->queue_enable(&q1, false);
			if (r == 0)
				r = b.ops->queue_enable(&q1, true);
		}
		_exit(-r);
	}
	close(p[1]);
	int st = unit_child_collect(pid, p[0], err, cap);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(a_tap_owned_by_the_user_needs_no_privilege)
{
	char err[512];
	struct stat st;
	ck_assert_int_eq(stat("/dev/net/tun", &st), 0);
	if ((st.st_mode & 0006) != 0006) {
		/* Not the usual 0666 (a container): then that is what the one line says. */
		persistent_tap("mvmtest1", 65534, false, true);
		int r = open_queues_as(65534, "mvmtest1", 1, err, sizeof(err));
		persistent_tap("mvmtest1", 0, false, false);
		ck_assert_int_eq(r, EACCES);
		ck_assert_msg(strstr(err, "chmod 666 /dev/net/tun"), "message: %s", err);
		return;
	}
	persistent_tap("mvmtest1", 65534, false, true);
	persistent_tap("mvmtest2", 65534, true, true);
	persistent_tap("mvmtest3", 0, false, true);
	int own = open_queues_as(65534, "mvmtest1", 1, err, sizeof(err));
	int mq = open_queues_as(65534, "mvmtest2", 1, err, sizeof(err));
	int other = open_queues_as(65534, "mvmtest3", 1, err, sizeof(err));
	persistent_tap("mvmtest1", 0, false, false);
	persistent_tap("mvmtest2", 0, true, false);
	persistent_tap("mvmtest3", 0, false, false);
	ck_assert_int_eq(own, 0);
	ck_assert_int_eq(mq, 0); /* created with multi_queue: attached as one queue */
	ck_assert_int_eq(other, EPERM);
	/* One line that names the privilege and how to do without it. */
	ck_assert_msg(strstr(err, "CAP_NET_ADMIN") && strstr(err, "ip tuntap add dev mvmtest3 mode tap user"),
		      "message: %s", err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
}
END_TEST

/* ---- multi-queue (queues=N) ---- */

/* Queues the kernel counts as attached: tun sets the interface's real queue count to them. */
static int tap_attached_queues(const char *name)
{
	char path[96];
	int n = 0;
	for (int q = 0; q < 64; q++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d", name, q);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* TUNGETIFF on one queue's fd: its flags (a detached queue has IFF_DETACH_QUEUE), or -errno. */
static int tap_queue_flags(int fd)
{
	struct ifreq ifr = {0};
	return ioctl(fd, TUNGETIFF, &ifr) < 0 ? -errno : ifr.ifr_flags;
}

START_TEST(queues_open_one_attached_multi_queue_fd_each)
{
	struct net_backend b;
	struct net_opts o = {.kind = NET_TAP, .ifname = "mvmtestq0", .queues = 3};
	ck_assert_int_eq(net_backend_open(&b, &o), 0);
	ck_assert_int_eq(b.queues, 3);
	ck_assert_int_eq(b.qfd[0], b.fd);
	for (int q = 0; q < 3; q++) {
		int f = tap_queue_flags(b.qfd[q]);
		ck_assert_int_ge(f, 0);
		ck_assert(f & IFF_MULTI_QUEUE);
		ck_assert(f & IFF_VNET_HDR);
		ck_assert(!(f & IFF_DETACH_QUEUE));
	}
	ck_assert_int_eq(tap_attached_queues("mvmtestq0"), 3);
	b.ops->close(&b);
	/* Every queue's fd closed: the tap minivmm made is gone. */
	ck_assert_uint_eq(if_nametoindex("mvmtestq0"), 0);
}
END_TEST

/* Sends n UDP/IPv4 frames of n flows (source ports 1000..) to dport 9999 on the tap's link. */
static void send_flows(int s, const char *name, int n)
{
	struct sockaddr_ll sll = {
	    .sll_family = AF_PACKET, .sll_ifindex = (int)if_nametoindex(name), .sll_halen = 6};
	for (int i = 0; i < n; i++) {
		/* Ethernet (IPv4), then IPv4 10.99.0.1 -> 10.99.0.2, UDP. */
		uint8_t f[14 + 20 + 8 + 4] = {0x02, 0, 0,  0,  0, 1, 0x02, 0, 0, 0,  0,  2, 0x08, 0x00,
					      0x45, 0, 0,  32, 0, 0, 0,    0, 64, 17, 0, 0, 10,   99,
					      0,    1, 10, 99, 0, 2};
		f[34] = (uint8_t)((1000 + i) >> 8);
		f[35] = (uint8_t)(1000 + i);
		f[36] = 9999 >> 8;
		f[37] = 9999 & 0xff;
		f[39] = 12;
		memcpy(f + 42, "MVMQ", 4);
		ck_assert_int_eq(sendto(s, f, sizeof(f), 0, (struct sockaddr *)&sll, sizeof(sll)),
				 (ssize_t)sizeof(f));
	}
}

/* Reads queue fds until `want` of send_flows()' frames arrived (or 2 s pass without one);
 * got[q] = how many came on queue q. */
static void count_flows(const struct net_backend *b, int queues, int want, int *got)
{
	uint8_t buf[HDR + 2048];
	struct iovec iov = {buf, sizeof(buf)};
	struct pollfd p[CONFIG_MAX_QUEUES];
	int total = 0;
	for (int q = 0; q < queues; q++) {
		got[q] = 0;
		p[q] = (struct pollfd){.fd = b->qfd[q], .events = POLLIN};
	}
	while (total < want && poll(p, (nfds_t)queues, 2000) > 0) {
		for (int q = 0; q < queues; q++) {
			struct net_backend v = tap_queue(b, q);
			ssize_t n;
			if (!(p[q].revents & POLLIN))
				continue;
			while ((n = v.ops->recv(&v, &iov, 1)) > 0)
				if (n == HDR + 46 && !memcmp(buf + HDR + 42, "MVMQ", 4)) {
					got[q]++;
					total++;
				}
		}
	}
}

/* The kernel steers frames only to attached queues: 32 flows spread over both (all on one would
 * be a 2^-31 chance), and with queue 1 detached (the interface counts one queue, TUNGETIFF says
 * IFF_DETACH_QUEUE) every one reaches queue 0; attached again, it is counted again. */
START_TEST(detached_queue_gets_no_frames_until_attached_again)
{
	struct net_backend b;
	struct net_opts o = {.kind = NET_TAP, .ifname = "mvmtestq1", .queues = 2};
	int got[2];
	ck_assert_int_eq(net_backend_open(&b, &o), 0);
	link_up("mvmtestq1");
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	ck_assert_int_ge(s, 0);
	send_flows(s, "mvmtestq1", 32);
	count_flows(&b, 2, 32, got);
	ck_assert_int_eq(got[0] + got[1], 32);
	ck_assert_int_gt(got[0], 0);
	ck_assert_int_gt(got[1], 0);
	struct net_backend q1 = tap_queue(&b, 1);
	ck_assert_int_eq(b.ops->queue_enable(&q1, false), 0);
	ck_assert_int_eq(tap_attached_queues("mvmtestq1"), 1);
	ck_assert_int_eq(tap_queue_flags(b.qfd[1]) & IFF_DETACH_QUEUE, IFF_DETACH_QUEUE);
	ck_assert_int_eq(tap_queue_flags(b.qfd[0]) & IFF_DETACH_QUEUE, 0);
	send_flows(s, "mvmtestq1", 32);
	count_flows(&b, 1, 32, got);
	ck_assert_int_eq(got[0], 32);
	ck_assert_int_eq(b.ops->queue_enable(&q1, true), 0);
	ck_assert_int_eq(tap_attached_queues("mvmtestq1"), 2);
	ck_assert_int_eq(tap_queue_flags(b.qfd[1]) & IFF_DETACH_QUEUE, 0);
	close(s);
	b.ops->close(&b);
}
END_TEST

START_TEST(queues_on_a_single_queue_tap_is_refused_in_one_line)
{
	char err[512];
	persistent_tap("mvmtestq2", 0, false, true);
	int r = open_queues_as(0, "mvmtestq2", 2, err, sizeof(err));
	bool still = if_nametoindex("mvmtestq2") != 0;
	persistent_tap("mvmtestq2", 0, false, false);
	ck_assert_int_eq(r, EINVAL);
	ck_assert_msg(strstr(err, "queues=2 needs a multi-queue tap, and mvmtestq2 is not one"),
		      "message: %s", err);
	ck_assert_msg(strchr(err, '\n') == err + strlen(err) - 1, "not one line: %s", err);
	ck_assert(still);
}
END_TEST

/* The owner of a multi_queue tap opens its queues and detaches/attaches them without privilege
 * (what --runas, or a user's own tap, needs for VQ_PAIRS_SET). */
START_TEST(the_owner_of_a_multi_queue_tap_switches_its_queues_unprivileged)
{
	char err[512];
	struct stat st;
	ck_assert_int_eq(stat("/dev/net/tun", &st), 0);
	if ((st.st_mode & 0006) != 0006)
		return; /* not the usual 0666 (a container): nobody cannot open it at all (see above) */
	persistent_tap("mvmtestq3", 65534, true, true);
	int r = open_queues_as(65534, "mvmtestq3", 2, err, sizeof(err));
	persistent_tap("mvmtestq3", 0, true, false);
	ck_assert_msg(r == 0, "exit %d: %s", r, err);
}
END_TEST

int main(void)
{
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0) {
		const char *req = getenv("MINIVMM_REQUIRE_TAP");
		printf("SKIP: test_tap_real needs root and /dev/net/tun\n");
		if (req && *req == '1')
			return 1;
	}
	Suite *s = suite_create("tap_real");
	TCase *tc = tcase_create("tap");
	if (geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0) {
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, tap_offers_checksum_and_tso_offloads);
		tcase_add_test(tc, tap_send_puts_the_frame_without_its_vnet_header_on_the_link);
		tcase_add_test(tc, tap_recv_returns_vnet_header_then_frame_and_eagain_when_empty);
		tcase_add_test(tc, tap_open_of_a_busy_tap_fails_with_errno);
	}
	suite_add_tcase(s, tc);
	TCase *unpriv = tcase_create("unprivileged");
	if (geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0)
		tcase_add_test(unpriv, a_tap_owned_by_the_user_needs_no_privilege);
	suite_add_tcase(s, unpriv);
	TCase *mq = tcase_create("multi_queue");
	if (geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0) {
		tcase_add_test(mq, queues_open_one_attached_multi_queue_fd_each);
		tcase_add_test(mq, detached_queue_gets_no_frames_until_attached_again);
		tcase_add_test(mq, queues_on_a_single_queue_tap_is_refused_in_one_line);
		tcase_add_test(mq, the_owner_of_a_multi_queue_tap_switches_its_queues_unprivileged);
	}
	suite_add_tcase(s, mq);
	return unit_run(s);
}
