/* net_backend.c: picks the backend for a NIC from the ones that registered themselves. */
#include "devices/net/net_backend.h"

#include <errno.h>
#include <string.h>

#include "vmm/config.h"
#include "vmm/log.h"

/* Filled by NET_BACKEND_REGISTER constructors before main(); read-only afterwards. */
static struct net_backend_type *net_backend_types;

void net_backend_register(struct net_backend_type *t)
{
	t->next = net_backend_types;
	net_backend_types = t;
}

int net_backend_open(struct net_backend *be, const struct net_opts *opts)
{
	memset(be, 0, sizeof(*be));
	be->fd = -1;
	for (struct net_backend_type *t = net_backend_types; t; t = t->next)
		if (t->kind == (int)opts->kind)
			return t->open(be, opts);
	log_err("net: no backend of kind %d is built in", (int)opts->kind);
	return -ENOTSUP;
}
