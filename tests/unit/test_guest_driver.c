/* test_guest_driver.c: the datapath bench's in-process driver (tests/bench/datapath/) moves
 * frames through the real virtio-net device and a real tap intact, both ways, with the vnet header
 * each frame was sent with: so the bench measures frames that arrive. Every case runs twice: in
 * TCase "userspace" through the userspace loop, in TCase "vhost" through vhost-net (the same
 * driver: kicks on the kick eventfds vhost polls, interrupts from the call eventfds it signals).
 *
 * Needs root and /dev/net/tun (a tap in a private network namespace, as the bench uses): without
 * them it prints a "SKIP:" line and runs no checks; MINIVMM_REQUIRE_TAP=1 makes that a failure.
 * The vhost TCase needs /dev/vhost-net: without it a "SKIP:" line says so (this development
 * machine has none; `make bench-datapath DP_MODE=testhost` runs it inside the test host, which
 * has), and MINIVMM_REQUIRE_VHOST=1 makes that a failure. CK_RUN_CASE=vhost runs only those.
 * Every frame is numbered and checked byte for byte (dp_frame_check) in order, so a lost,
 * repeated, reordered or corrupted frame, or a changed offload field, fails the test. Producer
 * and consumer are paced by a credit window, so nothing may be dropped for lack of room. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/bench/datapath/dp_frame.h"
#include "tests/bench/datapath/guest_driver.h"
#include "tests/bench/datapath/tap_peer.h"
#include "tests/bench/datapath/tcp_ack.h"
#include "tests/unit/unit.h"

#define TAP_NAME "mvgd0"
#define WINDOW	 64

static struct tap_peer peer;
static struct guest_driver g;
static bool vhost; /* this TCase's datapath: vhost-net, else the userspace loop */

/* Frame sizes, and how many of each go each way. */
static const uint32_t sizes[] = {64, 1500, 65536};
static const uint64_t counts[] = {3000, 3000, 300};
/* RX of linear frames from an AF_PACKET source; GSO frames come from a TCP stream instead (an
 * injected GSO frame is SKB_GSO_DODGY, which tun does not take: the kernel would segment it). */
static const uint32_t rx_sizes[] = {64, 1500, 1514};

static void setup(void)
{
	ck_assert_int_eq(tap_peer_create(&peer, TAP_NAME, 64 << 20), 0);
	ck_assert_int_eq(gd_init(&g), 0);
}

static void setup_userspace(void)
{
	vhost = false;
	setup();
}

static void setup_vhost(void)
{
	vhost = true;
	setup();
}

/* gd_open() on this TCase's datapath, and that datapath is the one running the rings. */
static void open_device(uint32_t len)
{
	ck_assert_int_eq(gd_open(&g, TAP_NAME, vhost, len), 0);
	ck_assert_str_eq(g.n.datapath->name, vhost ? "vhost" : "userspace");
}

static void teardown(void)
{
	gd_free(&g);
	tap_peer_destroy(&peer);
}

START_TEST(tx_frames_reach_the_tap_in_order_intact_with_their_vnet_header)
{
	uint32_t len = sizes[_i];
	uint64_t n = counts[_i];
	struct credit cr;
	pthread_t drv;
	char why[256];
	size_t cap = sizeof(struct virtio_net_hdr) + DP_MAX_LEN + 64;
	uint8_t *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	credit_init(&cr, WINDOW);
	g.verify = true;
	g.limit = n;
	g.credit = &cr;
	g.tx_burst = 1;
	open_device(len);
	ck_assert_int_eq(pthread_create(&drv, NULL, gd_tx_main, &g), 0);
	for (uint64_t i = 0; i < n; i++) {
		/* Blocking: a frame that never comes ends the test by Check's timeout. */
		ssize_t r = recv(peer.sink, buf, cap, 0);
		ck_assert_int_eq(r, (ssize_t)(sizeof(struct virtio_net_hdr) + len));
		const struct virtio_net_hdr *h = (const void *)buf;
		ck_assert_msg(dp_frame_hdr_check(h, len, why, sizeof(why)), "frame %llu: %s",
			      (unsigned long long)i, why);
		struct iovec iov = {buf + sizeof(*h), len};
		uint32_t seq;
		ck_assert_msg(dp_frame_check(&iov, 1, 0, len, &seq, why, sizeof(why)), "%s", why);
		ck_assert_uint_eq(seq, i);
		credit_return(&cr, 1);
	}
	pthread_join(drv, NULL);
	ck_assert_msg(g.bad == 0, "driver: %s", g.why);
	ck_assert_uint_eq(g.tx_sent, n);
	ck_assert_int_eq(g.needs_reset, 0);
	/* Nothing more than was sent. */
	ck_assert_int_lt(recv(peer.sink, buf, cap, MSG_DONTWAIT), 0);
	ck_assert_int_eq(errno, EAGAIN);
	/* vhost moves (and counts) frames in the kernel: the device's counters stay 0 then. */
	ck_assert_uint_eq(g.n.stats[NET_Q_TX].packets, vhost ? 0 : n);
	ck_assert_uint_eq(g.n.stats[NET_Q_TX].drops, 0);
	gd_close(&g);
	free(buf);
}
END_TEST

START_TEST(rx_frames_reach_the_guest_in_order_intact_with_their_vnet_header)
{
	uint32_t len = rx_sizes[_i];
	uint64_t n = counts[0];
	struct credit cr;
	struct tap_source src = {.peer = &peer, .len = len, .verify = true, .limit = n, .credit = &cr};
	pthread_t drv, s;
	credit_init(&cr, WINDOW);
	g.verify = true;
	g.limit = n;
	g.credit = &cr;
	open_device(len);
	ck_assert_int_eq(pthread_create(&drv, NULL, gd_rx_main, &g), 0);
	ck_assert_int_eq(pthread_create(&s, NULL, tap_peer_source_main, &src), 0);
	pthread_join(s, NULL);
	pthread_join(drv, NULL);
	ck_assert_msg(src.err == 0, "source: %s", strerror(src.err));
	ck_assert_uint_eq(src.sent, n);
	/* dp_frame_check and the header check ran on every frame, in order. */
	ck_assert_msg(g.bad == 0, "driver: %llu bad frames, first: %s", (unsigned long long)g.bad, g.why);
	ck_assert_uint_eq(g.rx_frames, n);
	ck_assert_uint_eq(g.rx_bytes, n * len);
	ck_assert_int_eq(g.needs_reset, 0);
	ck_assert_uint_eq(g.n.stats[NET_Q_RX].drops, 0);
	gd_close(&g);
}
END_TEST

START_TEST(rx_gso_frames_of_a_tcp_stream_reach_the_guest_intact_with_their_vnet_header)
{
	uint64_t n = 400;
	struct tcp_ack ta = {.verify = true};
	struct tcp_source src;
	pthread_t drv, s;
	tap_peer_tcp_init(&src);
	g.verify = true;
	g.limit = n;
	g.credit = NULL;
	g.tcp = &ta;
	open_device(DP_MAX_LEN);
	ck_assert_int_eq(pthread_create(&drv, NULL, gd_rx_main, &g), 0);
	ck_assert_int_eq(pthread_create(&s, NULL, tap_peer_tcp_main, &src), 0);
	/* The driver stops after n frames; then the sender is cut off. */
	pthread_join(drv, NULL);
	tap_peer_tcp_stop(&src);
	pthread_join(s, NULL);
	tap_peer_tcp_done(&src);
	ck_assert_msg(src.err == 0, "source: %s", strerror(src.err));
	ck_assert_msg(g.bad == 0, "driver: %s", g.why);
	/* Every in-order segment's bytes and vnet header were checked (tcp_ack.c). */
	ck_assert_msg(ta.bad == 0, "%llu bad segments, first: %s", (unsigned long long)ta.bad, ta.why);
	ck_assert_uint_eq(g.rx_frames, n);
	ck_assert_uint_eq(ta.out_of_order, 0);
	ck_assert_uint_ge(ta.data_frames, n - 2);
	/* The point of this case: whole GSO frames, not segments. */
	ck_assert_uint_gt(ta.gso_frames, n / 2);
	ck_assert_uint_gt(g.rx_bytes / g.rx_frames, 16 * TCP_ACK_MSS);
	ck_assert_uint_eq(g.tx_acks_lost, 0);
	gd_close(&g);
}
END_TEST

/* The three cases on one datapath. No timing is judged: the timeout only ends a test that hangs
 * on a lost frame, within the test host's 150 s stall watchdog when run there. */
static TCase *datapath_tcase(const char *name, void (*setup)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, tx_frames_reach_the_tap_in_order_intact_with_their_vnet_header, 0, 3);
	tcase_add_loop_test(tc, rx_frames_reach_the_guest_in_order_intact_with_their_vnet_header, 0, 3);
	tcase_add_test(tc, rx_gso_frames_of_a_tcp_stream_reach_the_guest_intact_with_their_vnet_header);
	return tc;
}

static bool required(const char *var)
{
	const char *v = getenv(var);
	return v && *v == '1';
}

int main(void)
{
	bool can = geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0;
	bool vhost_ok = access("/dev/vhost-net", R_OK | W_OK) == 0;
	if (!can) {
		printf("SKIP: test_guest_driver needs root and /dev/net/tun\n");
		if (required("MINIVMM_REQUIRE_TAP"))
			return 1;
	} else if (!vhost_ok) {
		printf("SKIP: test_guest_driver's vhost cases (no /dev/vhost-net: %s)\n", strerror(errno));
		if (required("MINIVMM_REQUIRE_VHOST"))
			return 1;
	}
	/* The tap and its sockets live in a namespace of their own, shared by the forked tests. */
	if (can && tap_peer_netns() < 0)
		return 1;
	Suite *s = suite_create("guest_driver");
	if (can)
		suite_add_tcase(s, datapath_tcase("userspace", setup_userspace));
	if (can && vhost_ok)
		suite_add_tcase(s, datapath_tcase("vhost", setup_vhost));
	return unit_run(s);
}
