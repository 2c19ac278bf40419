/* jw.c - a JSON writer that tracks nesting; see jw.h. */
#include <string.h>

#include "json/jw.h"

void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* Writes the comma and name that a value at this point needs; -1: misuse. */
static int
jw_pre(struct jw *w, const char *name)
{
	uint64_t	 bit;
	int		 inarray;

	if (w->err)
		return -1;
	if (w->depth == 0) {
		if (name != NULL || w->done)
			goto bad;
		return 0;
	}
	bit = (uint64_t)1 << (w->depth - 1);
	inarray = (w->array & bit) != 0;
	if (inarray != (name == NULL))
		goto bad;
	if (w->more & bit)
		buf_add(w->b, ",", 1);
	w->more |= bit;
	if (name != NULL) {
		buf_json_str(w->b, name, strlen(name));
		buf_add(w->b, ":", 1);
	}
	return 0;
bad:
	w->err = 1;
	return -1;
}

/* After a scalar: at the top it completes the document. */
static void
jw_post(struct jw *w)
{
	if (w->depth == 0)
		w->done = 1;
}

static void
jw_open(struct jw *w, const char *name, int array)
{
	uint64_t	 bit;

	if (jw_pre(w, name) == -1)
		return;
	if (w->depth == JW_DEPTH_MAX) {
		w->err = 1;
		return;
	}
	bit = (uint64_t)1 << w->depth++;
	w->more &= ~bit;
	if (array)
		w->array |= bit;
	else
		w->array &= ~bit;
	buf_add(w->b, array ? "[" : "{", 1);
}

void
jw_obj(struct jw *w, const char *name)
{
	jw_open(w, name, 0);
}

void
jw_arr(struct jw *w, const char *name)
{
	jw_open(w, name, 1);
}

void
jw_close(struct jw *w)
{
	uint64_t	 bit;

	if (w->err)
		return;
	if (w->depth == 0) {
		w->err = 1;
		return;
	}
	bit = (uint64_t)1 << --w->depth;
	buf_add(w->b, (w->array & bit) ? "]" : "}", 1);
	jw_post(w);
}

void
jw_str(struct jw *w, const char *name, const char *s, size_t n)
{
	if (jw_pre(w, name) == -1)
		return;
	buf_json_str(w->b, s, n);
	jw_post(w);
}

void
jw_strz(struct jw *w, const char *name, const char *s)
{
	jw_str(w, name, s, strlen(s));
}

void
jw_u64(struct jw *w, const char *name, uint64_t v)
{
	if (jw_pre(w, name) == -1)
		return;
	buf_u64(w->b, v);
	jw_post(w);
}

void
jw_bool(struct jw *w, const char *name, int v)
{
	jw_raw(w, name, v ? "true" : "false", v ? 4 : 5);
}

void
jw_null(struct jw *w, const char *name)
{
	jw_raw(w, name, "null", 4);
}

void
jw_raw(struct jw *w, const char *name, const char *json, size_t n)
{
	if (jw_pre(w, name) == -1)
		return;
	buf_add(w->b, json, n);
	jw_post(w);
}

void
jw_splice(struct jw *w, const char *json, size_t n)
{
	uint64_t	 bit;

	if (w->err)
		return;
	if (w->depth == 0 || n < 2 || json[0] != '[' || json[n - 1] != ']') {
		w->err = 1;
		return;
	}
	bit = (uint64_t)1 << (w->depth - 1);
	if (!(w->array & bit)) {
		w->err = 1;
		return;
	}
	if (n == 2)
		return;
	if (w->more & bit)
		buf_add(w->b, ",", 1);
	w->more |= bit;
	buf_add(w->b, json + 1, n - 2);
}

int
jw_end(struct jw *w)
{
	if (w->err || w->depth != 0 || !w->done)
		return -1;
	buf_add(w->b, "\n", 1);
	return 0;
}

int
jw_ok(const struct jw *w)
{
	return w->err ? -1 : 0;
}
