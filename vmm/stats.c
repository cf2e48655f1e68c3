/* stats.c: the --stats report. */
#include "vmm/stats.h"

static const char *const queue_names[NET_NUM_QUEUES] = { "rx", "tx", "ctrl" };

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

static void stats_nic(FILE *f, const struct virtio_net *n)
{
	for (int q = 0; q < NET_NUM_QUEUES; q++) {
		const struct net_queue_stats *s = &n->stats[q];
		fprintf(f, "stats: net%d %s (%s) kicks=%llu interrupts=%llu packets=%llu bytes=%llu drops=%llu\n",
			n->index, queue_names[q], q == NET_Q_CTRL || !n->datapath ? "vmm" : n->datapath->name,
			(unsigned long long)s->kicks, (unsigned long long)s->interrupts,
			(unsigned long long)s->packets, (unsigned long long)s->bytes, (unsigned long long)s->drops);
	}
}

void stats_print(FILE *f, const struct vcpu *v, int nvcpus, struct virtio_net *const *nics, int nnics)
{
	for (int i = 0; i < nvcpus; i++)
		stats_vcpu(f, &v[i]);
	for (int i = 0; i < nnics; i++)
		stats_nic(f, nics[i]);
	fflush(f);
}
