#include "fedlead/cli.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"

int fl_cli_exit_code(int err)
{
	switch (err) {
	case 0: return FL_EXIT_OK;
	case FL_ERR_INVALID:
	case FL_ERR_SCHEMA:
	case FL_ERR_DATA:
	case FL_ERR_MODEL:
	case FL_ERR_CONFIG:
	case FL_ERR_LIMIT: return FL_EXIT_USAGE;
	default: return FL_EXIT_FAILURE;
	}
}

int fl_cli_double(const char *prog, const char *opt, const char *text, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !isfinite(*out)) {
		fprintf(stderr, "%s: %s: \"%s\" is not a number\n", prog, opt, text);
		return -1;
	}
	return 0;
}

int fl_cli_u64(const char *prog, const char *opt, const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull skips blanks and accepts a sign, negating modulo 2^64:
	 * " -1" would become 18446744073709551615. Only digits are valid. */
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || !isdigit((unsigned char)text[0])) {
		fprintf(stderr, "%s: %s: \"%s\" is not a non-negative whole number\n", prog, opt,
		        text);
		return -1;
	}
	*out = v;
	return 0;
}

int fl_cli_bad_rows(const char *prog, const char *text, enum fl_bad_rows *out)
{
	if (strcmp(text, "fail") == 0)
		*out = FL_BAD_ROWS_FAIL;
	else if (strcmp(text, "skip") == 0)
		*out = FL_BAD_ROWS_SKIP;
	else {
		fprintf(stderr, "%s: --bad-rows: \"%s\" is not fail or skip\n", prog, text);
		return -1;
	}
	return 0;
}

void fl_cli_error(const char *prog, int err)
{
	const char *msg = fl_errmsg();

	fprintf(stderr, "%s: %s\n", prog, msg[0] != '\0' ? msg : fl_strerror(err));
}

void fl_cli_load_notices(const char *prog, const char *path, const struct fl_load_report *rep)
{
	if (rep->n_extra > 0)
		fprintf(stderr, "%s: notice: %s: %zu column%s not in the schema, ignored: %s\n",
		        prog, path, rep->n_extra, rep->n_extra == 1 ? "" : "s", rep->extra);
	if (rep->skipped == 0)
		return;
	fprintf(stderr, "%s: warning: %s: skipped %llu bad row%s (--bad-rows=skip); first %s:\n",
	        prog, path, (unsigned long long)rep->skipped, rep->skipped == 1 ? "" : "s",
	        rep->n_samples == 1 ? "reason" : "reasons");
	for (size_t i = 0; i < rep->n_samples; i++)
		fprintf(stderr, "  %s\n", rep->samples[i]);
}
