/* fuzz_net_opts.c: libFuzzer target for what a user types: a --net SPEC (vmm/net_opts.c) or a
 * whole command line (vmm/cli.c).
 *
 * Input: mode:u8, then text. Mode even: the text is one SPEC for net_opts_parse(). Mode odd: the
 * text, split at NUL bytes, is argv[1..] for cli_parse(). Invariants: the documented results
 * only (0/1/-EINVAL for a SPEC, 0/1/-EINVAL for a command line) and a parsed SPEC that is
 * self-consistent (tap names NUL-terminated, at most CONFIG_MAX_HOSTFWD rules, no two that
 * overlap). */
#include <errno.h>
#include <string.h>

#include "tests/fuzz/fuzz_mem.h"
#include "vmm/cli.h"
#include "vmm/net_opts.h"

#define MAX_ARGS 64

static void spec_check(const uint8_t *data, size_t size)
{
	static char spec[4097];
	size_t n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
	memcpy(spec, data, n);
	spec[n] = '\0';
	struct net_opts o;
	int r = net_opts_parse(spec, &o);
	FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL, "net_opts_parse returned %d", r);
	if (r != 0)
		return;
	FUZZ_CHECK(memchr(o.ifname, '\0', sizeof(o.ifname)), "ifname not terminated");
	FUZZ_CHECK(o.nfwd >= 0 && o.nfwd <= CONFIG_MAX_HOSTFWD, "%d hostfwd rules", o.nfwd);
	for (int i = 0; i < o.nfwd; i++) {
		FUZZ_CHECK(o.fwd[i].host_port && o.fwd[i].guest_port, "hostfwd rule %d has port 0", i);
		for (int j = 0; j < i; j++)
			FUZZ_CHECK(!hostfwd_overlap(&o.fwd[i], &o.fwd[j]), "hostfwd rules %d and %d overlap",
				   j, i);
	}
	FUZZ_CHECK(!o.mtu || o.mtu >= 68, "mtu %u", o.mtu);
	FUZZ_CHECK(!o.mac_set || !(o.mac[0] & 1), "multicast MAC accepted");
}

static void cli_check(const uint8_t *data, size_t size)
{
	static char buf[4097];
	char *argv[MAX_ARGS + 2];
	size_t n = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
	memcpy(buf, data, n);
	buf[n] = '\0';
	int argc = 0;
	argv[argc++] = "minivmm";
	for (char *p = buf; p <= buf + n && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	struct vm_config cfg;
	int r = cli_parse(argc, argv, &cfg);
	FUZZ_CHECK(r == 0 || r == 1 || r == -EINVAL, "cli_parse returned %d", r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		cli_check(data + 1, size - 1);
	else
		spec_check(data + 1, size - 1);
	return 0;
}
