/*
 * decimal.h: strict unsigned decimal for command-line values. Digits only, so signs, spaces,
 * "0x" and the other things strtoul() quietly accepts are refused; overflow is an error.
 */
#ifndef MINIVMM_DECIMAL_H
#define MINIVMM_DECIMAL_H
#include <errno.h>
#include <stdint.h>

/*
 * Parses the digits at the start of s into *out and points *end past them (end may be NULL:
 * then nothing may follow). -EINVAL: no digit, or junk after them; -ERANGE: more than max.
 */
static inline int decimal_parse(const char *s, const char **end, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (end)
		*end = s;
	else if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}
#endif
