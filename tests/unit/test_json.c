/* test_json.c: vmm/json.c reads what RFC 8259 allows, refuses the rest without crashing, and
 * writes back what it read. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "vmm/json.h"

static struct json *parse(const char *s)
{
	return json_parse(s, strlen(s), NULL);
}

static char *roundtrip(const char *s)
{
	struct json *v = parse(s);
	ck_assert_ptr_nonnull(v);
	struct jbuf b = {0};
	jbuf_value(&b, v);
	json_free(v);
	ck_assert(!b.oom);
	return b.p;
}

START_TEST(object_members_are_found_by_name)
{
	struct json *v = parse(" {\"execute\": \"set_link\", \"arguments\": {\"name\": \"net0\", \"up\": false}, \"id\": 7} ");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_get(v, "execute")->str, "set_link");
	const struct json *a = json_get(v, "arguments");
	ck_assert_int_eq(a->type, JSON_OBJECT);
	ck_assert_str_eq(json_get(a, "name")->str, "net0");
	ck_assert_int_eq(json_get(a, "up")->type, JSON_BOOL);
	ck_assert(!json_get(a, "up")->b);
	ck_assert(json_get(v, "id")->is_int);
	ck_assert_int_eq(json_get(v, "id")->i, 7);
	ck_assert_ptr_null(json_get(v, "nope"));
	json_free(v);
}
END_TEST

START_TEST(string_escapes_decode_to_utf8)
{
	struct json *v = parse("\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\"");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v->str, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
	json_free(v);
}
END_TEST

static const char *const bad_inputs[] = {
    "",	      "{",	  "{\"a\"}",	 "{\"a\":}",  "[1,]",    "{\"a\":1,}", "tru",	   "nul",
    "01",     "1.",	  "-",		 "1e",	      "\"abc",   "\"\\x\"",    "\"\\ud800\"", "\"\\u0000\"",
    "\"\x01\"", "{} {}",  "{\"a\":1} x", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};

START_TEST(malformed_input_is_refused_with_a_reason)
{
	const char *why = NULL;
	struct json *v = json_parse(bad_inputs[_i], strlen(bad_inputs[_i]), &why);
	ck_assert_msg(v == NULL, "accepted: %s", bad_inputs[_i]);
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(values_are_written_back_as_read)
{
	char *s = roundtrip("{\"a\": [1, -2, 3.5, true, false, null, \"x\\ty\"], \"b\": {}}");
	ck_assert_str_eq(s, "{\"a\": [1, -2, 3.5, true, false, null, \"x\\ty\"], \"b\": {}}");
	free(s);
}
END_TEST

START_TEST(control_characters_are_escaped)
{
	struct jbuf b = {0};
	jbuf_str(&b, "q\"\x01\n");
	ck_assert_str_eq(b.p, "\"q\\\"\\u0001\\n\"");
	jbuf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");
	tcase_add_test(tc, object_members_are_found_by_name);
	tcase_add_test(tc, string_escapes_decode_to_utf8);
	tcase_add_loop_test(tc, malformed_input_is_refused_with_a_reason, 0,
			    sizeof(bad_inputs) / sizeof(bad_inputs[0]));
	tcase_add_test(tc, values_are_written_back_as_read);
	tcase_add_test(tc, control_characters_are_escaped);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
