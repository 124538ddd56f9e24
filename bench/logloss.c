/*
 * bench_logloss: the mean training log-loss of a liblinear model and of a
 * fedlead model on the same rows, computed here independently of both tools.
 *
 *   bench_logloss --svm DATA.svm [--liblinear MODEL] [--fedlead EXPORT.json]
 *
 * DATA.svm is bench_gen's liblinear-format file (label 1 or 0, features
 * 1..D, all written). The liblinear model is read from its text model file
 * (weights are saved with 17 digits, so this is exact, unlike the 6 digits
 * `liblinear-predict -b 1` prints); the fedlead model from
 * `fedlead-score --export json`, whose weights apply to standardised
 * columns: z = w_0 + sum_j w_j (x_j - center_j) / scale_j, with the encoded
 * column named fNN taking feature NN.
 *
 * Prints "liblinear_log_loss X", "fedlead_log_loss Y", "rows N" and
 * "positives P" lines.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Linear model in raw feature units: z = b + sum_j w[j] x_j, features 1..d. */
struct linear {
	size_t d;
	double *w; /* w[0] unused; w[1..d] */
	double b;
};

static double log1pexp(double z)
{
	return z >= 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

__attribute__((format(printf, 1, 2))) static _Noreturn void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_logloss: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/*
 * liblinear's model file: a header of "key value" lines up to "w", then
 * one weight per line (binary problem: one class column), the bias weight
 * last when "bias" >= 0. The weights score the first label listed.
 */
static void read_liblinear(const char *path, struct linear *m)
{
	FILE *fp = fopen(path, "r");
	char key[64], line[256];
	double bias = -1, first_label = 0;
	long nr_class = 0, nr_feature = -1;

	if (fp == NULL)
		die("%s: %s", path, strerror(errno));
	/* Header lines "key value...", up to the line "w". */
	while (fscanf(fp, "%63s", key) == 1 && strcmp(key, "w") != 0) {
		int ok = 1;

		if (fgets(line, sizeof(line), fp) == NULL)
			die("%s: truncated header", path);
		if (strcmp(key, "nr_class") == 0)
			ok = sscanf(line, "%ld", &nr_class) == 1;
		else if (strcmp(key, "nr_feature") == 0)
			ok = sscanf(line, "%ld", &nr_feature) == 1;
		else if (strcmp(key, "bias") == 0)
			ok = sscanf(line, "%lf", &bias) == 1;
		else if (strcmp(key, "label") == 0)
			ok = sscanf(line, "%lf", &first_label) == 1;
		if (!ok)
			die("%s: bad %s line", path, key);
	}
	if (nr_class != 2 || nr_feature < 1)
		die("%s: not a binary model", path);
	m->d = (size_t)nr_feature;
	m->w = calloc(m->d + 1, sizeof(double));
	if (m->w == NULL)
		die("out of memory");
	for (size_t j = 1; j <= m->d; j++)
		if (fscanf(fp, "%lf", &m->w[j]) != 1)
			die("%s: missing weights", path);
	m->b = 0;
	if (bias >= 0) {
		double wb;

		if (fscanf(fp, "%lf", &wb) != 1)
			die("%s: missing bias weight", path);
		m->b = wb * bias;
	}
	fclose(fp);
	/* We score "converted" (label 1); flip if the model scores label 0. */
	if (first_label != 1) {
		for (size_t j = 1; j <= m->d; j++)
			m->w[j] = -m->w[j];
		m->b = -m->b;
	}
}

/* fedlead's exported model, folded into raw units. */
static void read_fedlead(const char *path, struct linear *m)
{
	json_error_t err;
	json_t *root = json_load_file(path, 0, &err), *ws;
	size_t i;
	json_t *e;

	if (root == NULL)
		die("%s: %s", path, err.text);
	ws = json_object_get(root, "weights");
	if (!json_is_array(ws))
		die("%s: no weights array", path);
	m->d = json_array_size(ws);
	m->w = calloc(m->d + 1, sizeof(double));
	if (m->w == NULL)
		die("out of memory");
	m->b = 0;
	json_array_foreach(ws, i, e)
	{
		const char *col = json_string_value(json_object_get(e, "column"));
		double w = json_number_value(json_object_get(e, "weight"));
		double c = json_number_value(json_object_get(e, "center"));
		double s = json_number_value(json_object_get(e, "scale"));
		char *end;
		long k;

		if (col == NULL || s == 0)
			die("%s: bad weight entry", path);
		if (strcmp(col, "(intercept)") == 0) {
			m->b += w;
			continue;
		}
		k = col[0] == 'f' ? strtol(col + 1, &end, 10) : 0;
		if (k < 1 || (size_t)k > m->d || *end != '\0')
			die("%s: unexpected column %s", path, col);
		m->w[k] = w / s;
		m->b -= w * c / s;
	}
	json_decref(root);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"svm", required_argument, NULL, 's'},
	                                     {"liblinear", required_argument, NULL, 'l'},
	                                     {"fedlead", required_argument, NULL, 'f'},
	                                     {NULL, 0, NULL, 0}};
	const char *svm = NULL, *ll_path = NULL, *fl_path = NULL;
	struct linear ll = {0}, fl = {0};
	double loss_ll = 0, loss_fl = 0;
	unsigned long long rows = 0, pos = 0;
	size_t cap = 0, dmax;
	char *line = NULL;
	double *x;
	FILE *fp;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': svm = optarg; break;
		case 'l': ll_path = optarg; break;
		case 'f': fl_path = optarg; break;
		default: return 2;
		}
	}
	if (svm == NULL || (ll_path == NULL && fl_path == NULL)) {
		fprintf(stderr, "usage: bench_logloss --svm DATA.svm [--liblinear MODEL] "
		                "[--fedlead EXPORT.json]\n");
		return 2;
	}
	if (ll_path != NULL)
		read_liblinear(ll_path, &ll);
	if (fl_path != NULL)
		read_fedlead(fl_path, &fl);
	dmax = ll.d > fl.d ? ll.d : fl.d;
	x = calloc(dmax + 1, sizeof(double));
	fp = fopen(svm, "r");
	if (x == NULL || fp == NULL)
		die("%s: %s", svm, strerror(errno));
	while (getline(&line, &cap, fp) > 0) {
		char *p = line, *end;
		double y = strtod(p, &end), zl = ll.b, zf = fl.b;

		if (end == p)
			die("%s: bad label in \"%.40s\"", svm, line);
		p = end;
		memset(x, 0, (dmax + 1) * sizeof(double));
		for (;;) {
			long k = strtol(p, &end, 10);

			if (end == p || *end != ':')
				break;
			if (k < 1 || (size_t)k > dmax)
				die("%s: feature index out of range in \"%.40s\"", svm, line);
			p = end + 1;
			x[k] = strtod(p, &end);
			p = end;
		}
		for (size_t j = 1; j <= ll.d; j++)
			zl += ll.w[j] * x[j];
		for (size_t j = 1; j <= fl.d; j++)
			zf += fl.w[j] * x[j];
		y = y == 1 ? 1 : 0;
		loss_ll += log1pexp(zl) - y * zl;
		loss_fl += log1pexp(zf) - y * zf;
		rows++;
		pos += (unsigned long long)y;
	}
	fclose(fp);
	if (rows == 0)
		die("%s: no rows", svm);
	printf("rows %llu\npositives %llu\n", rows, pos);
	if (ll_path != NULL)
		printf("liblinear_log_loss %.12f\n", loss_ll / (double)rows);
	if (fl_path != NULL)
		printf("fedlead_log_loss %.12f\n", loss_fl / (double)rows);
	free(line);
	free(x);
	free(ll.w);
	free(fl.w);
	return 0;
}
