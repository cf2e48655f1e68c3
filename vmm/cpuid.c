/* cpuid.c: per-vCPU CPUID shaping. All vCPUs are cores of one socket, one thread each. */
#include "vmm/cpuid.h"

#include <stddef.h>

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)
#define CPUID_EXT1_ECX_CMP_LEGACY (1u << 1)

/* Level types of leaf 0xB / 0x1F (SDM: "Extended Topology Enumeration"). */
#define TOPO_SMT 1
#define TOPO_CORE 2

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid_entry2 *e, uint32_t n, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < n; i++)
		if (e[i].function == function && e[i].index == index)
			return &e[i];
	return NULL;
}

uint32_t cpuid_phys_bits(struct kvm_cpuid_entry2 *e, uint32_t n)
{
	const struct kvm_cpuid_entry2 *c = cpuid_find(e, n, 0x80000008, 0);
	if (!c)
		return 36;
	uint32_t guest = (c->eax >> 16) & 0xff;
	return guest ? guest : c->eax & 0xff;
}

uint32_t cpuid_id_bits(uint32_t ncpus)
{
	uint32_t bits = 0;
	while ((1u << bits) < ncpus)
		bits++;
	return bits;
}

static void cpuid_topology_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_opts *o)
{
	switch (e->index) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (TOPO_SMT << 8) | 0;
		break;
	case 1: /* core level: ncpus cores in the package */
		e->eax = cpuid_id_bits(o->ncpus);
		e->ebx = o->ncpus;
		e->ecx = (TOPO_CORE << 8) | 1;
		break;
	default: /* invalid level ends the enumeration */
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
	e->edx = o->apic_id;
}

void cpuid_shape(struct kvm_cpuid_entry2 *e, uint32_t n, const struct cpuid_opts *o)
{
	for (uint32_t i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *c = &e[i];
		switch (c->function) {
		case 1:
			/* EBX: APIC id [31:24], logical processors per package [23:16], CLFLUSH size kept. */
			c->ebx = (c->ebx & 0xffff) | (o->ncpus << 16) | (o->apic_id << 24);
			c->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (o->tsc_deadline)
				c->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			else
				c->ecx &= ~CPUID_1_ECX_TSC_DEADLINE;
			if (o->ncpus > 1)
				c->edx |= CPUID_1_EDX_HTT;
			else
				c->edx &= ~CPUID_1_EDX_HTT;
			break;
		case 4: /* Intel cache parameters: cores per package - 1 in [31:26], one thread per cache */
			if ((c->eax & 0x1f) == 0)
				break; /* no more caches */
			c->eax = (c->eax & 0x3ff) | ((o->ncpus - 1) << 26);
			if (((c->eax >> 5) & 7) == 3) /* L3 is shared by all cores */
				c->eax |= (o->ncpus - 1) << 14;
			break;
		case 0xa: /* no virtual PMU: nested and emulated PMUs are unreliable, and benches don't need it */
			c->eax = c->ebx = c->ecx = c->edx = 0;
			break;
		case 0xb:
		case 0x1f:
			cpuid_topology_leaf(c, o);
			break;
		case 0x80000001:
			if (o->ncpus > 1)
				c->ecx |= CPUID_EXT1_ECX_CMP_LEGACY;
			else
				c->ecx &= ~CPUID_EXT1_ECX_CMP_LEGACY;
			break;
		case 0x80000008: /* AMD: NC = cores - 1, ApicIdCoreIdSize */
			c->ecx = (c->ecx & ~0xf0ffu) | (cpuid_id_bits(o->ncpus) << 12) | (o->ncpus - 1);
			break;
		case 0x8000001e: /* AMD: extended APIC id, one thread per core, one node */
			c->eax = o->apic_id;
			c->ebx = o->apic_id & 0xff;
			c->ecx = 0;
			break;
		default:
			break;
		}
	}
}
