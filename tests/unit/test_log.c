/* test_log.c: guest-triggered diagnostics are counted and rate-limited (vmm/log.c). */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "vmm/log.h"

static uint64_t fake_ns;
static uint64_t fake_clock(void)
{
	return __atomic_load_n(&fake_ns, __ATOMIC_RELAXED);
}

static char *out_buf;
static size_t out_len;

static void capture(void)
{
	log_guest_out = open_memstream(&out_buf, &out_len);
	ck_assert_ptr_nonnull(log_guest_out);
	log_guest_clock = fake_clock;
	fake_ns = 1000;
}

static int lines(void)
{
	fflush(log_guest_out);
	int n = 0;
	for (size_t i = 0; i < out_len; i++)
		n += out_buf[i] == '\n';
	return n;
}

START_TEST(ten_thousand_events_print_the_burst_and_count_all)
{
	static struct log_site site = LOG_SITE_INIT("flood");
	capture();
	for (int i = 0; i < 10000; i++)
		log_guest(&site, "net0: ignored config write %d", i);
	ck_assert_int_eq(lines(), LOG_GUEST_BURST);
	ck_assert_uint_eq(log_site_count(&site), 10000);
	ck_assert_ptr_nonnull(strstr(out_buf, "minivmm: net0: ignored config write 0\n"));
	ck_assert_ptr_null(strstr(out_buf, "write 3"));
}
END_TEST

START_TEST(an_event_after_the_interval_prints_one_summary_line)
{
	static struct log_site site = LOG_SITE_INIT("later");
	capture();
	for (int i = 0; i < 10000; i++)
		log_guest(&site, "bad chain %d", i);
	fake_ns += LOG_GUEST_INTERVAL_NS - 1;
	log_guest(&site, "bad chain early");
	ck_assert_int_eq(lines(), LOG_GUEST_BURST);
	fake_ns += 1;
	for (int i = 0; i < 100; i++)
		log_guest(&site, "bad chain late %d", i);
	ck_assert_int_eq(lines(), LOG_GUEST_BURST + 1);
	/* Events 4..10001 were not shown; event 10002 prints. */
	ck_assert_ptr_nonnull(
	    strstr(out_buf, "minivmm: bad chain late 0 (9998 more not shown, 10002 in all)\n"));
	ck_assert_uint_eq(log_site_count(&site), 10101);
	fake_ns += LOG_GUEST_INTERVAL_NS;
	log_guest(&site, "bad chain next");
	ck_assert_int_eq(lines(), LOG_GUEST_BURST + 2);
	ck_assert_ptr_nonnull(strstr(out_buf, "minivmm: bad chain next (99 more not shown, 10102 in all)\n"));
}
END_TEST

static struct log_site threaded_site = LOG_SITE_INIT("threaded");

static void *log_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++)
		log_guest(&threaded_site, "from a thread");
	return NULL;
}

START_TEST(events_from_several_threads_are_all_counted_and_still_limited)
{
	pthread_t t[4];
	capture();
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, log_many, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(log_site_count(&threaded_site), 40000);
	ck_assert_int_eq(lines(), LOG_GUEST_BURST);
}
END_TEST

START_TEST(stats_list_every_site_that_saw_an_event)
{
	static struct log_site a = LOG_SITE_INIT("alpha"), b = LOG_SITE_INIT("beta"),
			       c = LOG_SITE_INIT("gamma");
	char *s = NULL;
	size_t len = 0;
	capture();
	FILE *f = open_memstream(&s, &len);
	log_guest_stats_print(f);
	fflush(f);
	ck_assert_uint_eq(len, 0);
	for (int i = 0; i < 7; i++)
		log_guest(&a, "a");
	log_guest(&b, "b");
	LOG_GUEST("delta", "d %d", 1);
	log_guest_stats_print(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(s, "stats: guest-events "));
	ck_assert_ptr_nonnull(strstr(s, " alpha=7"));
	ck_assert_ptr_nonnull(strstr(s, " beta=1"));
	ck_assert_ptr_nonnull(strstr(s, " delta=1"));
	ck_assert_ptr_null(strstr(s, "gamma"));
	ck_assert_uint_eq(log_site_count(&c), 0);
	ck_assert_int_eq(s[len - 1], '\n');
	free(s);
}
END_TEST

UNIT_MAIN("log", ten_thousand_events_print_the_burst_and_count_all,
	  an_event_after_the_interval_prints_one_summary_line,
	  events_from_several_threads_are_all_counted_and_still_limited,
	  stats_list_every_site_that_saw_an_event)
