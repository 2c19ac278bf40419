/*
 * jw.h - a JSON writer that tracks nesting, for every response body.
 *
 * The writer puts the commas and the member names; the caller says what
 * comes next. A value takes a member name inside an object and NULL inside
 * an array or at the top. Misuse (a name missing or given where it does
 * not belong, a close with nothing open, nesting past JW_DEPTH_MAX, a
 * second top-level value) is sticky: later calls write nothing and
 * jw_end() returns -1, so a handler never sends half a document as if it
 * were whole. Names are C strings, escaped like any string.
 *
 * The writer appends to a struct buf it does not own; an allocation
 * failure is the buf's `oom`, checked once by the caller as before.
 */
#ifndef JW_H
#define JW_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define JW_DEPTH_MAX	64

struct jw {
	struct buf	*b;		/* not owned */
	unsigned	 depth;		/* containers open */
	uint64_t	 array;		/* bit d: container d+1 is an array */
	uint64_t	 more;		/* bit d: container d+1 holds a value */
	int		 done;		/* the top-level value is complete */
	int		 err;		/* misuse; sticky */
};

/* Starts a document at the end of b. */
void	jw_init(struct jw *, struct buf *b);

void	jw_obj(struct jw *, const char *name);		/* opens { */
void	jw_arr(struct jw *, const char *name);		/* opens [ */
void	jw_close(struct jw *);				/* closes either */

void	jw_str(struct jw *, const char *name, const char *s, size_t n);
void	jw_strz(struct jw *, const char *name, const char *s);
void	jw_u64(struct jw *, const char *name, uint64_t);
void	jw_bool(struct jw *, const char *name, int);
void	jw_null(struct jw *, const char *name);
/* n bytes of valid JSON text, copied as they are. */
void	jw_raw(struct jw *, const char *name, const char *json, size_t n);
/*
 * The elements of the JSON array text json[0..n) (valid, compact: no
 * white space after '[' or before ']') as elements of the open array.
 */
void	jw_splice(struct jw *, const char *json, size_t n);

/*
 * Ends the document with a newline: 0, or -1 when it was misused or is
 * not complete (nothing is appended then).
 */
int	jw_end(struct jw *);
/* 0 while nothing was misused. */
int	jw_ok(const struct jw *);

#endif
