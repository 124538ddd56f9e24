/*
 * Fuzz target: the scoring service's fast JSON reader
 * (fl_serve_json_fast(), src/net/serve_json.c), against jansson. The input
 * is a request body for the columns lead, visits and industry. Whatever the
 * fast reader accepts, jansson must accept too (with the service's flags),
 * as one object or an array of objects holding the three keys with scalar
 * values, and the CSV written from jansson's values the way the service's
 * slow path writes it must be byte for byte the fast reader's. A body the
 * fast reader leaves to jansson is fine whatever it is.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/net/serve_int.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_serve_columns c = {names, features, 3};
	char *fast = NULL, *slow = NULL;
	size_t flen = 0, slen = 0, n_leads = 0, nl = 0;
	uint64_t *line = NULL;
	FILE *fp = open_memstream(&fast, &flen);
	json_t *root, *leads;
	json_error_t err;
	int batch = 0, r;

	if (fp == NULL)
		return 0;
	r = fl_serve_json_fast((const char *)data, size, &c, 1000, fp, &line, &n_leads, &batch);
	fclose(fp);
	if (r != 0) {
		free(fast);
		return 0;
	}
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
	if (slen != flen || memcmp(slow, fast, flen) != 0)
		fz_die("the fast reader's CSV differs from jansson's:\n%s\n---\n%s", fast, slow);
	json_decref(leads);
	json_decref(root);
	free(line);
	free(fast);
	free(slow);
	return 0;
}
