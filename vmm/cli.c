/* cli.c: getopt_long over argv into struct vm_config; every mistake becomes one clear line. */
#include "vmm/cli.h"
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "vmm/decimal.h"
#include "vmm/log.h"
#include "vmm/net_opts.h"

/* Long-only options get values above any char, so getopt's optopt tells them from -h. */
enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_APPEND,
	OPT_MEM,
	OPT_CPUS,
	OPT_NET,
	OPT_STATS,
	OPT_DUMP_DTB,
	OPT_RUNAS,
	OPT_SECCOMP,
	OPT_QMP,
	OPT_VERSION
};

static const struct option cli_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "net", required_argument, NULL, OPT_NET },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "runas", required_argument, NULL, OPT_RUNAS },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void cli_usage(FILE *f)
{
	fprintf(f,
		"usage: minivmm --kernel FILE [options]\n"
		"\n"
		"Runs a Linux guest on /dev/kvm with virtio-net NICs; the guest's serial console is\n"
		"on stdin/stdout (Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A).\n"
		"\n"
		"  --kernel FILE     the kernel (required): a bzImage (64-bit boot protocol) or an ELF\n"
		"                    vmlinux (booted through its PVH entry)\n"
		"  --initrd FILE     initial ramdisk\n"
		"  --append CMDLINE  kernel command line (default \"" CLI_DEFAULT_CMDLINE "\")\n"
		"  --mem SIZE        guest RAM: bytes or N[K|M|G], a multiple of 1M, 64M..64G"
		" (default 512M)\n"
		"  --cpus N          vCPUs, 1..%d (default %d)\n"
		"  --net SPEC        a virtio-net NIC, up to %d times (default: one user NIC):\n"
		"      tap[,ifname=NAME][,mac=XX:XX:XX:XX:XX:XX][,mtu=N][,vhost=on|off|auto][,id=ID]\n"
		"          [,queue_size=64..1024] (ring size offered, default 1024; also for user)\n"
		"          [,queues=1..16] (queue pairs, one tap queue and I/O thread or vhost-net\n"
		"          each; default 1; the tap must be multi_queue if it exists)\n"
		"      "
		"user[,net=A.B.C.D/NN][,host=ADDR][,dns=ADDR][,dhcpstart=ADDR][,mac=..][,mtu=..][,id=ID]\n"
		"          [,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n"
		"      none              no NIC at all\n"
		"  --stats           when the VM stops, print counters to stderr: KVM exits per vCPU by\n"
		"                    reason, per NIC queue kicks, interrupts, packets, bytes and drops,\n"
		"                    and counted guest events\n"
		"  --runas USER      after opening its devices, drop root to USER (uid, gid, groups,\n"
		"                    all capabilities) before the guest runs\n"
		"  --seccomp on|off  per-thread system call filters (default %s)\n"
		"  --qmp unix:PATH   a QMP control socket (QEMU's protocol: query-status, stop, cont,\n"
		"                    system_powerdown, quit, set_link, x-query-net-stats)\n"
		"  --dump-dtb FILE   build the machine, write its device tree to FILE (read it with\n"
		"                    dtc -I dtb -O dts FILE) and exit without running the guest\n"
		"  --help            show this and exit\n"
		"  --version         show the version and exit\n"
		"\n"
		"Signals: SIGUSR1 prints the --stats counters at once (with or without --stats);\n"
		"SIGTERM, SIGINT and SIGHUP stop the guest and minivmm (exit status 0).\n"
		"Exit status: 0 the guest powered off or reset, or a signal stopped it; 1 the guest or\n"
		"minivmm failed while running; 2 bad input or any setup failure (one line on stderr).\n"
		"Environment: MINIVMM_DEBUG=1 also prints why minivmm stopped when it exits 0.\n"
		"See minivmm(1).\n",
		CONFIG_MAX_CPUS, CLI_DEFAULT_CPUS, CONFIG_MAX_NICS, CLI_DEFAULT_SECCOMP ? "on" : "off");
}

static const char *option_name(int val)
{
	for (const struct option *o = cli_options; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/* N with an optional binary K/M/G suffix. */
static int mem_parse(const char *arg, uint64_t *out)
{
	const char *suffix;
	uint64_t v;
	int shift, ret = decimal_parse(arg, &suffix, UINT64_MAX, &v);

	if (ret == -ERANGE)
		goto out_of_range;
	if (ret)
		goto not_a_size;
	switch (*suffix) {
	case '\0': shift = 0; break;
	case 'K':
	case 'k': shift = 10; break;
	case 'M':
	case 'm': shift = 20; break;
	case 'G':
	case 'g': shift = 30; break;
	default: goto not_a_size;
	}
	if (shift && suffix[1])
		goto not_a_size;
	if (v > (CONFIG_MAX_MEM >> shift) || (v << shift) < CONFIG_MIN_MEM)
		goto out_of_range;
	v <<= shift;
	/* Memory slots and the e820 map stay simple with whole megabytes. */
	if (v & ((1ULL << 20) - 1)) {
		log_err("--mem: \"%s\" is not a multiple of 1M", arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
not_a_size:
	log_err("--mem: \"%s\" is not a size (use e.g. 512M or 2G)", arg);
	return -EINVAL;
out_of_range:
	log_err("--mem: \"%s\" is out of range (%lluM..%lluG)", arg, CONFIG_MIN_MEM >> 20,
		CONFIG_MAX_MEM >> 30);
	return -EINVAL;
}

static int cpus_parse(const char *arg, int *out)
{
	uint64_t v;
	int ret = decimal_parse(arg, NULL, CONFIG_MAX_CPUS, &v);

	if (ret == -EINVAL) {
		log_err("--cpus: \"%s\" is not a number", arg);
		return -EINVAL;
	}
	if (ret || v < 1) {
		log_err("--cpus: \"%s\" is out of range (1..%d)", arg, CONFIG_MAX_CPUS);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* Two NICs must not share a MAC or a tap device, nor two user NICs a forwarded host port. */
static int nic_conflict(const struct vm_config *cfg, const struct net_opts *n, const char *spec)
{
	for (int i = 0; i < cfg->nnics; i++) {
		const struct net_opts *o = &cfg->nic[i];

		if (n->mac_set && o->mac_set && !memcmp(n->mac, o->mac, sizeof(n->mac))) {
			log_err("--net: \"%s\": its mac is already used by NIC %d", spec, i);
			return -EINVAL;
		}
		if (n->id[0] && !strcmp(n->id, o->id)) {
			log_err("--net: \"%s\": id %s is already used by NIC %d", spec, n->id, i);
			return -EINVAL;
		}
		if (n->kind == NET_TAP && o->kind == NET_TAP && n->ifname[0] &&
		    !strcmp(n->ifname, o->ifname)) {
			log_err("--net: \"%s\": ifname %s is already used by NIC %d", spec,
				n->ifname, i);
			return -EINVAL;
		}
		for (int a = 0; a < n->nfwd; a++) {
			for (int b = 0; b < o->nfwd; b++) {
				if (hostfwd_overlap(&n->fwd[a], &o->fwd[b])) {
					log_err("--net: \"%s\": %s host port %u is already "
						"forwarded by NIC %d",
						spec, n->fwd[a].udp ? "udp" : "tcp",
						n->fwd[a].host_port, i);
					return -EINVAL;
				}
			}
		}
	}
	return 0;
}

static int net_add(struct vm_config *cfg, const char *spec)
{
	struct net_opts n;
	int ret = net_opts_parse(spec, &n);

	if (ret < 0)
		return ret;
	if (ret == 1 ? cfg->nnics > 0 : cfg->no_net) {
		log_err("--net: \"%s\": --net none cannot be combined with another --net", spec);
		return -EINVAL;
	}
	if (ret == 1) {
		cfg->no_net = true;
		return 0;
	}
	if (cfg->nnics == CONFIG_MAX_NICS) {
		log_err("--net: \"%s\": too many NICs (at most %d)", spec, CONFIG_MAX_NICS);
		return -EINVAL;
	}
	if (nic_conflict(cfg, &n, spec))
		return -EINVAL;
	cfg->nic[cfg->nnics++] = n;
	return 0;
}

/* getopt returned '?' or ':'; say which option and why, in one line of our own. */
static int option_error(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		log_err("--%s needs a value", option_name(optopt));
	else if (optopt >= 256 || optopt == 'h')
		log_err("--%s does not take a value (\"%s\")", option_name(optopt), arg);
	else if (optopt)
		log_err("unknown option -%c (see --help)", optopt);
	else
		log_err("unknown option \"%s\" (see --help)", arg);
	return -EINVAL;
}

int cli_parse(int argc, char **argv, struct vm_config *cfg)
{
	bool seen[OPT_VERSION + 1] = { false };
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = CLI_DEFAULT_CMDLINE;
	cfg->mem = CLI_DEFAULT_MEM;
	cfg->cpus = CLI_DEFAULT_CPUS;
	cfg->seccomp = CLI_DEFAULT_SECCOMP;

	/*
	 * optind = 0 makes glibc reinitialise its scanner, so repeated calls start afresh.
	 * "+" stops at the first non-option (reported below instead of silently permuted away);
	 * ":" makes a missing value return ':' rather than '?'.
	 */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+:h", cli_options, NULL)) != -1) {
		if (c == '?' || c == ':')
			return option_error(c, argv);
		if (c != OPT_NET && c != OPT_STATS && seen[c]) {
			log_err("--%s is given twice", option_name(c));
			return -EINVAL;
		}
		if (c < (int)(sizeof(seen) / sizeof(seen[0])))
			seen[c] = true;
		switch (c) {
		case 'h': cli_usage(stdout); return 1;
		case OPT_VERSION: printf("minivmm " MINIVMM_VERSION "\n"); return 1;
		case OPT_KERNEL:
		case OPT_INITRD:
		case OPT_DUMP_DTB:
			if (!*optarg) {
				log_err("--%s: the file name is empty", option_name(c));
				return -EINVAL;
			}
			*(c == OPT_KERNEL   ? &cfg->kernel
			  : c == OPT_INITRD ? &cfg->initrd
					    : &cfg->dump_dtb) = optarg;
			break;
		case OPT_APPEND: cfg->cmdline = optarg; break;
		case OPT_MEM:
			if (mem_parse(optarg, &cfg->mem))
				return -EINVAL;
			break;
		case OPT_CPUS:
			if (cpus_parse(optarg, &cfg->cpus))
				return -EINVAL;
			break;
		case OPT_NET:
			if (net_add(cfg, optarg))
				return -EINVAL;
			break;
		case OPT_STATS: cfg->stats = true; break;
		case OPT_RUNAS:
			if (!*optarg) {
				log_err("--runas: the user name is empty");
				return -EINVAL;
			}
			cfg->runas = optarg;
			break;
		case OPT_SECCOMP:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				log_err("--seccomp: \"%s\" is not on or off", optarg);
				return -EINVAL;
			}
			cfg->seccomp = !strcmp(optarg, "on");
			break;
		case OPT_QMP:
			if (strncmp(optarg, "unix:", 5) || !optarg[5]) {
				log_err("--qmp %s: expected unix:PATH", optarg);
				return -EINVAL;
			}
			cfg->qmp = optarg + 5;
			break;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument \"%s\" (options start with --, see --help)",
			argv[optind]);
		return -EINVAL;
	}
	if (!cfg->kernel) {
		log_err("--kernel FILE is required (see --help)");
		return -EINVAL;
	}
	if (!cfg->no_net && cfg->nnics == 0) {
		if (net_opts_parse("user", &cfg->nic[0]))
			return -EINVAL;
		cfg->nnics = 1;
	}
	return 0;
}
