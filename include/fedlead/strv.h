/*
 * Owned strings and string vectors: the copy and the free every module that
 * keeps names and values (schemas, drafts, mappings, models, proposals) uses.
 */
#ifndef FEDLEAD_STRV_H
#define FEDLEAD_STRV_H

#include <stddef.h>

/* A malloc'ed copy of s, or NULL when out of memory (strdup is POSIX, not
 * C11). */
char *fl_strdup(const char *s);

/* Frees the n strings of v and v itself; accepts NULL. */
void fl_strv_free(char **v, size_t n);

#endif
