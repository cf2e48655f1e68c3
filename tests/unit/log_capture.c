/* log_capture.c: capture of log_guest() output and counts (see log_capture.h). */
#include "tests/unit/log_capture.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *buf;
static size_t len;

static uint64_t frozen_clock(void)
{
	return 1000;
}

void guest_log_capture(void)
{
	log_guest_out = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(log_guest_out);
	log_guest_clock = frozen_clock;
}

int guest_log_lines(const char *what)
{
	fflush(log_guest_out);
	int n = 0;
	for (const char *p = buf; p && (p = strstr(p, what)); p++)
		n++;
	return n;
}

long guest_event_count(const char *key)
{
	char *s;
	size_t n;
	FILE *f = open_memstream(&s, &n);
	ck_assert_ptr_nonnull(f);
	log_guest_stats_print(f);
	fclose(f);
	char k[64];
	snprintf(k, sizeof(k), " %s=", key);
	const char *p = strstr(s, k);
	long count = p ? strtol(p + strlen(k), NULL, 10) : -1;
	free(s);
	return count;
}
