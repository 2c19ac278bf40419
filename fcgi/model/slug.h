/*
 * slug.h - the name part of a key made from text (API.md 3.6): lower-case
 * ASCII letters and digits, Latin-1 letters folded to ASCII (é -> e,
 * ß -> ss, æ -> ae, ø -> o), every other run of characters one '-', cut
 * to SLUG_MAX characters, no leading or trailing '-'; "item" when nothing
 * is left.
 */
#ifndef SLUG_H
#define SLUG_H

#include <stddef.h>

#define SLUG_MAX	64

/* Folds UTF-8 text s[0..n) into out (NUL-terminated); returns its length. */
size_t	slug_fold(const char *s, size_t n, char out[SLUG_MAX + 1]);

#endif
