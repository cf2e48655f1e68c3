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

/* net_backend_open() of name as uid 65534 in a child: its result, and its stderr. */
static int open_as_nobody(const char *name, char *err, size_t cap)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], STDERR_FILENO);
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		struct net_backend b;
		struct net_opts o = {.kind = NET_TAP};
		strncpy(o.ifname, name, sizeof(o.ifname) - 1);
		int r = net_backend_open(&b, &o);
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
		int r = open_as_nobody("mvmtest1", err, sizeof(err));
		persistent_tap("mvmtest1", 0, false, false);
		ck_assert_int_eq(r, EACCES);
		ck_assert_msg(strstr(err, "chmod 666 /dev/net/tun"), "message: %s", err);
		return;
	}
	persistent_tap("mvmtest1", 65534, false, true);
	persistent_tap("mvmtest2", 65534, true, true);
	persistent_tap("mvmtest3", 0, false, true);
	int own = open_as_nobody("mvmtest1", err, sizeof(err));
	int mq = open_as_nobody("mvmtest2", err, sizeof(err));
	int other = open_as_nobody("mvmtest3", err, sizeof(err));
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
	return unit_run(s);
}
