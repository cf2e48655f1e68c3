/* json.c: a recursive-descent JSON reader with depth and size limits, and a JSON text writer. */
#include "vmm/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reader {
	const char *s, *end;
	const char *err;
};

static struct json *value(struct reader *r, int depth);

static void ws(struct reader *r)
{
	while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' || *r->s == '\r'))
		r->s++;
}

static struct json *fail(struct reader *r, const char *why)
{
	if (!r->err)
		r->err = why;
	return NULL;
}

static struct json *node(struct reader *r, enum json_type t)
{
	struct json *v = calloc(1, sizeof(*v));
	if (!v)
		return fail(r, "out of memory");
	v->type = t;
	return v;
}

static bool literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->s) < n || memcmp(r->s, word, n))
		return false;
	r->s += n;
	return true;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* A \uXXXX escape at p (after the backslash-u), with its low surrogate if it is a high one.
 * Returns the code point and advances *p, or -1. */
static long unicode_escape(struct reader *r, const char **p)
{
	if (r->end - *p < 4)
		return -1;
	long cp = hex4(*p);
	if (cp < 0)
		return -1;
	*p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -1; /* a lone low surrogate */
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - *p < 6 || (*p)[0] != '\\' || (*p)[1] != 'u')
			return -1;
		long lo = hex4(*p + 2);
		if (lo < 0xdc00 || lo > 0xdfff)
			return -1;
		*p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return cp;
}

/* A string literal; r->s is at the opening quote. The decoded text is never longer than the
 * escaped one, so one allocation of the literal's length suffices. */
static char *string(struct reader *r)
{
	const char *p = ++r->s, *q = p;
	while (q < r->end && *q != '"')
		q += (*q == '\\' && q + 1 < r->end) ? 2 : 1;
	if (q >= r->end)
		return fail(r, "unterminated string"), NULL;
	char *out = malloc(q - p + 1), *o = out;
	if (!out)
		return fail(r, "out of memory"), NULL;
	while (p < q) {
		unsigned char c = *p++;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		char e = *p++;
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			*o++ = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			continue;
		}
		if (e != 'u')
			goto bad;
		long cp = unicode_escape(r, &p);
		if (cp <= 0 || p > q)
			goto bad; /* invalid, or \u0000, which a C string cannot hold */
		o += utf8_put(o, cp);
	}
	*o = 0;
	r->s = q + 1;
	return out;
bad:
	free(out);
	return fail(r, "bad string"), NULL;
}

static struct json *number(struct reader *r)
{
	const char *p = r->s;
	bool is_int = true;
	if (p < r->end && *p == '-')
		p++;
	if (p >= r->end || *p < '0' || *p > '9')
		return fail(r, "unexpected character");
	if (*p == '0')
		p++;
	else
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	if (p < r->end && *p == '.') {
		is_int = false;
		if (++p >= r->end || *p < '0' || *p > '9')
			return fail(r, "bad number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < r->end && (*p == 'e' || *p == 'E')) {
		is_int = false;
		if (++p < r->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= r->end || *p < '0' || *p > '9')
			return fail(r, "bad number");
		while (p < r->end && *p >= '0' && *p <= '9')
			p++;
	}
	char buf[64];
	size_t n = p - r->s;
	if (n >= sizeof(buf))
		return fail(r, "number too long");
	memcpy(buf, r->s, n);
	buf[n] = 0;
	struct json *v = node(r, JSON_NUMBER);
	if (!v)
		return NULL;
	v->num = strtod(buf, NULL);
	if (is_int) {
		errno = 0;
		long long i = strtoll(buf, NULL, 10);
		v->is_int = errno == 0;
		v->i = i;
	}
	r->s = p;
	return v;
}

static bool add(struct json *v, char *key, struct json *item)
{
	/* Grow by doubling; n is bounded by the input's length. */
	if ((v->n & (v->n - 1)) == 0) {
		size_t cap = v->n ? 2 * v->n : 1;
		struct json **it = realloc(v->item, cap * sizeof(*it));
		if (!it)
			return false;
		v->item = it;
		if (v->type == JSON_OBJECT) {
			char **k = realloc(v->key, cap * sizeof(*k));
			if (!k)
				return false;
			v->key = k;
		}
	}
	v->item[v->n] = item;
	if (v->type == JSON_OBJECT)
		v->key[v->n] = key;
	v->n++;
	return true;
}

/* An array or object; r->s is at its opening bracket. */
static struct json *container(struct reader *r, int depth, enum json_type t)
{
	char close = t == JSON_ARRAY ? ']' : '}';
	struct json *v = node(r, t);
	if (!v)
		return NULL;
	r->s++;
	ws(r);
	if (r->s < r->end && *r->s == close) {
		r->s++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		ws(r);
		if (t == JSON_OBJECT) {
			if (r->s >= r->end || *r->s != '"' || !(key = string(r)))
				goto bad;
			ws(r);
			if (r->s >= r->end || *r->s++ != ':') {
				free(key);
				goto bad;
			}
		}
		struct json *item = value(r, depth + 1);
		if (!item || !add(v, key, item)) {
			free(key);
			json_free(item);
			goto bad;
		}
		ws(r);
		if (r->s < r->end && *r->s == ',') {
			r->s++;
			continue;
		}
		if (r->s < r->end && *r->s == close) {
			r->s++;
			return v;
		}
		goto bad;
	}
bad:
	json_free(v);
	return fail(r, t == JSON_ARRAY ? "bad array" : "bad object");
}

static struct json *value(struct reader *r, int depth)
{
	if (depth > JSON_MAX_DEPTH)
		return fail(r, "nested too deeply");
	ws(r);
	if (r->s >= r->end)
		return fail(r, "unexpected end of input");
	struct json *v;
	switch (*r->s) {
	case '{':
		return container(r, depth, JSON_OBJECT);
	case '[':
		return container(r, depth, JSON_ARRAY);
	case '"': {
		char *s = string(r);
		if (!s)
			return NULL;
		if (!(v = node(r, JSON_STRING)))
			free(s);
		else
			v->str = s;
		return v;
	}
	case 't':
	case 'f': {
		bool t = literal(r, "true");
		if (!t && !literal(r, "false"))
			return fail(r, "unexpected character");
		if ((v = node(r, JSON_BOOL)))
			v->b = t;
		return v;
	}
	case 'n':
		return literal(r, "null") ? node(r, JSON_NULL) : fail(r, "unexpected character");
	default:
		return number(r);
	}
}

struct json *json_parse(const char *s, size_t len, const char **err)
{
	struct reader r = {.s = s, .end = s + len};
	struct json *v = value(&r, 0);
	if (v) {
		ws(&r);
		if (r.s != r.end) {
			json_free(v);
			v = fail(&r, "trailing characters");
		}
	}
	if (!v && err)
		*err = r.err ? r.err : "parse error";
	return v;
}

void json_free(struct json *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		json_free(v->item[i]);
		if (v->key)
			free(v->key[i]);
	}
	free(v->item);
	free(v->key);
	free(v->str);
	free(v);
}

const struct json *json_get(const struct json *v, const char *key)
{
	if (!v || v->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->key[i], key))
			return v->item[i];
	return NULL;
}

const char *json_type_name(enum json_type t)
{
	static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
	return names[t];
}

/* --- writing --- */

static bool reserve(struct jbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void jbuf_raw(struct jbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

void jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, n)) {
		b->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

void jbuf_str(struct jbuf *b, const char *s)
{
	put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		const char *esc = NULL;
		char u[8];
		switch (*p) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\t':
			esc = "\\t";
			break;
		default:
			if (*p < 0x20) {
				snprintf(u, sizeof(u), "\\u%04x", *p);
				esc = u;
			}
		}
		if (esc)
			jbuf_raw(b, esc);
		else
			put(b, (const char *)p, 1);
	}
	put(b, "\"", 1);
}

void jbuf_value(struct jbuf *b, const struct json *v)
{
	switch (v->type) {
	case JSON_NULL:
		jbuf_raw(b, "null");
		break;
	case JSON_BOOL:
		jbuf_raw(b, v->b ? "true" : "false");
		break;
	case JSON_NUMBER:
		if (v->is_int)
			jbuf_printf(b, "%lld", (long long)v->i);
		else
			jbuf_printf(b, "%.17g", v->num);
		break;
	case JSON_STRING:
		jbuf_str(b, v->str);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		jbuf_raw(b, v->type == JSON_ARRAY ? "[" : "{");
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				jbuf_raw(b, ", ");
			if (v->type == JSON_OBJECT) {
				jbuf_str(b, v->key[i]);
				jbuf_raw(b, ": ");
			}
			jbuf_value(b, v->item[i]);
		}
		jbuf_raw(b, v->type == JSON_ARRAY ? "]" : "}");
		break;
	}
}

void jbuf_free(struct jbuf *b)
{
	free(b->p);
	*b = (struct jbuf){0};
}
