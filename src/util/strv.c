/* Owned strings and string vectors (include/fedlead/strv.h). */
#include "fedlead/strv.h"

#include <stdlib.h>
#include <string.h>

char *fl_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

void fl_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}
