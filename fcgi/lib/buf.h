/*
 * buf.h - a growable byte buffer for building responses.
 *
 * A failed allocation sets the sticky `oom` flag and turns later appends
 * into no-ops, so a caller builds a whole response and checks once.
 * The bytes are always NUL-terminated when len > 0 (for logging).
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*p;	/* owned; freed by buf_free() */
	size_t	 len;
	size_t	 cap;
	int	 oom;	/* an append failed; contents are incomplete */
};

void	buf_free(struct buf *);			/* NULL-safe; resets to empty */
void	buf_reset(struct buf *);		/* len = 0, keeps the memory */
/* Makes room for n more bytes (+ NUL) at p + len; 0, or -1 (oom set). */
int	buf_reserve(struct buf *, size_t n);
void	buf_add(struct buf *, const void *, size_t);
void	buf_puts(struct buf *, const char *);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_u64(struct buf *, uint64_t);
/* Appends s[0..n) as a JSON string with quotes, escaping as RFC 8259 asks. */
void	buf_json_str(struct buf *, const char *s, size_t n);

#endif
