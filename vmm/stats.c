/* stats.c: the --stats report. */
#include "vmm/stats.h"

#include "vmm/log.h"

static void stats_vcpu(FILE *f, const struct vcpu *v)
{
	uint64_t total = 0;
	for (int r = 0; r < VCPU_EXIT_REASONS; r++)
		total += v->exits[r];
	fprintf(f, "stats: vcpu%d exits %llu:", v->id, (unsigned long long)total);
	for (int r = 0; r < VCPU_EXIT_REASONS; r++)
		if (v->exits[r])
			fprintf(f, " %s=%llu", vcpu_exit_name((uint32_t)r), (unsigned long long)v->exits[r]);
	fputc('\n', f);
}

void stats_print(FILE *f, const struct vcpu *v, int nvcpus, struct virtio_net *const *nics, int nnics)
{
	for (int i = 0; i < nvcpus; i++)
		stats_vcpu(f, &v[i]);
	for (int i = 0; i < nnics; i++)
		virtio_net_stats_print(nics[i], f);
	log_guest_stats_print(f);
	fflush(f);
}
