/*
 * bench_gen: writes the benchmark's synthetic lead data twice, as a CSV for
 * fedlead and in liblinear's sparse format, plus a fedlead schema for it.
 *
 *   bench_gen --rows N --cols D --seed S --csv OUT.csv --svm OUT.svm --schema OUT.json
 *   bench_gen --crm --rows N --seed S --csv OUT.csv --schema OUT.json
 *
 * --crm writes leads shaped like a CRM export instead (crm_main() below):
 * 10 numeric columns and 25 categorical ones of 2 to 60 levels, with blanks.
 *
 * Every feature is written as a decimal with a fixed number of places, and
 * both files carry the very same text for a value, so both trainers see
 * bit-identical numbers (a decimal with at most 15 significant digits
 * parses to one double, whoever parses it).
 *
 * Features differ in kind, scale and mean, as lead exports do: Gaussian
 * values around an offset mean, skewed log-normal amounts (revenue-like),
 * integer counts (visits, e-mails) and rates in [0,1]. Scales run from 0.1
 * to 1e5. The label is drawn from a known logistic model that is linear in
 * the written values, with about 15 % positives; a third of the features
 * carry no signal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* M_PI is not C11; spelled out. */
static const double PI = 3.14159265358979323846;

enum kind { K_GAUSS = 0, K_LOGNORMAL = 1, K_COUNT = 2, K_RATE = 3 };

struct feature {
	enum kind kind;
	double scale, mean; /* generating parameters */
	double mu, sd;      /* moments of the written value, for the label model */
	int places;         /* decimal places written */
	double beta;        /* effect per standard deviation in the true model */
};

/* xoshiro256** seeded by splitmix64: fast, and the same stream everywhere. */
static uint64_t rng_s[4];

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
	uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;

	rng_s[2] ^= rng_s[0];
	rng_s[3] ^= rng_s[1];
	rng_s[1] ^= rng_s[2];
	rng_s[0] ^= rng_s[3];
	rng_s[2] ^= t;
	rng_s[3] = rotl(rng_s[3], 45);
	return r;
}

/* Uniform in (0,1): never 0, so log() is safe. */
static double rng_unif(void)
{
	return ((double)(rng_next() >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_normal(void)
{
	static int have;
	static double spare;
	double u, v, r;

	if (have) {
		have = 0;
		return spare;
	}
	u = rng_unif();
	v = rng_unif();
	r = sqrt(-2.0 * log(u));
	spare = r * sin(2 * PI * v);
	have = 1;
	return r * cos(2 * PI * v);
}

static const double pow10_tab[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/*
 * Rounds v to the feature's decimal places and writes it into buf (no NUL);
 * returns the length. *exact gets the double that the text denotes: the
 * integer count of units divided by a power of ten is correctly rounded, so
 * it is what strtod() or any exact parser returns for the text.
 */
static size_t format_fixed(double v, int places, char *buf, double *exact)
{
	long long units = llround(v * pow10_tab[places]);
	unsigned long long a = units < 0 ? -(unsigned long long)units : (unsigned long long)units;
	char tmp[32];
	size_t n = 0, k = 0;

	*exact = (double)units / pow10_tab[places];
	if (units < 0)
		buf[n++] = '-';
	do {
		tmp[k++] = (char)('0' + a % 10);
		a /= 10;
	} while (a != 0 || k <= (size_t)places);
	while (k > (size_t)places)
		buf[n++] = tmp[--k];
	if (places > 0) {
		buf[n++] = '.';
		while (k > 0)
			buf[n++] = tmp[--k];
	}
	return n;
}

static void setup_features(struct feature *f, int d)
{
	for (int j = 0; j < d; j++) {
		/* Decimal exponent of the scale, -1..5, spread over the kinds. */
		int e = (j * 3) % 7 - 1;
		double s = pow(10.0, e);

		f[j].kind = (enum kind)(j % 4);
		switch (f[j].kind) {
		case K_GAUSS:
			f[j].scale = s;
			f[j].mean = s * ((j / 4) % 5 - 1); /* -1..3 scales off zero */
			f[j].mu = f[j].mean;
			f[j].sd = s;
			f[j].places = e >= 3 ? 0 : 3 - e;
			break;
		case K_LOGNORMAL:
			/* s * exp(0.5 N): positive, right-skewed. */
			f[j].scale = s;
			f[j].mean = 0;
			f[j].mu = s * exp(0.125);
			f[j].sd = s * sqrt((exp(0.25) - 1) * exp(0.25));
			f[j].places = e >= 3 ? 0 : 3 - e;
			break;
		case K_COUNT:
			/* Rounded exponential with mean 1..100: many small counts. */
			f[j].scale = pow(10.0, (j / 4) % 3);
			f[j].mean = 0;
			f[j].mu = f[j].scale;
			f[j].sd = f[j].scale;
			f[j].places = 0;
			break;
		case K_RATE:
			/* U^2: a rate in [0,1] piled up near zero. */
			f[j].scale = 1;
			f[j].mean = 0;
			f[j].mu = 1.0 / 3;
			f[j].sd = sqrt(4.0 / 45);
			f[j].places = 4;
			break;
		}
		/* Every third feature is noise; the rest get a random effect. */
		f[j].beta = j % 3 == 2 ? 0.0 : 0.2 * rng_normal();
	}
}

static double draw(const struct feature *f)
{
	switch (f->kind) {
	case K_GAUSS: return f->mean + f->scale * rng_normal();
	case K_LOGNORMAL: return f->scale * exp(0.5 * rng_normal());
	case K_COUNT: return floor(-f->scale * log(rng_unif()));
	case K_RATE: {
		double u = rng_unif();

		return u * u;
	}
	}
	return 0;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: bench_gen --rows N --cols D --seed S --csv OUT.csv --svm OUT.svm "
	            "--schema OUT.json\n"
	            "       bench_gen --crm --rows N --seed S --csv OUT.csv --schema OUT.json\n");
}

/*
 * CRM-like leads: 10 numeric columns (amounts, counts, rates; 5 % blank,
 * imputed), 25 categorical columns whose level counts run from 2 to 60
 * (2 + 58 k / 24 for column k), drawn with a skew (a few levels hold most
 * leads, as owners, sources and industries do; 3 % blank, which the
 * schema's "other" takes). The label follows a logistic model with an
 * effect per level and per standard deviation of a number, ~15 % positive.
 * Names are short ("c07", "l12"), so a row is about 190 bytes.
 */
#define CRM_NUM 10
#define CRM_CAT 25

static int crm_levels(int k)
{
	return 2 + 58 * k / (CRM_CAT - 1);
}

static int crm_main(unsigned long long rows, unsigned long long seed, const char *csv_path,
                    const char *schema_path)
{
	static struct feature f[CRM_NUM];
	static double eff[CRM_CAT][60];
	unsigned long long positives = 0;
	FILE *fp, *csv;
	uint64_t sm = seed;

	for (int i = 0; i < 4; i++)
		rng_s[i] = splitmix64(&sm);
	setup_features(f, CRM_NUM);
	for (int k = 0; k < CRM_CAT; k++)
		for (int l = 0; l < crm_levels(k); l++)
			eff[k][l] = (k % 3 == 2) ? 0 : 0.5 * rng_normal();
	if ((fp = fopen(schema_path, "w")) == NULL) {
		fprintf(stderr, "bench_gen: %s: %s\n", schema_path, strerror(errno));
		return 1;
	}
	fprintf(fp,
	        "{\n  \"fedlead_schema\": 1,\n"
	        "  \"comment\": \"bench/gen.c --crm: 10 numeric and 25 categorical columns.\",\n"
	        "  \"label\": { \"column\": \"converted\", \"positive\": \"1\", "
	        "\"negative\": \"0\" },\n  \"features\": [\n");
	for (int j = 0; j < CRM_NUM; j++)
		fprintf(fp,
		        "    { \"name\": \"n%02d\", \"type\": \"numeric\", \"missing\": "
		        "\"impute\" },\n",
		        j + 1);
	for (int k = 0; k < CRM_CAT; k++) {
		fprintf(fp,
		        "    { \"name\": \"c%02d\", \"type\": \"categorical\", \"other\": true, "
		        "\"values\": [",
		        k + 1);
		for (int l = 0; l < crm_levels(k); l++)
			fprintf(fp, "%s\"l%02d\"", l ? ", " : "", l + 1);
		fprintf(fp, "] }%s\n", k + 1 < CRM_CAT ? "," : "");
	}
	fprintf(fp, "  ]\n}\n");
	if (fclose(fp) != 0 || (csv = fopen(csv_path, "w")) == NULL) {
		fprintf(stderr, "bench_gen: %s: %s\n", csv_path, strerror(errno));
		return 1;
	}
	setvbuf(csv, NULL, _IOFBF, 1 << 20);
	fprintf(csv, "converted");
	for (int j = 0; j < CRM_NUM; j++)
		fprintf(csv, ",n%02d", j + 1);
	for (int k = 0; k < CRM_CAT; k++)
		fprintf(csv, ",c%02d", k + 1);
	fputc('\n', csv);
	for (unsigned long long i = 0; i < rows; i++) {
		char line[1024];
		size_t n = 1;
		double z = -2.2;
		int y;

		for (int j = 0; j < CRM_NUM; j++) {
			char num[32];
			double exact;
			size_t len = format_fixed(draw(&f[j]), f[j].places, num, &exact);

			line[n++] = ',';
			if (rng_unif() < 0.05)
				continue;
			z += 0.5 * f[j].beta * (exact - f[j].mu) / f[j].sd;
			memcpy(line + n, num, len);
			n += len;
		}
		for (int k = 0; k < CRM_CAT; k++) {
			double u = rng_unif();
			int l = (int)(u * u * crm_levels(k));

			line[n++] = ',';
			if (rng_unif() < 0.03)
				continue;
			z += eff[k][l];
			n += (size_t)sprintf(line + n, "l%02d", l + 1);
		}
		y = rng_unif() < 1.0 / (1.0 + exp(-z));
		positives += (unsigned long long)y;
		line[0] = (char)('0' + y);
		line[n++] = '\n';
		fwrite(line, 1, n, csv);
	}
	if (fclose(csv) != 0) {
		fprintf(stderr, "bench_gen: writing the data failed: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "bench_gen: %llu CRM-like rows, %llu positives (%.1f %%)\n", rows,
	        positives, 100.0 * (double)positives / (double)rows);
	return 0;
}

static int write_schema(const char *path, int d)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL) {
		fprintf(stderr, "bench_gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(fp,
	        "{\n  \"fedlead_schema\": 1,\n"
	        "  \"comment\": \"bench/gen.c synthetic leads: %d numeric features.\",\n"
	        "  \"label\": { \"column\": \"converted\", \"positive\": \"1\", "
	        "\"negative\": \"0\" },\n  \"features\": [\n",
	        d);
	for (int j = 0; j < d; j++)
		fprintf(fp,
		        "    { \"name\": \"f%02d\", \"type\": \"numeric\", \"missing\": "
		        "\"error\" }%s\n",
		        j + 1, j + 1 < d ? "," : "");
	fprintf(fp, "  ]\n}\n");
	if (fclose(fp) != 0) {
		fprintf(stderr, "bench_gen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"rows", required_argument, NULL, 'n'},
	                                     {"cols", required_argument, NULL, 'd'},
	                                     {"seed", required_argument, NULL, 's'},
	                                     {"csv", required_argument, NULL, 'c'},
	                                     {"svm", required_argument, NULL, 'v'},
	                                     {"schema", required_argument, NULL, 'j'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"crm", no_argument, NULL, 'r'},
	                                     {NULL, 0, NULL, 0}};
	const char *csv_path = NULL, *svm_path = NULL, *schema_path = NULL;
	unsigned long long rows = 1000000, seed = 42, positives = 0;
	int d = 64, c, crm = 0;
	struct feature *f;
	FILE *csv, *svm;
	/* One row of text: a number is at most ~22 characters, plus a comma
	 * (CSV) or " NNN:" (liblinear). */
	char *cbuf, *sbuf;
	double b, lin_sd = 0;
	uint64_t sm;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': rows = strtoull(optarg, NULL, 10); break;
		case 'd': d = atoi(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'c': csv_path = optarg; break;
		case 'v': svm_path = optarg; break;
		case 'j': schema_path = optarg; break;
		case 'r': crm = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (crm && csv_path != NULL && schema_path != NULL && rows >= 1)
		return crm_main(rows, seed, csv_path, schema_path);
	if (csv_path == NULL || svm_path == NULL || schema_path == NULL || d < 1 || d > 999 ||
	    rows < 1) {
		usage(stderr);
		return 2;
	}
	sm = seed;
	for (int i = 0; i < 4; i++)
		rng_s[i] = splitmix64(&sm);

	f = calloc((size_t)d, sizeof(*f));
	cbuf = malloc((size_t)d * 32 + 16);
	sbuf = malloc((size_t)d * 40 + 16);
	if (f == NULL || cbuf == NULL || sbuf == NULL) {
		fprintf(stderr, "bench_gen: out of memory\n");
		return 1;
	}
	setup_features(f, d);
	for (int j = 0; j < d; j++)
		lin_sd += f[j].beta * f[j].beta;
	lin_sd = sqrt(lin_sd);
	/* Intercept for ~15 % positives: E[sigmoid(b + sd N)] is close to
	 * sigmoid(b / sqrt(1 + pi sd^2 / 8)) (the probit approximation). */
	b = -1.73 * sqrt(1 + PI * lin_sd * lin_sd / 8);

	if (write_schema(schema_path, d) != 0)
		return 1;
	csv = fopen(csv_path, "w");
	svm = fopen(svm_path, "w");
	if (csv == NULL || svm == NULL) {
		fprintf(stderr, "bench_gen: cannot create %s or %s: %s\n", csv_path, svm_path,
		        strerror(errno));
		return 1;
	}
	setvbuf(csv, NULL, _IOFBF, 1 << 20);
	setvbuf(svm, NULL, _IOFBF, 1 << 20);
	fprintf(csv, "converted");
	for (int j = 0; j < d; j++)
		fprintf(csv, ",f%02d", j + 1);
	fputc('\n', csv);

	for (unsigned long long i = 0; i < rows; i++) {
		size_t cn = 1, sn = 1;
		double z = b;
		int y;

		for (int j = 0; j < d; j++) {
			char num[32];
			double exact;
			size_t len = format_fixed(draw(&f[j]), f[j].places, num, &exact);

			z += f[j].beta * (exact - f[j].mu) / f[j].sd;
			cbuf[cn++] = ',';
			memcpy(cbuf + cn, num, len);
			cn += len;
			sn += (size_t)sprintf(sbuf + sn, " %d:", j + 1);
			memcpy(sbuf + sn, num, len);
			sn += len;
		}
		y = rng_unif() < 1.0 / (1.0 + exp(-z));
		positives += (unsigned long long)y;
		/* The label is known only now; its slot was left free. */
		cbuf[0] = sbuf[0] = (char)('0' + y);
		cbuf[cn++] = '\n';
		sbuf[sn++] = '\n';
		fwrite(cbuf, 1, cn, csv);
		fwrite(sbuf, 1, sn, svm);
	}
	if (fclose(csv) != 0 || fclose(svm) != 0) {
		fprintf(stderr, "bench_gen: writing the data failed: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "bench_gen: %llu rows x %d features, %llu positives (%.1f %%)\n", rows, d,
	        positives, 100.0 * (double)positives / (double)rows);
	free(f);
	free(cbuf);
	free(sbuf);
	return 0;
}
