/* fuzz_check_shim.c: Check's two assertion entry points, for the unit-test helpers
 * (tests/unit/fake_*.c) that the fuzz targets reuse outside a Check run: a passing ck_assert
 * does nothing, a failing one prints and aborts (libCheck's own versions talk to a test runner
 * that is not there, and exit). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void _mark_point(const char *file, int line)
{
	(void)file;
	(void)line;
}

void _ck_assert_failed(const char *file, int line, const char *expr, const char *msg, ...)
{
	fprintf(stderr, "%s:%d: %s", file, line, expr);
	if (msg) {
		va_list ap;
		va_start(ap, msg);
		fputs(": ", stderr);
		vfprintf(stderr, msg, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	abort();
}
