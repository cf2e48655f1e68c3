/* json.h: the small JSON reader and writer QMP needs (RFC 8259).
 *
 * json_parse() builds a tree from untrusted bytes with hard limits (nesting depth, size); every
 * failure is a NULL plus a short reason, never a crash. A struct jbuf appends JSON text to a
 * growing buffer; it fails closed (jbuf.oom) instead of aborting, so a writer checks once at the
 * end. */
#ifndef MINIVMM_JSON_H
#define MINIVMM_JSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;		     /* JSON_BOOL */
	double num;	     /* JSON_NUMBER */
	bool is_int;	     /* JSON_NUMBER written without fraction or exponent */
	int64_t i;	     /* JSON_NUMBER, when is_int */
	char *str;	     /* JSON_STRING: UTF-8, NUL-terminated (an escaped \u0000 is refused) */
	size_t n;	     /* JSON_ARRAY / JSON_OBJECT: number of members */
	struct json **item;  /* their values */
	char **key;	     /* JSON_OBJECT: their names */
};

/* Parses exactly one JSON value (surrounding whitespace allowed) from s[0..len). NULL on any
 * error, with *err (if err is not NULL) set to a static description. */
struct json *json_parse(const char *s, size_t len, const char **err);
void json_free(struct json *v);
/* The member `key` of an object, or NULL (also when v is not an object). */
const struct json *json_get(const struct json *v, const char *key);
/* The JSON name of a type, as QMP error messages use it ("boolean", "string", ...). */
const char *json_type_name(enum json_type t);

struct jbuf {
	char *p;
	size_t len, cap;
	bool oom; /* an append failed: the text is incomplete */
};
/* Raw text. */
void jbuf_raw(struct jbuf *b, const char *s);
void jbuf_printf(struct jbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal with every needed escape. */
void jbuf_str(struct jbuf *b, const char *s);
/* v written back as JSON text (QMP echoes the client's "id" this way). */
void jbuf_value(struct jbuf *b, const struct json *v);
void jbuf_free(struct jbuf *b);
#endif
