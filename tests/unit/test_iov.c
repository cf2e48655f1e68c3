/* test_iov.c: copying between a flat buffer and an iovec at a byte offset (vmm/iov.c). */
#include <check.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "vmm/iov.h"

START_TEST(size_sums_every_element_zero_length_ones_included)
{
	char a[3], b[5];
	struct iovec v[] = {{a, 3}, {b, 0}, {b, 5}};
	ck_assert_uint_eq(iov_size(v, 3), 8);
	ck_assert_uint_eq(iov_size(v, 0), 0);
}
END_TEST

START_TEST(to_buf_spans_elements_from_an_offset_and_stops_at_the_end)
{
	char a[] = "abc", b[] = "defgh", c[] = "ijklmno";
	struct iovec v[] = {{a, 3}, {NULL, 0}, {b, 5}, {c, 7}};
	char buf[32];
	memset(buf, '.', sizeof(buf));
	ck_assert_uint_eq(iov_to_buf(v, 4, 0, buf, 15), 15);
	ck_assert_mem_eq(buf, "abcdefghijklmno.", 16);
	memset(buf, '.', sizeof(buf));
	ck_assert_uint_eq(iov_to_buf(v, 4, 2, buf, 8), 8);
	ck_assert_mem_eq(buf, "cdefghij..", 10);
	/* Past the end: what is there, then nothing; the buffer beyond is untouched. */
	memset(buf, '.', sizeof(buf));
	ck_assert_uint_eq(iov_to_buf(v, 4, 12, buf, 20), 3);
	ck_assert_mem_eq(buf, "mno.", 4);
	ck_assert_uint_eq(iov_to_buf(v, 4, 15, buf, 20), 0);
	ck_assert_uint_eq(iov_to_buf(v, 4, 1000, buf, 20), 0);
	ck_assert_uint_eq(iov_to_buf(v, 4, 3, buf, 0), 0);
}
END_TEST

START_TEST(from_buf_spans_elements_from_an_offset_and_is_cut_at_the_end)
{
	char a[2] = {0}, b[4] = {0}, c[6] = {0};
	struct iovec v[] = {{a, 2}, {b, 4}, {c, 6}};
	ck_assert_uint_eq(iov_from_buf(v, 3, 1, "ABCDEFG", 7), 7);
	ck_assert_mem_eq(a, "\0A", 2);
	ck_assert_mem_eq(b, "BCDE", 4);
	ck_assert_mem_eq(c, "FG\0\0\0\0", 6);
	ck_assert_uint_eq(iov_from_buf(v, 3, 10, "xyzw", 4), 2);
	ck_assert_mem_eq(c, "FG\0\0xy", 6);
	ck_assert_uint_eq(iov_from_buf(v, 3, 12, "q", 1), 0);
	/* Only the first iovcnt elements count. */
	ck_assert_uint_eq(iov_from_buf(v, 1, 0, "QRS", 3), 2);
	ck_assert_mem_eq(a, "QR", 2);
	ck_assert_mem_eq(b, "BCDE", 4);
}
END_TEST

UNIT_MAIN("iov", size_sums_every_element_zero_length_ones_included,
	  to_buf_spans_elements_from_an_offset_and_stops_at_the_end,
	  from_buf_spans_elements_from_an_offset_and_is_cut_at_the_end)
