/* test_slirp.c: the --net user backend against real libslirp, a real epoll loop and loopback
 * sockets: DHCP, ARP, TCP out to the host, hostfwd in, checksum completion and drops. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_net.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "devices/net/slirp.h"
#include "tests/unit/pkt.h"
#include "tests/unit/unit.h"
#include "vmm/config.h"
#include "vmm/loop.h"
#include "vmm/seccomp.h"

#define HDR_LEN sizeof(struct virtio_net_hdr_v1)
#define WAIT_MS 3000

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
/* slirp answers for its addresses with 52:55 followed by the IPv4 address. */
static const uint8_t slirp_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

struct fx {
	struct loop *l;
	struct net_backend be;
	int rx_ready_calls;
	uint8_t rxbuf[HDR_LEN + 65550];
};

static in_addr_t ip(const char *s)
{
	return inet_addr(s);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_rx_ready(void *opaque)
{
	((struct fx *)opaque)->rx_ready_calls++;
}

static bool sandboxed; /* the net-io filter goes on once the backend is attached */

static int fx_open(struct fx *fx, const struct net_opts *opts)
{
	memset(fx, 0, sizeof(*fx));
	fx->l = loop_new();
	ck_assert_ptr_nonnull(fx->l);
	int err = net_backend_open(&fx->be, opts); /* through the registration table */
	if (err < 0)
		return err;
	ck_assert_int_eq(fx->be.fd, -1);
	ck_assert_int_eq(fx->be.ops->attach(&fx->be, fx->l, on_rx_ready, fx), 0);
	if (sandboxed)
		ck_assert_int_eq(seccomp_enter(SECCOMP_NET_IO), 0);
	return 0;
}

static void fx_default(struct fx *fx)
{
	struct net_opts opts = {.kind = NET_USER};
	ck_assert_int_eq(fx_open(fx, &opts), 0);
}

static void fx_close(struct fx *fx)
{
	fx->be.ops->close(&fx->be);
	ck_assert_ptr_null(fx->be.priv);
	loop_free(fx->l);
}

static struct slirp_stats fx_stats(struct fx *fx)
{
	struct slirp_stats s;
	slirp_backend_stats(&fx->be, &s);
	return s;
}

/* Sends hdr + frame, the frame split over two iovecs to exercise the gather. */
static ssize_t fx_send_hdr(struct fx *fx, const struct virtio_net_hdr_v1 *hdr, const uint8_t *f, size_t len)
{
	size_t half = len / 2;
	struct iovec iov[3] = {
	    {(void *)hdr, HDR_LEN},
	    {(void *)f, half},
	    {(void *)(f + half), len - half},
	};
	return fx->be.ops->send(&fx->be, iov, 3);
}

static ssize_t fx_send(struct fx *fx, const uint8_t *f, size_t len)
{
	struct virtio_net_hdr_v1 hdr = {0};
	return fx_send_hdr(fx, &hdr, f, len);
}

typedef bool (*match_fn)(const struct pkt_info *pi, const void *arg);

/* Runs the loop until recv() yields a frame that matches (others are skipped), at most WAIT_MS.
 * The frame stays in fx->rxbuf, so pi's pointers stay valid until the next recv. */
static bool fx_wait(struct fx *fx, match_fn match, const void *arg, struct pkt_info *pi)
{
	int64_t end = now_ms() + WAIT_MS;
	while (now_ms() < end) {
		struct iovec iov = {fx->rxbuf, sizeof(fx->rxbuf)};
		ssize_t n = fx->be.ops->recv(&fx->be, &iov, 1);
		if (n == -EAGAIN) {
			loop_run_once(fx->l, 50);
			continue;
		}
		ck_assert_int_ge(n, (ssize_t)(HDR_LEN + PKT_ETH_HLEN));
		static const uint8_t zero[HDR_LEN];
		ck_assert_mem_eq(fx->rxbuf, zero, HDR_LEN);
		ck_assert(pkt_parse(fx->rxbuf + HDR_LEN, (size_t)n - HDR_LEN, pi));
		if (match(pi, arg))
			return true;
	}
	return false;
}

static bool is_arp_reply(const struct pkt_info *pi, const void *arg)
{
	(void)arg;
	return pi->type == 0x0806 && pi->arp_op == 2;
}

/* ARP for 10.0.2.2 so slirp learns the guest's MAC (it needs it before sending us IP). */
static void fx_arp(struct fx *fx)
{
	uint8_t f[64];
	size_t n = pkt_arp_request(f, guest_mac, ip("10.0.2.15"), ip("10.0.2.2"));
	ck_assert_int_eq(fx_send(fx, f, n), (ssize_t)(HDR_LEN + n));
	struct pkt_info pi;
	ck_assert(fx_wait(fx, is_arp_reply, NULL, &pi));
}

static int tcp_listener(uint16_t *port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(s, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 4), 0);
	socklen_t al = sizeof(a);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static uint16_t free_tcp_port(void)
{
	uint16_t port;
	close(tcp_listener(&port));
	return port;
}

/* ---- DHCP and ARP ---- */

static bool is_dhcp_reply(const struct pkt_info *pi, const void *arg)
{
	(void)arg;
	return pi->type == 0x0800 && pi->proto == IPPROTO_UDP && pi->sport == 67 && pi->dport == 68;
}

START_TEST(dhcp_discover_gets_offer_of_10_0_2_15_from_10_0_2_2)
{
	struct fx fx;
	fx_default(&fx);
	uint8_t f[512];
	size_t n = pkt_dhcp_discover(f, guest_mac, 0xdeadbeef);
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));
	/* The offer is queued by now, but rx_ready comes from the loop, never from inside send. */
	ck_assert_int_eq(fx.rx_ready_calls, 0);
	loop_run_once(fx.l, 0);
	ck_assert_int_eq(fx.rx_ready_calls, 1);

	struct pkt_info pi;
	ck_assert(fx_wait(&fx, is_dhcp_reply, NULL, &pi));
	ck_assert(pi.ip_csum_ok && pi.l4_csum_ok);
	ck_assert_uint_eq(pi.ip_src, ip("10.0.2.2"));
	ck_assert_mem_eq(pi.src, slirp_mac, 6);
	ck_assert_uint_ge(pi.len, 240);
	const uint8_t *b = pi.data;
	ck_assert_uint_eq(b[0], 2); /* BOOTREPLY */
	ck_assert_mem_eq(b + 4, "\xde\xad\xbe\xef", 4);
	in_addr_t yiaddr;
	memcpy(&yiaddr, b + 16, 4);
	ck_assert_uint_eq(yiaddr, ip("10.0.2.15"));
	ck_assert_mem_eq(b + 28, guest_mac, 6);
	uint8_t ol = 0;
	const uint8_t *o = pkt_dhcp_option(b, pi.len, 53, &ol);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(ol, 1);
	ck_assert_uint_eq(o[0], 2); /* DHCPOFFER */
	o = pkt_dhcp_option(b, pi.len, 54, &ol);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(ol, 4);
	ck_assert_mem_eq(o, "\x0a\x00\x02\x02", 4); /* server id */
	o = pkt_dhcp_option(b, pi.len, 6, &ol);
	ck_assert_ptr_nonnull(o);
	ck_assert_mem_eq(o, "\x0a\x00\x02\x03", 4); /* DNS */
	ck_assert_uint_eq(fx_stats(&fx).tx_frames, 1);
	ck_assert_uint_ge(fx_stats(&fx).rx_frames, 1);
	fx_close(&fx);
}
END_TEST

START_TEST(arp_request_for_10_0_2_2_gets_slirp_mac)
{
	struct fx fx;
	fx_default(&fx);
	uint8_t f[64];
	size_t n = pkt_arp_request(f, guest_mac, ip("10.0.2.15"), ip("10.0.2.2"));
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));
	struct pkt_info pi;
	ck_assert(fx_wait(&fx, is_arp_reply, NULL, &pi));
	ck_assert_mem_eq(pi.dst, guest_mac, 6);
	ck_assert_mem_eq(pi.arp_sha, slirp_mac, 6);
	ck_assert_uint_eq(pi.arp_sip, ip("10.0.2.2"));
	ck_assert_mem_eq(pi.arp_tha, guest_mac, 6);
	ck_assert_uint_eq(pi.arp_tip, ip("10.0.2.15"));
	fx_close(&fx);
}
END_TEST

/* ---- TCP ---- */

struct tcp_match {
	in_addr_t src, dst;
	uint16_t sport, dport;
	uint8_t flags; /* exact SYN/ACK/RST/FIN bits wanted */
	size_t min_len;
};

static bool is_tcp(const struct pkt_info *pi, const void *arg)
{
	const struct tcp_match *m = arg;
	return pi->type == 0x0800 && pi->proto == IPPROTO_TCP && pi->ip_src == m->src &&
	       pi->ip_dst == m->dst && pi->sport == m->sport && pi->dport == m->dport &&
	       (pi->tcp_flags & 0x17) == m->flags && pi->len >= m->min_len;
}

START_TEST(tcp_syn_to_10_0_2_2_connects_to_host_loopback)
{
	struct fx fx;
	fx_default(&fx);
	fx_arp(&fx);
	uint16_t port;
	int ls = tcp_listener(&port);
	const in_addr_t g = ip("10.0.2.15"), h = ip("10.0.2.2");
	uint8_t f[256];
	size_t n = pkt_tcp(f, slirp_mac, guest_mac, g, h, 40000, port, 1000, 0, PKT_TCP_SYN, NULL, 0);
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));

	/* slirp connects to 127.0.0.1:port and only then answers the guest's SYN. */
	struct tcp_match synack = {h, g, port, 40000, PKT_TCP_SYN | PKT_TCP_ACK, 0};
	struct pkt_info pi;
	ck_assert(fx_wait(&fx, is_tcp, &synack, &pi));
	ck_assert(pi.l4_csum_ok);
	ck_assert_uint_eq(pi.ack, 1001);
	uint32_t iss = pi.seq;
	int cs = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
	ck_assert_int_ge(cs, 0);

	/* Complete the handshake and move data both ways. */
	n = pkt_tcp(f, slirp_mac, guest_mac, g, h, 40000, port, 1001, iss + 1, PKT_TCP_ACK | PKT_TCP_PSH,
		    "ping", 4);
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));
	char buf[16];
	ssize_t got = -1;
	for (int64_t end = now_ms() + WAIT_MS; got < 0 && now_ms() < end;) {
		loop_run_once(fx.l, 50);
		got = read(cs, buf, sizeof(buf));
	}
	ck_assert_int_eq(got, 4);
	ck_assert_mem_eq(buf, "ping", 4);

	ck_assert_int_eq(write(cs, "pong", 4), 4);
	struct tcp_match data = {h, g, port, 40000, PKT_TCP_ACK, 4};
	ck_assert(fx_wait(&fx, is_tcp, &data, &pi));
	ck_assert_int_eq(pi.len, 4);
	ck_assert_mem_eq(pi.data, "pong", 4);
	ck_assert_uint_eq(pi.seq, iss + 1);
	ck_assert(pi.l4_csum_ok);
	n = pkt_tcp(f, slirp_mac, guest_mac, g, h, 40000, port, 1005, iss + 5, PKT_TCP_ACK, NULL, 0);
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));

	/* With a live connection and nothing to do, the loop sleeps: slirp's TCP timers ask for
	 * 2 ms only while a delayed ACK is pending, otherwise ~500 ms. */
	int rounds = 0;
	for (int64_t end = now_ms() + 300; now_ms() < end; rounds++)
		loop_run_once(fx.l, 1000);
	ck_assert_int_lt(rounds, 30);

	close(cs);
	close(ls);
	fx_close(&fx);
}
END_TEST

/* hostfwd connections come from the connecting socket's port, translated to 10.0.2.2. */
static bool is_tcp_any_sport(const struct pkt_info *pi, const void *arg)
{
	struct tcp_match m = *(const struct tcp_match *)arg;
	m.sport = pi->sport;
	return is_tcp(pi, &m);
}

START_TEST(hostfwd_connection_becomes_syn_to_guest_port)
{
	uint16_t port = free_tcp_port();
	struct net_opts opts = {.kind = NET_USER, .nfwd = 1};
	opts.fwd[0] = (struct hostfwd){
	    .udp = false, .host_addr.s_addr = htonl(INADDR_LOOPBACK), .host_port = port, .guest_port = 8080};
	struct fx fx;
	ck_assert_int_eq(fx_open(&fx, &opts), 0);
	fx_arp(&fx);

	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(s, 0);
	struct sockaddr_in a = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = connect(s, (struct sockaddr *)&a, sizeof(a));
	ck_assert(rc == 0 || errno == EINPROGRESS);

	struct tcp_match syn = {ip("10.0.2.2"), ip("10.0.2.15"), 0, 8080, PKT_TCP_SYN, 0};
	struct pkt_info pi;
	ck_assert(fx_wait(&fx, is_tcp_any_sport, &syn, &pi));
	ck_assert(pi.l4_csum_ok);
	ck_assert_mem_eq(pi.dst, guest_mac, 6);
	close(s);
	fx_close(&fx);
}
END_TEST

START_TEST(hostfwd_on_a_busy_port_fails_with_eaddrinuse)
{
	uint16_t port;
	int ls = tcp_listener(&port);
	struct net_opts opts = {.kind = NET_USER, .nfwd = 1};
	opts.fwd[0] = (struct hostfwd){
	    .udp = false, .host_addr.s_addr = htonl(INADDR_LOOPBACK), .host_port = port, .guest_port = 22};
	struct fx fx;
	ck_assert_int_eq(fx_open(&fx, &opts), -EADDRINUSE);
	ck_assert_ptr_null(fx.be.priv);
	loop_free(fx.l);
	close(ls);
}
END_TEST

/* ---- malformed TX and checksum completion ---- */

START_TEST(short_and_gso_frames_are_dropped_and_counted)
{
	struct fx fx;
	fx_default(&fx);
	uint8_t f[256];
	size_t n = pkt_tcp(f, slirp_mac, guest_mac, ip("10.0.2.15"), ip("10.0.2.2"), 40000, 9, 1, 0,
			   PKT_TCP_SYN, NULL, 0);

	struct virtio_net_hdr_v1 gso = {
	    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = htole16(54), .gso_size = htole16(1448)};
	ck_assert_int_eq(fx_send_hdr(&fx, &gso, f, n), -EINVAL);

	uint8_t tiny[5] = {0};
	struct iovec iov = {tiny, sizeof(tiny)};
	ck_assert_int_eq(fx.be.ops->send(&fx.be, &iov, 1), -EINVAL);
	struct virtio_net_hdr_v1 hdr = {0};
	ck_assert_int_eq(fx_send_hdr(&fx, &hdr, f, 4), -EINVAL); /* header + 4 bytes */

	struct virtio_net_hdr_v1 bad = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					.csum_start = htole16((uint16_t)n),
					.csum_offset = htole16(16)};
	ck_assert_int_eq(fx_send_hdr(&fx, &bad, f, n), -EINVAL);

	struct slirp_stats st = fx_stats(&fx);
	ck_assert_uint_eq(st.tx_dropped_gso, 1);
	ck_assert_uint_eq(st.tx_dropped_short, 2);
	ck_assert_uint_eq(st.tx_dropped_csum, 1);
	ck_assert_uint_eq(st.tx_frames, 0);
	ck_assert_uint_eq(fx.be.ops->offload_features(&fx.be), 0);
	ck_assert_int_eq(fx.be.ops->set_offloads(&fx.be, ~0ULL), 0);
	/* Nothing reached slirp, so nothing comes back. */
	loop_run_once(fx.l, 0);
	struct iovec riov = {fx.rxbuf, sizeof(fx.rxbuf)};
	ck_assert_int_eq(fx.be.ops->recv(&fx.be, &riov, 1), -EAGAIN);
	fx_close(&fx);
}
END_TEST

/* A UDP frame to 10.0.2.2:port whose checksum field holds only the pseudo-header sum, as a guest
 * with VIRTIO_NET_F_CSUM leaves it (5.1.6.2). */
static size_t udp_partial(uint8_t *f, uint16_t port, const char *msg)
{
	const in_addr_t g = ip("10.0.2.15"), h = ip("10.0.2.2");
	size_t len = strlen(msg);
	size_t n = pkt_udp(f, slirp_mac, guest_mac, g, h, 5555, port, msg, len);
	uint16_t partial = (uint16_t)~pkt_fold(pkt_pseudo_sum(g, h, IPPROTO_UDP, PKT_UDP_HLEN + len));
	uint8_t *c = f + PKT_ETH_HLEN + PKT_IP_HLEN + 6;
	c[0] = partial >> 8;
	c[1] = partial & 0xff;
	return n;
}

START_TEST(needs_csum_is_completed_before_slirp_sees_the_frame)
{
	struct fx fx;
	fx_default(&fx);
	int us = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(us, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ck_assert_int_eq(bind(us, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	ck_assert_int_eq(getsockname(us, (struct sockaddr *)&a, &al), 0);
	uint16_t port = ntohs(a.sin_port);

	/* Without NEEDS_CSUM the partial checksum is just wrong: slirp drops the datagram. */
	uint8_t f[256];
	size_t n = udp_partial(f, port, "unchecked");
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));

	n = udp_partial(f, port, "completed");
	struct virtio_net_hdr_v1 hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					.csum_start = htole16(PKT_ETH_HLEN + PKT_IP_HLEN),
					.csum_offset = htole16(6)};
	ck_assert_int_eq(fx_send_hdr(&fx, &hdr, f, n), (ssize_t)(HDR_LEN + n));

	char buf[64];
	ssize_t got = -1;
	for (int64_t end = now_ms() + WAIT_MS; got < 0 && now_ms() < end;) {
		loop_run_once(fx.l, 50);
		got = recv(us, buf, sizeof(buf), 0);
	}
	ck_assert_int_eq(got, 9);
	ck_assert_mem_eq(buf, "completed", 9);
	for (int i = 0; i < 3; i++)
		loop_run_once(fx.l, 20);
	ck_assert_int_eq(recv(us, buf, sizeof(buf), 0), -1); /* "unchecked" never arrived */
	ck_assert_int_eq(errno, EAGAIN);
	close(us);
	fx_close(&fx);
}
END_TEST

/* ---- the RX queue ---- */

START_TEST(rx_queue_is_bounded_and_overflow_is_counted)
{
	struct fx fx;
	fx_default(&fx);
	uint8_t f[64];
	size_t n = pkt_arp_request(f, guest_mac, ip("10.0.2.15"), ip("10.0.2.2"));
	for (int i = 0; i < SLIRP_RXQ_FRAMES + 10; i++)
		ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));
	ck_assert_uint_eq(fx_stats(&fx).rx_dropped_full, 10);
	int frames = 0;
	struct iovec iov = {fx.rxbuf, sizeof(fx.rxbuf)};
	while (fx.be.ops->recv(&fx.be, &iov, 1) > 0)
		frames++;
	ck_assert_int_eq(frames, SLIRP_RXQ_FRAMES);
	ck_assert_int_eq(fx.be.ops->recv(&fx.be, &iov, 1), -EAGAIN);
	/* Frames still queued at close are freed (ASan would report a leak). */
	ck_assert_int_eq(fx_send(&fx, f, n), (ssize_t)(HDR_LEN + n));
	fx_close(&fx);
}
END_TEST

static void *nothing(void *arg)
{
	return arg;
}

#define SLIRP_TESTS                                                                                          \
	dhcp_discover_gets_offer_of_10_0_2_15_from_10_0_2_2, arp_request_for_10_0_2_2_gets_slirp_mac,        \
	    tcp_syn_to_10_0_2_2_connects_to_host_loopback, hostfwd_connection_becomes_syn_to_guest_port,     \
	    hostfwd_on_a_busy_port_fails_with_eaddrinuse, short_and_gso_frames_are_dropped_and_counted,      \
	    needs_csum_is_completed_before_slirp_sees_the_frame, rx_queue_is_bounded_and_overflow_is_counted

/* Every test above again, each in a child of its own with the net-io thread's seccomp filter on
 * from the moment the backend is attached, as in minivmm: anything libslirp needs outside the
 * list ends the child with the one-line report. (Own children: Check's bookkeeping after a test
 * makes calls no minivmm thread may.) */
START_TEST(every_slirp_test_passes_under_the_net_io_filter)
{
	const TTest *slirp_tests[] = { SLIRP_TESTS };
	for (size_t i = 0; i < sizeof(slirp_tests) / sizeof(slirp_tests[0]); i++) {
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			pthread_t t;
			pthread_create(&t, NULL, nothing, NULL); /* glibc's one-time setup, as in minivmm */
			pthread_join(t, NULL);
			if (seccomp_setup(true))
				_exit(3);
			sandboxed = true;
			slirp_tests[i]->fn(0);
			_exit(0);
		}
		int st;
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s under the net-io filter: status %#x",
			      slirp_tests[i]->name, st);
	}
}
END_TEST

int main(void)
{
	const TTest *slirp_tests[] = { SLIRP_TESTS };
	Suite *su = suite_create("slirp");
	TCase *tc = tcase_create("slirp");
	for (size_t i = 0; i < sizeof(slirp_tests) / sizeof(slirp_tests[0]); i++)
		tcase_add_test(tc, slirp_tests[i]);
	tcase_add_test(tc, every_slirp_test_passes_under_the_net_io_filter);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(su, tc);
	return unit_run(su);
}
