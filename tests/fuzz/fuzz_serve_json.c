/*
 * Fuzz target: the scoring service's fast JSON reader
 * (fl_serve_json_fast(), src/net/serve_json.c), against jansson. The input
 * is a request body for the columns lead, visits and industry. Whatever the
 * fast reader accepts, jansson must accept too (with the service's flags),
 * as one object or an array of objects holding the three keys with scalar
 * values, and the records the fast reader gives (header, then one a lead)
 * must be, field for field and line for line, what the CSV reader gives
 * for the CSV written from jansson's values the way the service's slow
 * path writes it. A body the fast reader leaves to jansson is fine
 * whatever it is.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/net/serve_int.h"
#include "fedlead/csv.h"
#include "fedlead/error.h"
#include "fedlead/source.h"
#include "fuzz_common.h"

static const char *names[] = {"lead", "visits", "industry"};
static const struct fl_feature *features[] = {NULL, NULL, NULL};

/* The slow path's CSV of one value (serve_score.c, value_text()). */
static int put_value(FILE *fp, const json_t *v, size_t *nl)
{
	char buf[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		fl_serve_put_csv(fp, json_string_value(v), json_string_length(v), nl);
		return 0;
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL: fl_serve_real_text(json_real_value(v), NULL, buf, sizeof(buf)); break;
	case JSON_TRUE: snprintf(buf, sizeof(buf), "true"); break;
	case JSON_FALSE: snprintf(buf, sizeof(buf), "false"); break;
	case JSON_NULL: buf[0] = '\0'; break;
	default: return -1;
	}
	fl_serve_put_csv(fp, buf, strlen(buf), nl);
	return 0;
}

/* The fast reader's records against the CSV reader's of the slow path's
 * CSV text (slow, slen bytes). */
static void compare(struct fl_source *src, const char *slow, size_t slen)
{
	struct fl_csv_record a, b;
	struct fl_csv *csv = NULL;
	struct fl_csv_dialect d = {0};
	char path[64];
	int fd = memfd_create("fuzz-slow", 0), ra, rb;
	uint64_t k = 0;

	if (fd < 0 || write(fd, slow, slen) != (ssize_t)slen)
		fz_die("cannot write a memory file");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	d.delimiter = ',';
	if (fl_csv_open_dialect(path, &d, &csv) != 0)
		fz_die("the CSV reader cannot open the slow path's CSV: %s", fl_errmsg());
	for (;; k++) {
		ra = fl_source_next(src, &a);
		rb = fl_csv_next(csv, &b);
		if (ra != rb)
			fz_die("record %llu: the fast reader says %d, the CSV reader %d (%s)",
			       (unsigned long long)k, ra, rb, fl_errmsg());
		if (ra != 1)
			break;
		if (a.line != b.line || a.n_fields != b.n_fields)
			fz_die("record %llu: line %llu, %zu fields; the CSV reader's line %llu, "
			       "%zu "
			       "fields",
			       (unsigned long long)k, (unsigned long long)a.line, a.n_fields,
			       (unsigned long long)b.line, b.n_fields);
		for (size_t f = 0; f < a.n_fields; f++)
			if (a.fields[f].len != b.fields[f].len ||
			    memcmp(a.fields[f].s, b.fields[f].s, a.fields[f].len + 1) != 0)
				fz_die("record %llu, field %zu: \"%s\", the CSV reader's \"%s\"",
				       (unsigned long long)k, f, a.fields[f].s, b.fields[f].s);
	}
	fl_csv_free(csv);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_serve_columns c = {names, features, 3};
	struct fl_source *src = NULL;
	char *slow = NULL;
	size_t slen = 0, n_leads = 0, nl = 0;
	uint64_t *line = NULL;
	FILE *fp;
	json_t *root, *leads;
	json_error_t err;
	int batch = 0, r;

	r = fl_serve_json_fast((const char *)data, size, &c, 1000, "request", &src, &line, &n_leads,
	                       &batch);
	if (r != 0)
		return 0;
	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
	if (root == NULL)
		fz_die("the fast reader accepted what jansson refuses: %s", err.text);
	if (json_is_object(root)) {
		leads = json_array();
		json_array_append(leads, root);
	} else if (json_is_array(root))
		leads = json_incref(root);
	else
		fz_die("the fast reader accepted a body that is not a lead or a batch");
	if (batch != json_is_array(root) || n_leads != json_array_size(leads))
		fz_die("the fast reader counted %zu leads, jansson %zu", n_leads,
		       json_array_size(leads));
	fp = open_memstream(&slow, &slen);
	for (size_t k = 0; k < 3; k++) {
		if (k > 0)
			fputc(',', fp);
		fl_serve_put_csv(fp, names[k], strlen(names[k]), &nl);
	}
	fputc('\n', fp);
	nl++;
	for (size_t i = 0; i < json_array_size(leads); i++) {
		const json_t *lead = json_array_get(leads, i);

		if (!json_is_object(lead))
			fz_die("lead %zu is not an object", i);
		if (line[i] != nl + 1)
			fz_die("lead %zu starts on line %llu, not %zu", i,
			       (unsigned long long)line[i], nl + 1);
		for (size_t k = 0; k < 3; k++) {
			const json_t *v = json_object_get(lead, names[k]);

			if (v == NULL)
				fz_die("lead %zu has no %s", i, names[k]);
			if (k > 0)
				fputc(',', fp);
			if (put_value(fp, v, &nl) != 0)
				fz_die("lead %zu: %s is not a scalar", i, names[k]);
		}
		fputc('\n', fp);
		nl++;
	}
	fclose(fp);
	compare(src, slow, slen);
	json_decref(leads);
	json_decref(root);
	fl_source_free(src);
	free(line);
	free(slow);
	return 0;
}
