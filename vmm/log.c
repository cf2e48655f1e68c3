/* log.c: the debug switch behind log_dbg(), and the counted, rate-limited log_guest(). */
#include "vmm/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

int log_debug_on;
FILE *log_guest_out;
uint64_t (*log_guest_clock)(void);

static struct log_site *log_sites; /* every site that saw an event, newest first */

static uint64_t log_now(void)
{
	if (log_guest_clock)
		return log_guest_clock();
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void log_site_link(struct log_site *s)
{
	int zero = 0;
	if (__atomic_load_n(&s->linked, __ATOMIC_ACQUIRE) ||
	    !__atomic_compare_exchange_n(&s->linked, &zero, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	struct log_site *head = __atomic_load_n(&log_sites, __ATOMIC_ACQUIRE);
	do
		s->next = head;
	while (!__atomic_compare_exchange_n(&log_sites, &head, s, true, __ATOMIC_RELEASE, __ATOMIC_ACQUIRE));
}

/* Whether event number n (1-based) of s gets a line, and how many before it were not shown. */
static bool log_site_admit(struct log_site *s, uint64_t n, uint64_t *hidden)
{
	uint64_t now = log_now();
	if (n <= LOG_GUEST_BURST) {
		__atomic_store_n(&s->last_ns, now, __ATOMIC_RELAXED);
		__atomic_store_n(&s->shown, n, __ATOMIC_RELAXED);
		*hidden = 0;
		return true;
	}
	uint64_t last = __atomic_load_n(&s->last_ns, __ATOMIC_RELAXED);
	if (now - last < LOG_GUEST_INTERVAL_NS)
		return false;
	/* One thread wins the interval; the others count silently. */
	if (!__atomic_compare_exchange_n(&s->last_ns, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return false;
	uint64_t prev = __atomic_exchange_n(&s->shown, n, __ATOMIC_RELAXED);
	*hidden = n > prev ? n - prev - 1 : 0;
	return true;
}

void log_guest(struct log_site *s, const char *fmt, ...)
{
	uint64_t n = __atomic_add_fetch(&s->count, 1, __ATOMIC_RELAXED), hidden;
	log_site_link(s);
	if (!log_site_admit(s, n, &hidden))
		return;
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	FILE *f = log_guest_out ? log_guest_out : stderr;
	/* One fprintf per line, so lines from several threads do not interleave. */
	if (hidden)
		fprintf(f, "minivmm: %s (%llu more not shown, %llu in all)\n", msg,
			(unsigned long long)hidden, (unsigned long long)n);
	else if (n == LOG_GUEST_BURST)
		fprintf(f, "minivmm: %s (further ones: one line per %llu s)\n", msg,
			(unsigned long long)(LOG_GUEST_INTERVAL_NS / 1000000000ULL));
	else
		fprintf(f, "minivmm: %s\n", msg);
}

uint64_t log_site_count(const struct log_site *s)
{
	return __atomic_load_n(&s->count, __ATOMIC_RELAXED);
}

void log_guest_stats_print(FILE *f)
{
	bool any = false;
	for (struct log_site *s = __atomic_load_n(&log_sites, __ATOMIC_ACQUIRE); s; s = s->next) {
		fprintf(f, "%s %s=%llu", any ? "" : "stats: guest-events", s->name,
			(unsigned long long)log_site_count(s));
		any = true;
	}
	if (any)
		fputc('\n', f);
}
