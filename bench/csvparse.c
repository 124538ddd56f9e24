/*
 * bench_csvparse: the parse-only floor for reading the benchmark CSV, a
 * reference for scoring throughput.
 *
 *   bench_csvparse --reader fl|strtod FILE.csv
 *
 *   fl      fedlead's own reader: fl_csv_next() (libcsv underneath) for the
 *           records, fl_parse_double() for every field. Scoring cannot
 *           read a file faster than this.
 *   strtod  a plain getline() + strtod() loop expecting one number per
 *           comma-separated field and no quoting: roughly what a minimal
 *           hand-written loader (or liblinear's) does.
 *
 * Both parse every field after the header as a number and print "rows",
 * "fields", "bytes" and "seconds" lines (plus a checksum so the work cannot
 * be optimised away).
 */
#include "fedlead/csv.h"
#include "fedlead/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_fl(const char *path, uint64_t *rows, uint64_t *fields, double *sum)
{
	struct fl_csv *csv = NULL;
	struct fl_csv_record rec;
	int r, header = 1;

	if ((r = fl_csv_open(path, &csv)) != 0)
		goto out;
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		if (header) {
			header = 0;
			continue;
		}
		for (size_t i = 0; i < rec.n_fields; i++) {
			double v;

			if (fl_parse_double(rec.fields[i].s, rec.fields[i].len, &v) != 0) {
				fprintf(stderr, "bench_csvparse: %s:%llu: not a number\n", path,
				        (unsigned long long)rec.line);
				r = -1;
				goto out;
			}
			*sum += v;
		}
		*fields += rec.n_fields;
		(*rows)++;
	}
out:
	if (r < 0 && fl_errmsg()[0] != '\0')
		fprintf(stderr, "bench_csvparse: %s\n", fl_errmsg());
	fl_csv_free(csv);
	return r < 0 ? -1 : 0;
}

static int parse_strtod(const char *path, uint64_t *rows, uint64_t *fields, double *sum)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int header = 1;

	if (fp == NULL) {
		fprintf(stderr, "bench_csvparse: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((len = getline(&line, &cap, fp)) > 0) {
		char *p = line, *end;

		if (header) {
			header = 0;
			continue;
		}
		for (;;) {
			*sum += strtod(p, &end);
			if (end == p) {
				fprintf(stderr, "bench_csvparse: %s: not a number at \"%.20s\"\n",
				        path, p);
				free(line);
				fclose(fp);
				return -1;
			}
			(*fields)++;
			if (*end != ',')
				break;
			p = end + 1;
		}
		(*rows)++;
	}
	free(line);
	fclose(fp);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t rows = 0, fields = 0;
	double sum = 0, t0, t;
	struct stat sb;
	int r;

	if (argc != 4 || strcmp(argv[1], "--reader") != 0 ||
	    (strcmp(argv[2], "fl") != 0 && strcmp(argv[2], "strtod") != 0)) {
		fprintf(stderr, "usage: bench_csvparse --reader fl|strtod FILE.csv\n");
		return 2;
	}
	if (stat(argv[3], &sb) != 0) {
		fprintf(stderr, "bench_csvparse: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	t0 = now();
	if (strcmp(argv[2], "fl") == 0)
		r = parse_fl(argv[3], &rows, &fields, &sum);
	else
		r = parse_strtod(argv[3], &rows, &fields, &sum);
	t = now() - t0;
	if (r != 0)
		return 1;
	printf("rows %llu\nfields %llu\nbytes %lld\nseconds %.6f\nchecksum %.17g\n",
	       (unsigned long long)rows, (unsigned long long)fields, (long long)sb.st_size, t, sum);
	return 0;
}
