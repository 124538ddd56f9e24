/*
 * bench_csvparse: the parse-only floor for reading the benchmark CSV, a
 * reference for scoring throughput, and the reader's side of the parsing
 * figure (bench/parse.sh sets it against bench_fromchars).
 *
 *   bench_csvparse --reader fl|fast|strtod FILE.csv
 *   bench_csvparse --write-crm ROWS FILE.csv
 *
 *   fl      fedlead's own reader: fl_csv_next() for the records,
 *           fl_parse_double() for every field. Scoring cannot read a file
 *           faster than this.
 *   fast    the same reader asked to parse plain decimals as it cuts each
 *           record (fl_csv_want_numbers(), what fedlead-score reads with):
 *           a field the fast path gave is taken as rec.num[k], any other
 *           goes to fl_parse_double(). The floor for scoring since the
 *           reader has that path; the same numbers and checksum as fl.
 *   strtod  a plain getline() + strtod() loop expecting one number per
 *           comma-separated field and no quoting: roughly what a minimal
 *           hand-written loader (or liblinear's) does.
 *
 * Both parse every field after the header as a number and print "rows",
 * "fields", "numbers" (fields that are numbers), "bytes", "seconds" (wall),
 * "cpu" (user + system) and a checksum of the numbers, so the work cannot
 * be optimised away and two readers can be checked to agree.
 *
 * --write-crm writes leads as a CRM exports them, the mixed file of the
 * parsing figure: an id, 10 numeric columns (amounts, counts, rates, some
 * blank), 25 categorical ones with 2 to 60 levels (some blank, some with
 * a comma and so quoted, some not ASCII), a date and the 0/1 label.
 */
#include "fedlead/csv.h"
#include "fedlead/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static int parse_fl(const char *path, int fast, uint64_t *rows, uint64_t *fields, uint64_t *numbers,
                    double *sum)
{
	struct fl_csv *csv = NULL;
	struct fl_csv_record rec;
	int r, header = 1;

	if ((r = fl_csv_open(path, &csv)) != 0)
		goto out;
	if (fast)
		fl_csv_want_numbers(csv);
	while ((r = fl_csv_next(csv, &rec)) == 1) {
		if (header) {
			header = 0;
			continue;
		}
		for (size_t i = 0; i < rec.n_fields; i++) {
			double v;

			if (rec.num != NULL && rec.num_ok[i])
				v = rec.num[i];
			else if (fl_parse_double(rec.fields[i].s, rec.fields[i].len, &v) != 0)
				continue;
			*sum += v;
			(*numbers)++;
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

static int parse_strtod(const char *path, uint64_t *rows, uint64_t *fields, uint64_t *numbers,
                        double *sum)
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
			(*numbers)++;
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

/* xorshift64*: the mixed file is the same on every machine. */
static uint64_t crm_state = 0x9E3779B97F4A7C15ULL;

static uint64_t crm_next(void)
{
	crm_state ^= crm_state >> 12;
	crm_state ^= crm_state << 25;
	crm_state ^= crm_state >> 27;
	return crm_state * 0x2545F4914F6CDD1DULL;
}

#define CRM_NUMERIC 10
#define CRM_CATEGORIES 25

static int write_crm(const char *path, unsigned long rows)
{
	static const char *const words[] = {
	        "Software", "Retail",    "Manufacturing", "Health care", "Finance",  "Logistics",
	        "Energy",   "Public",    "Education",     "Telecom",     "Media",    "Agriculture",
	        "Zürich",   "São Paulo", "Köln",          "Malmö",       "New York", "Lyon",
	        "Partner",  "Webinar",   "Trade show",    "Cold call",   "Referral", "Inbound"};
	const size_t n_words = sizeof(words) / sizeof(words[0]);
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		fprintf(stderr, "bench_csvparse: %s: %s\n", path, strerror(errno));
		return 1;
	}
	fputs("lead_id", fp);
	for (int j = 0; j < CRM_NUMERIC; j++)
		fprintf(fp, ",num_%02d", j + 1);
	for (int j = 0; j < CRM_CATEGORIES; j++)
		fprintf(fp, ",cat_%02d", j + 1);
	fputs(",created,won\n", fp);
	for (unsigned long i = 0; i < rows; i++) {
		fprintf(fp, "L%07lu", i + 1);
		for (int j = 0; j < CRM_NUMERIC; j++) {
			uint64_t h = crm_next();

			if (h % 20 == 0) { /* blank: not filled in */
				fputc(',', fp);
				continue;
			}
			switch (j % 4) {
			case 0: /* an amount with cents */
				fprintf(fp, ",%llu.%02llu", (unsigned long long)(h >> 40) % 250000,
				        (unsigned long long)(h >> 8) % 100);
				break;
			case 1: fprintf(fp, ",%llu", (unsigned long long)(h >> 50) % 40); break;
			case 2:
				fprintf(fp, ",0.%03llu", (unsigned long long)(h >> 30) % 1000);
				break;
			default: fprintf(fp, ",%llu", (unsigned long long)(h >> 20) % 5000); break;
			}
		}
		for (int j = 0; j < CRM_CATEGORIES; j++) {
			uint64_t h = crm_next();
			unsigned levels = 2 + (unsigned)(j * 58) / (CRM_CATEGORIES - 1);
			unsigned level = (unsigned)(h >> 32) % levels;

			if (h % 25 == 0) {
				fputc(',', fp);
			} else if (levels > 20 && level % 11 == 3) { /* "Köln, DE": quoted */
				fprintf(fp, ",\"%s, %u\"", words[level % n_words], level);
			} else if (levels > 6) {
				fprintf(fp, ",%s %u", words[(level + (unsigned)j) % n_words],
				        level);
			} else {
				fprintf(fp, ",%s",
				        level == 0   ? "no"
				        : level == 1 ? "yes"
				                     : "maybe");
			}
		}
		{
			uint64_t h = crm_next();

			fprintf(fp, ",20%02llu-%02llu-%02llu,%d\n",
			        18 + (unsigned long long)(h % 7),
			        1 + (unsigned long long)(h >> 8) % 12,
			        1 + (unsigned long long)(h >> 16) % 28, (h >> 40) % 100 < 15);
		}
	}
	if (fclose(fp) != 0) {
		fprintf(stderr, "bench_csvparse: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t rows = 0, fields = 0, numbers = 0;
	double sum = 0, t0, c0, t, c;
	struct stat sb;
	int r;

	if (argc == 4 && strcmp(argv[1], "--write-crm") == 0)
		return write_crm(argv[3], strtoul(argv[2], NULL, 10));
	if (argc != 4 || strcmp(argv[1], "--reader") != 0 ||
	    (strcmp(argv[2], "fl") != 0 && strcmp(argv[2], "fast") != 0 &&
	     strcmp(argv[2], "strtod") != 0)) {
		fprintf(stderr, "usage: bench_csvparse --reader fl|fast|strtod FILE.csv\n"
		                "       bench_csvparse --write-crm ROWS FILE.csv\n");
		return 2;
	}
	if (stat(argv[3], &sb) != 0) {
		fprintf(stderr, "bench_csvparse: %s: %s\n", argv[3], strerror(errno));
		return 1;
	}
	t0 = now();
	c0 = cpu();
	if (strcmp(argv[2], "strtod") != 0)
		r = parse_fl(argv[3], strcmp(argv[2], "fast") == 0, &rows, &fields, &numbers, &sum);
	else
		r = parse_strtod(argv[3], &rows, &fields, &numbers, &sum);
	t = now() - t0;
	c = cpu() - c0;
	if (r != 0)
		return 1;
	printf("rows %llu\nfields %llu\nnumbers %llu\nbytes %lld\nseconds %.6f\ncpu %.6f\n"
	       "checksum %.17g\n",
	       (unsigned long long)rows, (unsigned long long)fields, (unsigned long long)numbers,
	       (long long)sb.st_size, t, c, sum);
	return 0;
}
