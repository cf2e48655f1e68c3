/* test_cpuid.c: CPUID shaping for one vCPU of N (vmm/cpuid.c). */
#include <check.h>
#include "tests/unit/unit.h"
#include <string.h>

#include "vmm/cpuid.h"

/* A small "supported" table as KVM would report it, with host-ish values to be rewritten. */
static uint32_t table_init(struct kvm_cpuid_entry2 *e)
{
	uint32_t n = 0;
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x906ea, .ebx = 0x07100800, .ecx = 0x7ffafbff, .edx = 0x0fabfbff };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = 0x1c004121 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3, .eax = 0x1c03c163 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xa, .eax = 0x07300404, .ebx = 1, .edx = 0x603 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .eax = 1, .ebx = 2, .ecx = 0x100, .edx = 7 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .eax = 4, .ebx = 16, .ecx = 0x201, .edx = 7 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 2, .eax = 9, .ebx = 9, .ecx = 9, .edx = 7 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0x121 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030, .ecx = 0x7007 };
	e[n++] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 9, .ebx = 0x109, .ecx = 0x303 };
	return n;
}

static struct kvm_cpuid_entry2 *shaped(struct kvm_cpuid_entry2 *e, uint32_t *n, uint32_t id, uint32_t ncpus, bool dl)
{
	*n = table_init(e);
	struct cpuid_opts o = { .apic_id = id, .ncpus = ncpus, .tsc_deadline = dl };
	cpuid_shape(e, *n, &o);
	return e;
}

START_TEST(leaf1_carries_apic_id_count_and_hypervisor_bit)
{
	struct kvm_cpuid_entry2 e[16];
	uint32_t n;
	shaped(e, &n, 3, 4, true);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(e, n, 1, 0);
	ck_assert_ptr_nonnull(l1);
	ck_assert_uint_eq(l1->ebx >> 24, 3);
	ck_assert_uint_eq((l1->ebx >> 16) & 0xff, 4);
	ck_assert_uint_eq(l1->ebx & 0xffff, 0x0800); /* CLFLUSH line size kept */
	ck_assert(l1->ecx & (1u << 31));
	ck_assert(l1->ecx & (1u << 24));
	ck_assert(l1->edx & (1u << 28));
}
END_TEST

START_TEST(single_cpu_has_no_htt_and_no_deadline_without_cap)
{
	struct kvm_cpuid_entry2 e[16];
	uint32_t n;
	shaped(e, &n, 0, 1, false);
	struct kvm_cpuid_entry2 *l1 = cpuid_find(e, n, 1, 0);
	ck_assert(!(l1->edx & (1u << 28)));
	ck_assert(!(l1->ecx & (1u << 24)));
	ck_assert_uint_eq((l1->ebx >> 16) & 0xff, 1);
	ck_assert(!(cpuid_find(e, n, 0x80000001, 0)->ecx & 2));
}
END_TEST

START_TEST(topology_leaf_b_matches_cpu_count)
{
	struct kvm_cpuid_entry2 e[16];
	uint32_t n;
	shaped(e, &n, 2, 3, false);
	struct kvm_cpuid_entry2 *smt = cpuid_find(e, n, 0xb, 0), *core = cpuid_find(e, n, 0xb, 1), *end = cpuid_find(e, n, 0xb, 2);
	ck_assert_uint_eq(smt->eax, 0);
	ck_assert_uint_eq(smt->ebx, 1);
	ck_assert_uint_eq((smt->ecx >> 8) & 0xff, 1);
	ck_assert_uint_eq(smt->edx, 2);
	ck_assert_uint_eq(core->eax, 2); /* 3 CPUs need 2 id bits */
	ck_assert_uint_eq(core->ebx, 3);
	ck_assert_uint_eq((core->ecx >> 8) & 0xff, 2);
	ck_assert_uint_eq(core->edx, 2);
	ck_assert_uint_eq(end->ebx, 0);
	ck_assert_uint_eq((end->ecx >> 8) & 0xff, 0);
}
END_TEST

START_TEST(amd_leaves_count_cores_and_apic_id)
{
	struct kvm_cpuid_entry2 e[16];
	uint32_t n;
	shaped(e, &n, 5, 8, false);
	struct kvm_cpuid_entry2 *l8 = cpuid_find(e, n, 0x80000008, 0), *l1e = cpuid_find(e, n, 0x8000001e, 0);
	ck_assert_uint_eq(l8->ecx & 0xff, 7);
	ck_assert_uint_eq((l8->ecx >> 12) & 0xf, 3);
	ck_assert_uint_eq(l8->eax, 0x3030);
	ck_assert_uint_eq(l1e->eax, 5);
	ck_assert(cpuid_find(e, n, 0x80000001, 0)->ecx & 2);
}
END_TEST

START_TEST(cache_leaf_4_reports_cores_and_pmu_is_hidden)
{
	struct kvm_cpuid_entry2 e[16];
	uint32_t n;
	shaped(e, &n, 0, 2, false);
	ck_assert_uint_eq(cpuid_find(e, n, 4, 0)->eax >> 26, 1);
	ck_assert_uint_eq((cpuid_find(e, n, 4, 3)->eax >> 14) & 0xfff, 1); /* L3 shared by both */
	struct kvm_cpuid_entry2 *pmu = cpuid_find(e, n, 0xa, 0);
	ck_assert_uint_eq(pmu->eax | pmu->ebx | pmu->ecx | pmu->edx, 0);
	ck_assert_uint_eq(cpuid_find(e, n, 0x40000000, 0)->ebx, 0x4b4d564b); /* KVM leaves untouched */
}
END_TEST

START_TEST(id_bits_round_up)
{
	ck_assert_uint_eq(cpuid_id_bits(1), 0);
	ck_assert_uint_eq(cpuid_id_bits(2), 1);
	ck_assert_uint_eq(cpuid_id_bits(3), 2);
	ck_assert_uint_eq(cpuid_id_bits(64), 6);
	ck_assert_ptr_null(cpuid_find((struct kvm_cpuid_entry2[1]){ { .function = 1 } }, 1, 2, 0));
}
END_TEST

START_TEST(phys_bits_come_from_leaf_80000008_guest_bits_first)
{
	struct kvm_cpuid_entry2 e[2] = { { .function = 0 }, { .function = 0x80000008, .eax = 0x3027 } };
	ck_assert_uint_eq(cpuid_phys_bits(e, 2), 39);
	e[1].eax = 0x3030;
	ck_assert_uint_eq(cpuid_phys_bits(e, 2), 48);
	/* KVM's GuestPhysBits (EAX[23:16]): a 52-bit host whose TDP reaches 48 bits. */
	e[1].eax = 0x303034;
	ck_assert_uint_eq(cpuid_phys_bits(e, 2), 48);
	/* No leaf: the SDM's 36. */
	ck_assert_uint_eq(cpuid_phys_bits(e, 1), 36);
}
END_TEST

UNIT_MAIN("cpuid", phys_bits_come_from_leaf_80000008_guest_bits_first, leaf1_carries_apic_id_count_and_hypervisor_bit, single_cpu_has_no_htt_and_no_deadline_without_cap,
	  topology_leaf_b_matches_cpu_count, amd_leaves_count_cores_and_apic_id,
	  cache_leaf_4_reports_cores_and_pmu_is_hidden, id_bits_round_up)
