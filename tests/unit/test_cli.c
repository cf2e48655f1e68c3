/* test_cli.c: the command line (vmm/cli.c) and --net SPEC parsing (vmm/net_opts.c). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/unit.h"
#include "vmm/cli.h"
#include "vmm/net_opts.h"

static struct vm_config cfg;
static char out_text[8192], err_text[4096];

/* Runs f with fd 1 and 2 redirected to temporary files, and keeps what was written. */
static FILE *capture_begin(int fd, int *saved)
{
	FILE *tmp = tmpfile();

	ck_assert_ptr_nonnull(tmp);
	fflush(fd == 1 ? stdout : stderr);
	*saved = dup(fd);
	ck_assert_int_ge(*saved, 0);
	ck_assert_int_eq(dup2(fileno(tmp), fd), fd);
	return tmp;
}

static void capture_end(int fd, int saved, FILE *tmp, char *buf, size_t size)
{
	size_t n;

	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

static int parse_argv(char **argv)
{
	int argc = 0, so, se, ret;
	FILE *to, *te;

	while (argv[argc])
		argc++;
	to = capture_begin(1, &so);
	te = capture_begin(2, &se);
	ret = cli_parse(argc, argv, &cfg);
	capture_end(2, se, te, err_text, sizeof(err_text));
	capture_end(1, so, to, out_text, sizeof(out_text));
	return ret;
}

#define PARSE(...)   parse_argv((char *[]){ "minivmm", __VA_ARGS__, NULL })
#define PARSE_K(...) PARSE("--kernel", "bzImage", __VA_ARGS__)

static int net_parse(const char *spec, struct net_opts *o)
{
	int se, ret;
	FILE *te = capture_begin(2, &se);

	ret = net_opts_parse(spec, o);
	capture_end(2, se, te, err_text, sizeof(err_text));
	return ret;
}

/* The contract for every error: -EINVAL, exactly one "minivmm: " line naming what was wrong. */
static void assert_one_error(int ret, const char *what, const char *value)
{
	const char *nl = strchr(err_text, '\n');

	ck_assert_int_eq(ret, -EINVAL);
	ck_assert_msg(!strncmp(err_text, "minivmm: ", 9), "no prefix: %s", err_text);
	ck_assert_msg(nl && nl[1] == '\0', "not exactly one line: %s", err_text);
	ck_assert_msg(strstr(err_text, what), "\"%s\" not named in: %s", what, err_text);
	if (value)
		ck_assert_msg(strstr(err_text, value), "\"%s\" not named in: %s", value, err_text);
	ck_assert_str_eq(out_text, "");
}

#define ASSERT_ERR(what, value, ...) assert_one_error(PARSE(__VA_ARGS__), what, value)
#define ASSERT_NET_ERR(key, spec)    assert_one_error(PARSE_K("--net", spec), key, NULL)

static void assert_ok(int ret)
{
	ck_assert_msg(ret == 0, "ret %d, stderr: %s", ret, err_text);
	ck_assert_str_eq(err_text, "");
}

static void assert_addr(struct in_addr a, const char *dotted)
{
	char buf[INET_ADDRSTRLEN];

	ck_assert_str_eq(inet_ntop(AF_INET, &a, buf, sizeof(buf)), dotted);
}

/* ---- defaults, general options ---- */

START_TEST(kernel_alone_gives_all_defaults)
{
	assert_ok(PARSE("--kernel", "bzImage"));
	ck_assert_str_eq(cfg.kernel, "bzImage");
	ck_assert_ptr_null(cfg.initrd);
	ck_assert_str_eq(cfg.cmdline, "console=ttyS0 reboot=k panic=-1");
	ck_assert_uint_eq(cfg.mem, 512ULL << 20);
	ck_assert_int_eq(cfg.cpus, 1);
	ck_assert(!cfg.stats);
	ck_assert_ptr_null(cfg.dump_dtb);
	ck_assert(!cfg.no_net);
	ck_assert_int_eq(cfg.nnics, 1);
	ck_assert_int_eq(cfg.nic[0].kind, NET_USER);
	assert_addr(cfg.nic[0].net, "10.0.2.0");
	assert_addr(cfg.nic[0].mask, "255.255.255.0");
	assert_addr(cfg.nic[0].host, "10.0.2.2");
	assert_addr(cfg.nic[0].dns, "10.0.2.3");
	assert_addr(cfg.nic[0].dhcp_start, "10.0.2.15");
	ck_assert_int_eq(cfg.nic[0].nfwd, 0);
	ck_assert(!cfg.nic[0].mac_set);
	ck_assert_int_eq(cfg.nic[0].mtu, 0);
	ck_assert_str_eq(out_text, "");
}
END_TEST

START_TEST(every_option_is_stored)
{
	assert_ok(PARSE("--kernel", "k", "--initrd", "i.cpio", "--append", "quiet", "--mem", "2G",
			"--cpus", "4", "--stats", "--net", "tap", "--dump-dtb", "m.dtb"));
	ck_assert_str_eq(cfg.kernel, "k");
	ck_assert_str_eq(cfg.initrd, "i.cpio");
	ck_assert_str_eq(cfg.cmdline, "quiet");
	ck_assert_uint_eq(cfg.mem, 2ULL << 30);
	ck_assert_int_eq(cfg.cpus, 4);
	ck_assert(cfg.stats);
	ck_assert_int_eq(cfg.nnics, 1);
	ck_assert_int_eq(cfg.nic[0].kind, NET_TAP);
	ck_assert_str_eq(cfg.dump_dtb, "m.dtb");
}
END_TEST

START_TEST(dump_dtb_needs_one_non_empty_file_name)
{
	assert_ok(PARSE("--dump-dtb", "out/machine.dtb", "--kernel", "k"));
	ck_assert_str_eq(cfg.dump_dtb, "out/machine.dtb");
	assert_ok(PARSE("--kernel", "k", "--dump-dtb=x.dtb"));
	ck_assert_str_eq(cfg.dump_dtb, "x.dtb");
	ASSERT_ERR("--dump-dtb", "needs a value", "--kernel", "k", "--dump-dtb");
	ASSERT_ERR("--dump-dtb", "file name is empty", "--kernel", "k", "--dump-dtb", "");
	ASSERT_ERR("--dump-dtb", "twice", "--kernel", "k", "--dump-dtb", "a", "--dump-dtb", "b");
	/* It builds the machine, so it needs the kernel like a run does. */
	ASSERT_ERR("--kernel", "required", "--dump-dtb", "a.dtb");
}
END_TEST

START_TEST(runas_and_seccomp_are_stored_and_checked)
{
	assert_ok(PARSE("--kernel", "k"));
	ck_assert_ptr_null(cfg.runas);
	ck_assert(cfg.seccomp == CLI_DEFAULT_SECCOMP);
	assert_ok(PARSE("--kernel", "k", "--runas", "nobody", "--seccomp", "off"));
	ck_assert_str_eq(cfg.runas, "nobody");
	ck_assert(!cfg.seccomp);
	assert_ok(PARSE("--kernel", "k", "--seccomp=on"));
	ck_assert(cfg.seccomp);
	ASSERT_ERR("--seccomp", "\"maybe\" is not on or off", "--kernel", "k", "--seccomp", "maybe");
	ASSERT_ERR("--seccomp", "twice", "--kernel", "k", "--seccomp", "on", "--seccomp", "off");
	ASSERT_ERR("--runas", "empty", "--kernel", "k", "--runas", "");
	ASSERT_ERR("--runas", "needs a value", "--kernel", "k", "--runas");
}
END_TEST

START_TEST(option_equals_form_and_empty_append_are_accepted)
{
	assert_ok(PARSE("--kernel=k", "--append=", "--mem=1G"));
	ck_assert_str_eq(cfg.kernel, "k");
	ck_assert_str_eq(cfg.cmdline, "");
	ck_assert_uint_eq(cfg.mem, 1ULL << 30);
}
END_TEST

START_TEST(missing_kernel_is_an_error)
{
	ASSERT_ERR("--kernel", NULL, "--mem", "1G");
	ASSERT_ERR("--kernel", NULL, "--kernel", "");
}
END_TEST

START_TEST(help_prints_usage_to_stdout_and_returns_1)
{
	ck_assert_int_eq(PARSE("--help"), 1);
	ck_assert_ptr_nonnull(strstr(out_text, "usage: minivmm"));
	ck_assert_ptr_nonnull(strstr(out_text, "--net SPEC"));
	ck_assert_str_eq(err_text, "");
	ck_assert_int_eq(PARSE("-h"), 1);
	ck_assert_int_eq(PARSE("--kernel", "k", "--help"), 1);
}
END_TEST

START_TEST(version_prints_version_and_returns_1)
{
	ck_assert_int_eq(PARSE("--version"), 1);
	ck_assert_str_eq(out_text, "minivmm 0.1.0\n");
	ck_assert_str_eq(err_text, "");
}
END_TEST

START_TEST(unknown_options_and_stray_arguments_are_errors)
{
	ASSERT_ERR("unknown option", "--frobnicate", "--kernel", "k", "--frobnicate");
	ASSERT_ERR("unknown option", "-x", "--kernel", "k", "-x");
	ASSERT_ERR("unexpected argument", "disk.img", "--kernel", "k", "disk.img");
	ASSERT_ERR("unexpected argument", "disk.img", "disk.img", "--kernel", "k");
	ASSERT_ERR("unexpected argument", "x", "--kernel", "k", "--", "x");
	ASSERT_ERR("--stats", "--stats=1", "--kernel", "k", "--stats=1");
	ASSERT_ERR("--help", "--help=x", "--help=x");
}
END_TEST

START_TEST(option_without_its_value_is_an_error)
{
	ASSERT_ERR("--kernel", "needs a value", "--kernel");
	ASSERT_ERR("--mem", "needs a value", "--kernel", "k", "--mem");
	ASSERT_ERR("--net", "needs a value", "--kernel", "k", "--net");
	ASSERT_ERR("--dump-dtb", "needs a value", "--kernel", "k", "--dump-dtb");
}
END_TEST

START_TEST(single_valued_option_given_twice_is_an_error)
{
	ASSERT_ERR("--mem", "twice", "--kernel", "k", "--mem", "1G", "--mem", "2G");
	ASSERT_ERR("--kernel", "twice", "--kernel", "k", "--kernel", "k2");
	ASSERT_ERR("--cpus", "twice", "--kernel", "k", "--cpus", "1", "--cpus", "2");
}
END_TEST

START_TEST(parsing_again_after_an_error_starts_afresh)
{
	ASSERT_ERR("unexpected argument", "stray", "--kernel", "k", "stray");
	assert_ok(PARSE("--kernel", "k2", "--cpus", "2"));
	ck_assert_str_eq(cfg.kernel, "k2");
	ck_assert_int_eq(cfg.cpus, 2);
	ASSERT_ERR("--mem", "\"1Q\"", "--mem", "1Q", "--kernel", "k");
	assert_ok(PARSE("--kernel", "k3"));
	ck_assert_uint_eq(cfg.mem, 512ULL << 20);
	ck_assert_int_eq(cfg.cpus, 1);
}
END_TEST

/* ---- --mem ---- */

/* argv strings are char *, so the tables hold char * too. */
static const struct {
	char *arg;
	unsigned long long bytes;
} mem_good[] = {
	{ "536870912", 512ULL << 20 }, { "65536K", 64ULL << 20 }, { "65536k", 64ULL << 20 },
	{ "64M", 64ULL << 20 },	       { "1g", 1ULL << 30 },	  { "64G", 64ULL << 30 },
	{ "0100M", 100ULL << 20 },
};

START_TEST(mem_accepts_bytes_and_binary_suffixes)
{
	assert_ok(PARSE_K("--mem", mem_good[_i].arg));
	ck_assert_uint_eq(cfg.mem, mem_good[_i].bytes);
}
END_TEST

static const struct {
	char *arg;
	const char *why;
} mem_bad[] = {
	{ "12Q", "is not a size" },
	{ "", "is not a size" },
	{ "M", "is not a size" },
	{ "-1", "is not a size" },
	{ " 512M", "is not a size" },
	{ "0x10M", "is not a size" },
	{ "512MB", "is not a size" },
	{ "1.5G", "is not a size" },
	{ "0", "out of range" },
	{ "32M", "out of range" },
	{ "65G", "out of range" },
	{ "99999999999999999999", "out of range" },
	{ "17179869184G", "out of range" }, /* 2^34 G = 2^64 bytes: wraps to 0 if unchecked */
	{ "17179869185G", "out of range" }, /* wraps to a valid 1G if unchecked */
	{ "100000000", "multiple of 1M" },
	{ "65537K", "multiple of 1M" },
};

START_TEST(mem_rejects_garbage_overflow_range_and_alignment)
{
	char quoted[64];

	snprintf(quoted, sizeof(quoted), "\"%s\"", mem_bad[_i].arg);
	assert_one_error(PARSE_K("--mem", mem_bad[_i].arg), "--mem: ", quoted);
	ck_assert_msg(strstr(err_text, mem_bad[_i].why), "%s: %s", mem_bad[_i].arg, err_text);
}
END_TEST

START_TEST(mem_error_message_reads_as_documented)
{
	PARSE_K("--mem", "12Q");
	ck_assert_str_eq(err_text, "minivmm: --mem: \"12Q\" is not a size (use e.g. 512M or 2G)\n");
}
END_TEST

/* ---- --cpus ---- */

START_TEST(cpus_accepts_1_to_max)
{
	assert_ok(PARSE_K("--cpus", "1"));
	ck_assert_int_eq(cfg.cpus, 1);
	assert_ok(PARSE_K("--cpus", "64"));
	ck_assert_int_eq(cfg.cpus, CONFIG_MAX_CPUS);
	assert_ok(PARSE_K("--cpus", "08"));
	ck_assert_int_eq(cfg.cpus, 8);
}
END_TEST

static char *const cpus_bad[] = { "0",	"65", "4x",  "-1",  "",
				  "+2", " 2", "0x2", "2.0", "99999999999999999999" };

START_TEST(cpus_rejects_non_integers_and_out_of_range)
{
	char quoted[64];

	snprintf(quoted, sizeof(quoted), "\"%s\"", cpus_bad[_i]);
	assert_one_error(PARSE_K("--cpus", cpus_bad[_i]), "--cpus: ", quoted);
}
END_TEST

/* ---- --net tap ---- */

START_TEST(net_tap_defaults)
{
	assert_ok(PARSE_K("--net", "tap"));
	ck_assert_int_eq(cfg.nnics, 1);
	ck_assert_int_eq(cfg.nic[0].kind, NET_TAP);
	ck_assert_str_eq(cfg.nic[0].ifname, "");
	ck_assert_int_eq(cfg.nic[0].vhost, VHOST_OFF);
	ck_assert(!cfg.nic[0].mac_set);
	ck_assert_int_eq(cfg.nic[0].mtu, 0);
}
END_TEST

START_TEST(net_tap_with_every_key)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xCD, 0xef };

	assert_ok(
	    PARSE_K("--net", "tap,ifname=mvm-tap.0_a,mac=52:54:00:ab:CD:ef,mtu=9000,vhost=auto"));
	ck_assert_str_eq(cfg.nic[0].ifname, "mvm-tap.0_a");
	ck_assert(cfg.nic[0].mac_set);
	ck_assert_mem_eq(cfg.nic[0].mac, mac, 6);
	ck_assert_int_eq(cfg.nic[0].mtu, 9000);
	ck_assert_int_eq(cfg.nic[0].vhost, VHOST_AUTO);
	assert_ok(PARSE_K("--net", "tap,vhost=on,mtu=68"));
	ck_assert_int_eq(cfg.nic[0].vhost, VHOST_ON);
	ck_assert_int_eq(cfg.nic[0].mtu, 68);
	assert_ok(PARSE_K("--net", "tap,vhost=off,mtu=65535,ifname=abcdefghijklmno"));
	ck_assert_int_eq(cfg.nic[0].vhost, VHOST_OFF);
	ck_assert_int_eq(cfg.nic[0].mtu, 65535);
	ck_assert_str_eq(cfg.nic[0].ifname, "abcdefghijklmno");
	ck_assert_int_eq(cfg.nic[0].queue_size, 0); /* not given: the device's default */
	assert_ok(PARSE_K("--net", "tap,queue_size=256"));
	ck_assert_int_eq(cfg.nic[0].queue_size, 256);
	assert_ok(PARSE_K("--net", "user,queue_size=64"));
	ck_assert_int_eq(cfg.nic[0].queue_size, 64);
	assert_ok(PARSE_K("--net", "tap,queue_size=1024"));
	ck_assert_int_eq(cfg.nic[0].queue_size, 1024);
	ck_assert_int_eq(cfg.nic[0].queues, 1); /* not given: one pair */
	assert_ok(PARSE_K("--net", "tap,queues=2"));
	ck_assert_int_eq(cfg.nic[0].queues, 2);
	assert_ok(PARSE_K("--net", "tap,ifname=t0,queues=16,vhost=on"));
	ck_assert_int_eq(cfg.nic[0].queues, 16);
	assert_ok(PARSE_K("--net", "user,queues=1"));
	ck_assert_int_eq(cfg.nic[0].queues, 1);
}
END_TEST

static const struct {
	char *spec;
	const char *named;
} net_bad[] = {
	{ "", "is not a network backend" },
	{ "bogus", "\"bogus\"" },
	{ "tap0", "\"tap0\"" },
	{ "none,mtu=1500", "none takes no options" },
	{ "tap,ifname=abcdefghijklmnop",
	  "ifname=abcdefghijklmnop" }, /* 16 chars: no room for NUL */
	{ "tap,ifname=tap 0", "ifname=tap 0" },
	{ "tap,id=0net", "id=0net" },
	{ "user,id=a b", "id=a b" },
	{ "tap,id=", "id" },
	{ "tap,ifname=tap/0", "ifname=tap/0" },
	{ "tap,ifname=..", "ifname=.." },
	{ "tap,mac=01:00:5e:00:00:01", "multicast" },
	{ "tap,mac=ff:ff:ff:ff:ff:ff", "multicast" },
	{ "tap,mac=00:00:00:00:00:00", "all zeros" },
	{ "tap,mac=52:54:00:12:34", "mac=52:54:00:12:34" },
	{ "tap,mac=52:54:00:12:34:5g", "mac=52:54:00:12:34:5g" },
	{ "tap,mac=52-54-00-12-34-56", "mac=52-54-00-12-34-56" },
	{ "tap,mac=52:54:00:12:34:56:78", "mac=52:54:00:12:34:56:78" },
	{ "tap,mac=52:54:00:12:34:5", "mac=52:54:00:12:34:5" },
	{ "tap,mac=5:54:00:12:34:56", "mac=5:54:00:12:34:56" },
	{ "tap,mtu=67", "mtu=67" },
	{ "tap,mtu=65536", "mtu=65536" },
	{ "tap,mtu=1500x", "mtu=1500x" },
	{ "tap,mtu=-1500", "mtu=-1500" },
	{ "tap,queue_size=32", "queue_size=32 is not a power of two in 64..1024" },
	{ "tap,queue_size=2048", "queue_size=2048" },
	{ "tap,queue_size=768", "queue_size=768" },
	{ "user,queue_size=0", "queue_size=0" },
	{ "tap,queue_size=256k", "queue_size=256k" },
	{ "tap,queues=0", "queues=0 is not in 1..16" },
	{ "tap,queues=17", "queues=17 is not in 1..16" },
	{ "tap,queues=2x", "queues=2x" },
	{ "tap,queues=-1", "queues=-1" },
	{ "tap,queues=1,queues=2", "key queues is given twice" },
	{ "user,queues=2", "user networking has one queue pair (libslirp runs on one thread)" },
	{ "tap,vhost=maybe", "vhost=maybe" },
	{ "tap,foo=1", "unknown key \"foo\"" },
	{ "tap,hostfwd=tcp::22-:22", "unknown key \"hostfwd\"" },
	{ "tap,net=10.0.2.0/24", "unknown key \"net\"" },
	{ "user,vhost=on", "unknown key \"vhost\"" },
	{ "user,ifname=tap0", "unknown key \"ifname\"" },
	{ "tap,mac=", "key mac needs a value" },
	{ "tap,vhost", "key vhost needs a value" },
	{ "user,hostfwd=", "key hostfwd needs a value" },
	{ "tap,mtu=1500,mtu=1500", "key mtu is given twice" },
	{ "user,dns=10.0.2.3,dns=10.0.2.4", "key dns is given twice" },
	{ "tap,", "empty option" },
	{ "tap,,mtu=1500", "empty option" },
	/* user addressing */
	{ "user,net=10.0.2.0", "net=10.0.2.0" },
	{ "user,net=10.0.2.0/", "net=10.0.2.0/" },
	{ "user,net=10.0.2/24", "net=10.0.2/24" },
	{ "user,net=10.0.2.0/24x", "net=10.0.2.0/24x" },
	{ "user,net=10.0.0.0/7", "/7 is out of range" },
	{ "user,net=10.0.2.0/31", "/31 is out of range" },
	{ "user,net=10.0.2.5/24", "did you mean 10.0.2.0/24" },
	{ "user,host=10.0.3.2", "host=10.0.3.2" },
	{ "user,host=10.0.2.0", "host=10.0.2.0" },
	{ "user,dns=10.0.2.255", "dns=10.0.2.255" },
	{ "user,dns=10.0.2", "dns=10.0.2" },
	{ "user,host=010.0.2.2", "host=010.0.2.2" },
	{ "user,dhcpstart=10.0.2.2", "dhcpstart=10.0.2.2" },
	{ "user,net=192.168.0.0/28", "dhcpstart=192.168.0.15" }, /* .15 is /28's broadcast */
	{ "user,net=192.168.0.0/24,host=10.0.2.2", "host=10.0.2.2" },
	{ "user,mac=03:00:00:00:00:01", "multicast" },
	{ "user,mtu=0", "mtu=0" },
	/* hostfwd */
	{ "user,hostfwd=tcp:2222-:22", "malformed" },
	{ "user,hostfwd=tcp::2222-22", "malformed" },
	{ "user,hostfwd=tcp::2222:22", "malformed" },
	{ "user,hostfwd=2222", "malformed" },
	{ "user,hostfwd=tcp::2222-:22:1", "guest port \"22:1\"" },
	{ "user,hostfwd=sctp::2222-:22", "protocol \"sctp\"" },
	{ "user,hostfwd=TCP::2222-:22", "protocol \"TCP\"" },
	{ "user,hostfwd=tcp::0-:22", "host port \"0\"" },
	{ "user,hostfwd=tcp::65536-:22", "host port \"65536\"" },
	{ "user,hostfwd=tcp::-:22", "host port \"\"" },
	{ "user,hostfwd=tcp::22x-:22", "host port \"22x\"" },
	{ "user,hostfwd=tcp::2222-:0", "guest port \"0\"" },
	{ "user,hostfwd=tcp::2222-:70000", "guest port \"70000\"" },
	{ "user,hostfwd=tcp:1.2.3:2222-:22", "host address \"1.2.3\"" },
	{ "user,hostfwd=tcp:localhost:2222-:22", "host address \"localhost\"" },
	{ "user,hostfwd=tcp::2222-10.0.2.256:22", "guest address \"10.0.2.256\"" },
	{ "user,hostfwd=tcp::2222-10.0.3.15:22", "guest address 10.0.3.15" },
	{ "user,hostfwd=tcp::2222-:22,hostfwd=tcp::2222-:23", "tcp host port 2222 is already" },
	{ "user,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:2222-:23", "tcp host port 2222" },
	{ "user,hostfwd=udp:127.0.0.1:53-:53,hostfwd=udp::53-:53", "udp host port 53" },
};

START_TEST(net_spec_errors_name_the_key_and_value)
{
	assert_one_error(PARSE_K("--net", net_bad[_i].spec), "minivmm: --net: ", net_bad[_i].named);
}
END_TEST

/* ---- --net user ---- */

START_TEST(net_user_addresses_follow_net)
{
	assert_ok(PARSE_K("--net", "user,net=192.168.76.0/24"));
	assert_addr(cfg.nic[0].net, "192.168.76.0");
	assert_addr(cfg.nic[0].mask, "255.255.255.0");
	assert_addr(cfg.nic[0].host, "192.168.76.2");
	assert_addr(cfg.nic[0].dns, "192.168.76.3");
	assert_addr(cfg.nic[0].dhcp_start, "192.168.76.15");

	assert_ok(PARSE_K("--net", "user,net=172.16.0.0/12,host=172.16.9.1,dns=172.31.255.254"));
	assert_addr(cfg.nic[0].mask, "255.240.0.0");
	assert_addr(cfg.nic[0].host, "172.16.9.1");
	assert_addr(cfg.nic[0].dns, "172.31.255.254");
	assert_addr(cfg.nic[0].dhcp_start, "172.16.0.15");
}
END_TEST

START_TEST(net_user_smallest_net_works_with_explicit_addresses)
{
	assert_ok(PARSE_K("--net",
			  "user,net=10.9.9.4/30,host=10.9.9.5,dns=10.9.9.5,dhcpstart=10.9.9.6,"
			  "mac=52:54:00:00:00:01,mtu=1400"));
	assert_addr(cfg.nic[0].mask, "255.255.255.252");
	assert_addr(cfg.nic[0].dhcp_start, "10.9.9.6");
	ck_assert(cfg.nic[0].mac_set);
	ck_assert_int_eq(cfg.nic[0].mtu, 1400);
}
END_TEST

START_TEST(net_user_key_order_does_not_matter)
{
	/* The guest address is checked against net only after net= has been read. */
	assert_ok(PARSE_K("--net", "user,hostfwd=tcp::2222-192.168.1.20:22,net=192.168.1.0/24"));
	assert_addr(cfg.nic[0].fwd[0].guest_addr, "192.168.1.20");
	assert_addr(cfg.nic[0].host, "192.168.1.2");
}
END_TEST

START_TEST(hostfwd_short_form_binds_any_and_targets_dhcp_guest)
{
	const struct hostfwd *f;

	assert_ok(PARSE_K("--net", "user,hostfwd=tcp::2222-:22"));
	ck_assert_int_eq(cfg.nic[0].nfwd, 1);
	f = &cfg.nic[0].fwd[0];
	ck_assert(!f->udp);
	ck_assert_uint_eq(f->host_addr.s_addr, htonl(INADDR_ANY));
	ck_assert_uint_eq(f->host_port, 2222);
	ck_assert_uint_eq(f->guest_addr.s_addr, 0);
	ck_assert_uint_eq(f->guest_port, 22);
}
END_TEST

START_TEST(hostfwd_full_form_keeps_both_addresses)
{
	const struct hostfwd *f;

	assert_ok(PARSE_K("--net", "user,hostfwd=tcp:127.0.0.1:8080-:80,"
				   "hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,hostfwd=::65535-:1"));
	ck_assert_int_eq(cfg.nic[0].nfwd, 3);
	f = &cfg.nic[0].fwd[0];
	ck_assert(!f->udp);
	assert_addr(f->host_addr, "127.0.0.1");
	ck_assert_uint_eq(f->host_port, 8080);
	ck_assert_uint_eq(f->guest_addr.s_addr, 0);
	ck_assert_uint_eq(f->guest_port, 80);
	f = &cfg.nic[0].fwd[1];
	ck_assert(f->udp);
	assert_addr(f->host_addr, "127.0.0.1");
	ck_assert_uint_eq(f->host_port, 5353);
	assert_addr(f->guest_addr, "10.0.2.15");
	ck_assert_uint_eq(f->guest_port, 53);
	f = &cfg.nic[0].fwd[2]; /* empty protocol means tcp, as in QEMU */
	ck_assert(!f->udp);
	ck_assert_uint_eq(f->host_port, 65535);
	ck_assert_uint_eq(f->guest_port, 1);
}
END_TEST

START_TEST(hostfwd_same_port_is_fine_on_other_protocol_or_address)
{
	assert_ok(PARSE_K("--net", "user,hostfwd=tcp::53-:53,hostfwd=udp::53-:53,"
				   "hostfwd=tcp:127.0.0.1:80-:80,hostfwd=tcp:127.0.0.2:80-:80"));
	ck_assert_int_eq(cfg.nic[0].nfwd, 4);
}
END_TEST

START_TEST(hostfwd_up_to_the_limit_and_one_more_rejected)
{
	char spec[1024] = "user";
	int i;

	for (i = 0; i < CONFIG_MAX_HOSTFWD; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ",hostfwd=tcp::%d-:22",
			 10000 + i);
	assert_ok(PARSE_K("--net", spec));
	ck_assert_int_eq(cfg.nic[0].nfwd, CONFIG_MAX_HOSTFWD);
	ck_assert_uint_eq(cfg.nic[0].fwd[CONFIG_MAX_HOSTFWD - 1].host_port, 10000 + i - 1);
	snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), ",hostfwd=tcp::%d-:22",
		 10000 + i);
	assert_one_error(PARSE_K("--net", spec), "--net: ", "too many hostfwd");
}
END_TEST

/* ---- several --net ---- */

START_TEST(net_repeats_up_to_the_limit_and_one_more_rejected)
{
	assert_ok(
	    PARSE_K("--net", "tap", "--net", "user", "--net", "tap,vhost=on", "--net", "user"));
	ck_assert_int_eq(cfg.nnics, CONFIG_MAX_NICS);
	ck_assert_int_eq(cfg.nic[0].kind, NET_TAP);
	ck_assert_int_eq(cfg.nic[1].kind, NET_USER);
	ck_assert_int_eq(cfg.nic[2].vhost, VHOST_ON);
	ck_assert_int_eq(cfg.nic[3].kind, NET_USER);
	assert_one_error(PARSE_K("--net", "tap", "--net", "tap", "--net", "tap", "--net", "tap",
				 "--net", "user"),
			 "--net: ", "at most 4");
}
END_TEST

START_TEST(net_none_means_no_nic)
{
	struct net_opts o;

	assert_ok(PARSE_K("--net", "none"));
	ck_assert(cfg.no_net);
	ck_assert_int_eq(cfg.nnics, 0);
	ck_assert_int_eq(net_parse("none", &o), 1);
	ck_assert_str_eq(err_text, "");
}
END_TEST

START_TEST(net_none_cannot_be_combined)
{
	assert_one_error(PARSE_K("--net", "none", "--net", "tap"), "--net",
			 "none cannot be combined");
	assert_one_error(PARSE_K("--net", "user", "--net", "none"), "--net",
			 "none cannot be combined");
}
END_TEST

START_TEST(nics_must_not_share_mac_tap_or_host_port)
{
	assert_one_error(
	    PARSE_K("--net", "tap,mac=52:54:00:00:00:01", "--net", "user,mac=52:54:00:00:00:01"),
	    "--net", "mac");
	assert_one_error(PARSE_K("--net", "tap,ifname=t0", "--net", "tap,ifname=t0"), "--net",
			 "ifname t0");
	assert_one_error(PARSE_K("--net", "user,hostfwd=tcp::2222-:22", "--net",
				 "user,net=10.0.3.0/24,hostfwd=tcp:127.0.0.1:2222-:22"),
			 "--net", "tcp host port 2222");
	assert_ok(PARSE_K("--net", "tap", "--net", "tap", "--net", "user,hostfwd=tcp::1-:1",
			  "--net", "user,hostfwd=udp::1-:1"));
}
END_TEST

START_TEST(qmp_takes_a_unix_path_and_nic_ids_are_unique)
{
	assert_ok(PARSE_K("--qmp", "unix:/run/q.sock", "--net", "tap,id=uplink", "--net", "user,id=back"));
	ck_assert_str_eq(cfg.qmp, "/run/q.sock");
	ck_assert_str_eq(cfg.nic[0].id, "uplink");
	ck_assert_str_eq(cfg.nic[1].id, "back");
	ASSERT_ERR("--qmp", "tcp:1234", "--kernel", "bzImage", "--qmp", "tcp:1234");
	ASSERT_ERR("--qmp", "unix:", "--kernel", "bzImage", "--qmp", "unix:");
	assert_one_error(PARSE_K("--net", "tap,id=a", "--net", "user,id=a"), "--net", "id a");
}
END_TEST

START_TEST(net_opts_parse_fills_struct_directly)
{
	struct net_opts o;

	memset(&o, 0xa5, sizeof(o));
	ck_assert_int_eq(net_parse("user", &o), 0);
	ck_assert_int_eq(o.kind, NET_USER);
	ck_assert_int_eq(o.nfwd, 0);
	ck_assert(!o.mac_set);
	assert_addr(o.dhcp_start, "10.0.2.15");
	ck_assert_int_eq(net_parse("tap,mtu=1", &o), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err_text, "mtu=1"));
}
END_TEST

START_TEST(hostfwd_overlap_rules)
{
	struct hostfwd any = { .host_port = 80 }, lo = any, lo2 = any, udp = any;

	inet_pton(AF_INET, "127.0.0.1", &lo.host_addr);
	inet_pton(AF_INET, "127.0.0.2", &lo2.host_addr);
	udp.udp = true;
	ck_assert(hostfwd_overlap(&any, &lo));
	ck_assert(hostfwd_overlap(&lo, &any));
	ck_assert(hostfwd_overlap(&lo, &lo));
	ck_assert(!hostfwd_overlap(&lo, &lo2));
	ck_assert(!hostfwd_overlap(&any, &udp));
	lo2 = lo;
	lo2.host_port = 81;
	ck_assert(!hostfwd_overlap(&lo, &lo2));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *t = tcase_create("cli");

	tcase_add_test(t, kernel_alone_gives_all_defaults);
	tcase_add_test(t, every_option_is_stored);
	tcase_add_test(t, dump_dtb_needs_one_non_empty_file_name);
	tcase_add_test(t, runas_and_seccomp_are_stored_and_checked);
	tcase_add_test(t, option_equals_form_and_empty_append_are_accepted);
	tcase_add_test(t, missing_kernel_is_an_error);
	tcase_add_test(t, help_prints_usage_to_stdout_and_returns_1);
	tcase_add_test(t, version_prints_version_and_returns_1);
	tcase_add_test(t, unknown_options_and_stray_arguments_are_errors);
	tcase_add_test(t, option_without_its_value_is_an_error);
	tcase_add_test(t, single_valued_option_given_twice_is_an_error);
	tcase_add_test(t, parsing_again_after_an_error_starts_afresh);
	tcase_add_loop_test(t, mem_accepts_bytes_and_binary_suffixes, 0, N(mem_good));
	tcase_add_loop_test(t, mem_rejects_garbage_overflow_range_and_alignment, 0, N(mem_bad));
	tcase_add_test(t, mem_error_message_reads_as_documented);
	tcase_add_test(t, cpus_accepts_1_to_max);
	tcase_add_loop_test(t, cpus_rejects_non_integers_and_out_of_range, 0, N(cpus_bad));
	tcase_add_test(t, net_tap_defaults);
	tcase_add_test(t, net_tap_with_every_key);
	tcase_add_loop_test(t, net_spec_errors_name_the_key_and_value, 0, N(net_bad));
	tcase_add_test(t, net_user_addresses_follow_net);
	tcase_add_test(t, net_user_smallest_net_works_with_explicit_addresses);
	tcase_add_test(t, net_user_key_order_does_not_matter);
	tcase_add_test(t, hostfwd_short_form_binds_any_and_targets_dhcp_guest);
	tcase_add_test(t, hostfwd_full_form_keeps_both_addresses);
	tcase_add_test(t, hostfwd_same_port_is_fine_on_other_protocol_or_address);
	tcase_add_test(t, hostfwd_up_to_the_limit_and_one_more_rejected);
	tcase_add_test(t, net_repeats_up_to_the_limit_and_one_more_rejected);
	tcase_add_test(t, net_none_means_no_nic);
	tcase_add_test(t, net_none_cannot_be_combined);
	tcase_add_test(t, nics_must_not_share_mac_tap_or_host_port);
	tcase_add_test(t, qmp_takes_a_unix_path_and_nic_ids_are_unique);
	tcase_add_test(t, net_opts_parse_fills_struct_directly);
	tcase_add_test(t, hostfwd_overlap_rules);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return unit_run(cli_suite());
}
