/* fuzz_work.c: per-step work counters and per-queue used-index accounting (fuzz_work.h). */
#include "tests/fuzz/fuzz_work.h"

#include "tests/fuzz/fuzz_mem.h"

static struct {
	const char *step;
	uint64_t pops, sends, recvs;
	uint64_t max_pops, max_sends, max_recvs;
} work;

#define MAX_QUEUES 16

static struct queue_acct {
	const struct virtq *vq;
	uint64_t taken, pushed; /* since the last init/reset */
	uint16_t used_base;	/* vq->used_idx right after it */
} acct[MAX_QUEUES];
static int nacct;
static int (*dev_running)(void *);
static void *dev_opaque;
static int (*dma_allowed)(void *);
static void *dma_opaque;

void fuzz_work_set_dma(int (*dma)(void *opaque), void *opaque)
{
	dma_allowed = dma;
	dma_opaque = opaque;
}

void fuzz_work_set_running(int (*running)(void *opaque), void *opaque)
{
	dev_running = running;
	dev_opaque = opaque;
}

static void check_stopped(const char *what)
{
	FUZZ_CHECK(!dev_running || !dev_running(dev_opaque), "%s of a queue while its device runs", what);
}

static const struct virtq *dev_vq;
static int dev_nvq;

void fuzz_work_set_queues(const struct virtq *vq, int n)
{
	dev_vq = vq;
	dev_nvq = n;
}

/* The accounting of one of the device's queues, NULL for any other struct virtq. */
static struct queue_acct *acct_of(const struct virtq *vq)
{
	if (!dev_vq || vq < dev_vq || vq >= dev_vq + dev_nvq)
		return NULL;
	for (int i = 0; i < nacct; i++)
		if (acct[i].vq == vq)
			return &acct[i];
	FUZZ_CHECK(nacct < MAX_QUEUES, "more than %d queues", MAX_QUEUES);
	acct[nacct] = (struct queue_acct){.vq = vq, .used_base = vq->used_idx};
	return &acct[nacct++];
}

static void acct_restart(const struct virtq *vq)
{
	struct queue_acct *a = acct_of(vq);
	if (!a)
		return;
	a->taken = a->pushed = 0;
	a->used_base = vq->used_idx;
}

void fuzz_work_begin(const char *step, uint64_t max_pops, uint64_t max_sends, uint64_t max_recvs)
{
	/* FUZZ_WORK_SCALE=N multiplies the bounds, for triage: a spin still trips them (or hangs). */
	static uint64_t scale;
	if (!scale) {
		const char *s = getenv("FUZZ_WORK_SCALE");
		scale = s && atoi(s) > 0 ? (uint64_t)atoi(s) : 1;
	}
	max_pops *= scale;
	max_sends *= scale;
	max_recvs *= scale;
	work.step = step;
	work.pops = work.sends = work.recvs = 0;
	work.max_pops = max_pops;
	work.max_sends = max_sends;
	work.max_recvs = max_recvs;
}

void fuzz_work_send(void)
{
	FUZZ_CHECK(++work.sends <= work.max_sends, "%s: more than %llu backend sends", work.step,
		   (unsigned long long)work.max_sends);
}

void fuzz_work_recv(void)
{
	FUZZ_CHECK(++work.recvs <= work.max_recvs, "%s: more than %llu backend recvs", work.step,
		   (unsigned long long)work.max_recvs);
}

uint64_t fuzz_work_max_pops(uint64_t budget, uint16_t size)
{
	return (budget + 2) * (size + 1ULL) + size;
}

void fuzz_work_check_queues(void)
{
	for (int i = 0; i < nacct; i++) {
		const struct queue_acct *a = &acct[i];
		FUZZ_CHECK(a->pushed <= a->taken, "queue %d: %llu chains pushed, only %llu taken", i,
			   (unsigned long long)a->pushed, (unsigned long long)a->taken);
		uint16_t moved = a->vq->used_idx - a->used_base;
		FUZZ_CHECK(a->pushed > UINT16_MAX || moved <= a->pushed,
			   "queue %d: used index moved %u, only %llu chains pushed", i, moved,
			   (unsigned long long)a->pushed);
	}
}

void fuzz_work_forget(void)
{
	nacct = 0;
	dev_running = NULL;
	dma_allowed = NULL;
	dev_vq = NULL;
}

/* --- the wrappers (-Wl,--wrap=...) --- */

int __real_virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc,
		      uint64_t avail, uint64_t used, uint64_t features);
void __real_virtq_reset(struct virtq *vq);
int __real_virtq_pop(struct virtq *vq, struct virtq_elem *e);
void __real_virtq_unpop(struct virtq *vq, uint16_t n);
void __real_virtq_push(struct virtq *vq, uint16_t head, uint32_t len);

int __wrap_virtq_init(struct virtq *vq, const struct guest_mem *mem, uint16_t size, uint64_t desc,
		      uint64_t avail, uint64_t used, uint64_t features)
{
	if (acct_of(vq))
		check_stopped("virtq_init");
	int r = __real_virtq_init(vq, mem, size, desc, avail, used, features);
	acct_restart(vq);
	return r;
}

void __wrap_virtq_reset(struct virtq *vq)
{
	if (acct_of(vq))
		check_stopped("virtq_reset");
	__real_virtq_reset(vq);
	acct_restart(vq);
}

int __wrap_virtq_pop(struct virtq *vq, struct virtq_elem *e)
{
	FUZZ_CHECK(++work.pops <= work.max_pops, "%s: more than %llu pops", work.step,
		   (unsigned long long)work.max_pops);
	int r = __real_virtq_pop(vq, e);
	if (r != 1)
		return r;
	FUZZ_CHECK(!dma_allowed || dma_allowed(dma_opaque), "chain taken while Bus Master Enable is clear");
	struct queue_acct *a = acct_of(vq);
	if (a)
		a->taken++;
	return r;
}

void __wrap_virtq_unpop(struct virtq *vq, uint16_t n)
{
	struct queue_acct *a = acct_of(vq);
	if (a) {
		FUZZ_CHECK(n <= a->taken - a->pushed, "unpop of %u chains, only %llu popped and not pushed",
			   n, (unsigned long long)(a->taken - a->pushed));
		a->taken -= n;
	}
	__real_virtq_unpop(vq, n);
}

void __wrap_virtq_push(struct virtq *vq, uint16_t head, uint32_t len)
{
	struct queue_acct *a = acct_of(vq);
	if (a)
		a->pushed++;
	__real_virtq_push(vq, head, len);
}
