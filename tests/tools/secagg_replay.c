/*
 * secagg_replay: replays one secure-aggregation round from a coordinator's
 * --dump-dir into the coordinator's protocol engine (fl_secagg_coord) and
 * prints the unmasked sum, one value per line (%.17g), on stdout.
 *
 * The dump holds every payload the coordinator received, as received
 * (NNNNNN-PARTNER.bin, an Envelope without its 4-byte length): for a secure
 * round, each partner's KeyAdvert, ShareSet, MaskedUpdate and UnmaskReply.
 * What the coordinator sent is not in it, so two things come from the
 * command line: the partners' certificates (the coordinator relays the DER
 * it saw in the TLS handshake; here it is read from the PEM files, and the
 * identity is the certificate's subject CN), and the round's session (16
 * bytes in the task message, bound into every commitment, which the engine
 * checks when it unmasks).
 *
 * Used by tests/e2e/fed_secure.sh to show that what travels masked sums,
 * once unmasked, to the plaintext sum of a plain run. Exit status: 0 the
 * sum was printed, 1 the replay failed (the engine's message on stderr),
 * 2 bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fedlead/coord.h"
#include "fedlead/error.h"
#include "fedlead/fixedpoint.h"
#include "fedlead/secagg.h"
#include "fedlead/wire.h"

#define MAX_FILE (256u << 20)
#define MAX_ID 64

struct msg {
	char file[300];
	char partner[MAX_ID + 1];
	Fedlead__Wire__Envelope *env;
};

struct cert {
	char id[MAX_ID + 1];
	uint8_t *der;
	size_t len;
};

static void usage(FILE *fp)
{
	fprintf(fp,
	        "usage: secagg_replay --session HEX [--round N] [--frac-bits F] [--threshold T]\n"
	        "                   DUMP_DIR PARTNER.crt...\n"
	        "Replays secure-aggregation round N (default 1, the statistics round) from\n"
	        "a coordinator's --dump-dir and prints the unmasked sum, one value per line.\n"
	        "--frac-bits defaults to %d (statistics), --threshold to the coordinator's\n"
	        "default for the partners that advertised keys (max_colluders = 1).\n",
	        FL_SECAGG_STATS_FRAC_BITS);
}

static int parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-' && *out <= max ? 0 : -1;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned b;

		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (uint8_t)b;
	}
	return 0;
}

/* A certificate's DER and subject CN. */
static int load_cert(const char *path, struct cert *c)
{
	X509 *x = NULL;
	X509_NAME *nm;
	unsigned char *cn = NULL;
	int r = FL_ERR_CONFIG, k, n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return fl_fail(FL_ERR_CONFIG, "%s: %s", path, strerror(errno));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL) {
		r = fl_fail(FL_ERR_CONFIG, "%s: no PEM certificate", path);
		goto out;
	}
	nm = X509_get_subject_name(x);
	if ((k = X509_NAME_get_index_by_NID(nm, NID_commonName, -1)) < 0 ||
	    (n = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, k)))) <
	            1 ||
	    n > MAX_ID || strlen((char *)cn) != (size_t)n) {
		r = fl_fail(FL_ERR_CONFIG, "%s: no usable subject CN", path);
		goto out;
	}
	memcpy(c->id, cn, (size_t)n + 1);
	c->der = NULL;
	if ((n = i2d_X509(x, &c->der)) <= 0) {
		r = fl_fail(FL_ERR_CONFIG, "%s: cannot encode the certificate", path);
		goto out;
	}
	c->len = (size_t)n;
	r = 0;
out:
	OPENSSL_free(cn);
	X509_free(x);
	return r;
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;
	int r = FL_ERR_IO;

	*buf = NULL;
	*len = 0;
	if (f == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		r = fl_fail(FL_ERR_IO, "%s: cannot size the file", path);
		goto out;
	}
	if (n == 0 || (unsigned long)n > MAX_FILE) {
		r = fl_fail(FL_ERR_LIMIT, "%s: %ld bytes is not a payload", path, n);
		goto out;
	}
	if ((*buf = malloc((size_t)n)) == NULL) {
		r = FL_ERR_NOMEM;
		goto out;
	}
	if (fread(*buf, 1, (size_t)n, f) != (size_t)n) {
		free(*buf);
		*buf = NULL;
		r = fl_fail(FL_ERR_IO, "%s: short read", path);
		goto out;
	}
	*len = (size_t)n;
	r = 0;
out:
	fclose(f);
	return r;
}

static int by_file(const void *a, const void *b)
{
	return strcmp(((const struct msg *)a)->file, ((const struct msg *)b)->file);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Every payload of DIR that belongs to secure-aggregation round `round`,
 * decoded, in the order received (the file names count up).
 */
static int load_dump(const char *dir, uint64_t round, struct msg **out, size_t *nout)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct msg *m = NULL, *tmp;
	size_t n = 0, cap = 0;
	int r = 0;

	*out = NULL;
	*nout = 0;
	if (d == NULL)
		return fl_fail(FL_ERR_IO, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name, *dash = strchr(name, '-');
		size_t nl = strlen(name);

		if (dash == NULL || dash - name != 6 || nl < 12 ||
		    strcmp(name + nl - 4, ".bin") != 0)
			continue;
		if (nl - 11 > MAX_ID || strlen(dir) + nl + 2 > sizeof(m->file)) {
			r = fl_fail(FL_ERR_LIMIT, "%s/%s: name too long", dir, name);
			goto out;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			if ((tmp = realloc(m, cap * sizeof(*m))) == NULL) {
				r = FL_ERR_NOMEM;
				goto out;
			}
			m = tmp;
		}
		snprintf(m[n].file, sizeof(m[n].file), "%s/%s", dir, name);
		memcpy(m[n].partner, dash + 1, nl - 11);
		m[n].partner[nl - 11] = '\0';
		m[n].env = NULL;
		n++;
	}
	qsort(m, n, sizeof(*m), by_file);
	for (size_t i = 0; i < n; i++) {
		const Fedlead__Wire__RoundRef *ref;
		uint8_t *body;
		size_t len;

		if ((r = read_file(m[i].file, &body, &len)) != 0)
			goto out;
		r = fl_wire_decode(body, len, m[i].partner, &m[i].env);
		free(body);
		if (r != 0) {
			r = fl_fail(r, "%s: %s", m[i].file, fl_errmsg());
			goto out;
		}
		switch (m[i].env->body_case) {
		case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
		case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
		case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
		case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
		case FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY:
			ref = fl_wire_ref(m[i].env);
			if (ref != NULL && ref->round == round)
				continue;
			break;
		default: break;
		}
		fl_wire_free(m[i].env); /* not this round's secure aggregation */
		m[i].env = NULL;
	}
	*out = m;
	*nout = n;
	m = NULL;
	n = 0;
out:
	for (size_t i = 0; i < n; i++)
		fl_wire_free(m[i].env);
	free(m);
	closedir(d);
	return r;
}

/* The payloads of one kind, in order; each handled by the engine. */
static int replay(struct fl_secagg_coord *c, struct msg *m, size_t n,
                  Fedlead__Wire__Envelope__BodyCase kind, const struct cert *certs, size_t nc)
{
	for (size_t i = 0; i < n; i++) {
		const struct cert *ct = NULL;
		Fedlead__Wire__Envelope *e = m[i].env;
		int r;

		if (e == NULL || e->body_case != kind)
			continue;
		switch (kind) {
		case FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT:
			for (size_t k = 0; k < nc; k++)
				if (strcmp(certs[k].id, m[i].partner) == 0)
					ct = &certs[k];
			if (ct == NULL)
				return fl_fail(FL_ERR_CONFIG,
				               "no certificate for partner %s "
				               "(give its PEM file)",
				               m[i].partner);
			r = fl_secagg_coord_advert(c, m[i].partner, e->key_advert, ct->der,
			                           ct->len);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET:
			r = fl_secagg_coord_shares(c, m[i].partner, e->share_set);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE:
			r = fl_secagg_coord_masked(c, m[i].partner, e->masked_update);
			break;
		case FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE:
			r = fl_secagg_coord_signature(c, m[i].partner, e->consistency_signature);
			break;
		default: r = fl_secagg_coord_reveal(c, m[i].partner, e->unmask_reply); break;
		}
		if (r != 0)
			return fl_fail(r, "%s: %s", m[i].file, fl_errmsg());
		/* A message that proves its sender deviated stops the replay as
		 * it stops the coordinator's round. */
		if (fl_secagg_coord_fault(c, m[i].partner) != NULL)
			return fl_fail(FL_ERR_AUTH, "%s: %s", m[i].file,
			               fl_secagg_coord_fault(c, m[i].partner));
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"session", required_argument, NULL, 's'},
	        {"round", required_argument, NULL, 'r'},
	        {"frac-bits", required_argument, NULL, 'f'},
	        {"threshold", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	uint8_t session[FL_WIRE_SESSION_LEN];
	unsigned long long round = 1, frac = FL_SECAGG_STATS_FRAC_BITS, t = 0, v;
	int have_session = 0, o, r, st = 1;
	struct cert *certs = NULL;
	struct msg *m = NULL;
	size_t nm = 0, nc = 0, np = 0, nv = 0;
	const char **ids = NULL;
	const Fedlead__Wire__KeyAdvert *first = NULL;
	Fedlead__Wire__UpdateKind kind = FEDLEAD__WIRE__UPDATE_KIND__UPDATE_NONE;
	Fedlead__Wire__RoundRef ref;
	Fedlead__Wire__SecAggParams p = FEDLEAD__WIRE__SEC_AGG_PARAMS__INIT;
	struct fl_secagg_coord *c = NULL;
	uint8_t *frame = NULL;
	size_t flen;
	double *sum = NULL;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (unhex(optarg, session, sizeof(session)) != 0) {
				fprintf(stderr,
				        "secagg_replay: --session: 32 hex digits expected\n");
				return 2;
			}
			have_session = 1;
			break;
		case 'r':
		case 'f':
		case 't':
			if (parse_u64(optarg,
			              o == 'f'   ? FL_FIXED_MAX_FRAC_BITS
			              : o == 't' ? 255
			                         : ~0ull,
			              &v) != 0) {
				fprintf(stderr, "secagg_replay: bad number \"%s\"\n", optarg);
				return 2;
			}
			*(o == 'r' ? &round : o == 'f' ? &frac : &t) = v;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!have_session || argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	if ((certs = calloc((size_t)(argc - optind), sizeof(*certs))) == NULL)
		goto fail;
	for (int i = optind + 1; i < argc; i++)
		if (load_cert(argv[i], &certs[nc++]) != 0)
			goto fail;
	if (load_dump(argv[optind], round, &m, &nm) != 0)
		goto fail;

	/* The partners are those who advertised keys; the round's reference
	 * and the vector's shape come from what they sent. */
	if ((ids = calloc(nm + 1, sizeof(*ids))) == NULL)
		goto fail;
	for (size_t i = 0; i < nm; i++) {
		Fedlead__Wire__Envelope *e = m[i].env;

		if (e == NULL)
			continue;
		if (e->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT) {
			if (first == NULL)
				first = e->key_advert;
			for (size_t k = 0; k < np; k++)
				if (strcmp(ids[k], m[i].partner) == 0) {
					fl_fail(FL_ERR_DATA,
					        "%s: a second key advertisement of %s "
					        "in round %llu (a restarted attempt?): replay a "
					        "round "
					        "without one",
					        m[i].file, m[i].partner, round);
					goto fail;
				}
			ids[np++] = m[i].partner;
		} else if (e->body_case == FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE && nv == 0) {
			nv = e->masked_update->n_values;
			kind = e->masked_update->kind;
		}
	}
	if (first == NULL || nv == 0) {
		fl_fail(FL_ERR_DATA, "%s: no key advertisement or masked input of round %llu",
		        argv[optind], round);
		goto fail;
	}
	qsort(ids, np, sizeof(*ids), by_name);
	if (t == 0)
		t = fl_coord_default_threshold(np, 1);
	ref = *first->ref;
	p.session = (ProtobufCBinaryData){sizeof(session), session};
	p.frac_bits = (int)frac;
	p.bound = fl_fixed_bound((int)frac, np);
	if ((sum = calloc(nv, sizeof(*sum))) == NULL)
		goto fail;
	if ((r = fl_secagg_coord_new(ref.federation_id, &ref, &p, (unsigned)t, ids, np, kind, nv,
	                             &c)) != 0 ||
	    (r = replay(c, m, nm, FEDLEAD__WIRE__ENVELOPE__BODY_KEY_ADVERT, certs, nc)) != 0 ||
	    (r = fl_secagg_coord_key_list(c, &frame, &flen)) != 0)
		goto fail;
	free(frame);
	frame = NULL;
	if ((r = replay(c, m, nm, FEDLEAD__WIRE__ENVELOPE__BODY_SHARE_SET, certs, nc)) != 0)
		goto fail;
	for (size_t i = 0; i < np; i++) {
		if (!fl_secagg_coord_member(c, FL_SECAGG_SHARES, ids[i]))
			continue;
		if ((r = fl_secagg_coord_shares_for(c, ids[i], &frame, &flen)) != 0)
			goto fail;
		free(frame);
		frame = NULL;
	}
	if ((r = replay(c, m, nm, FEDLEAD__WIRE__ENVELOPE__BODY_MASKED_UPDATE, certs, nc)) != 0 ||
	    (r = fl_secagg_coord_consistency_check(c, &frame, &flen)) != 0)
		goto fail;
	free(frame);
	frame = NULL;
	if ((r = replay(c, m, nm, FEDLEAD__WIRE__ENVELOPE__BODY_CONSISTENCY_SIGNATURE, certs,
	                nc)) != 0 ||
	    (r = fl_secagg_coord_unmask_request(c, &frame, &flen)) != 0)
		goto fail;
	free(frame);
	frame = NULL;
	if ((r = replay(c, m, nm, FEDLEAD__WIRE__ENVELOPE__BODY_UNMASK_REPLY, certs, nc)) != 0 ||
	    (r = fl_secagg_coord_finish(c, sum)) != 0)
		goto fail;
	for (size_t j = 0; j < nv; j++)
		printf("%.17g\n", sum[j]);
	fprintf(stderr,
	        "secagg_replay: round %llu of %s: %zu partners, t = %llu, %zu values; masked input "
	        "from %zu, shares revealed by %zu\n",
	        round, ref.federation_id, np, t, nv, fl_secagg_coord_count(c, FL_SECAGG_MASKED),
	        fl_secagg_coord_count(c, FL_SECAGG_UNMASK));
	st = fflush(stdout) == 0 ? 0 : 1;
	goto out;
fail:
	fprintf(stderr, "secagg_replay: %s\n", fl_errmsg()[0] ? fl_errmsg() : "out of memory");
out:
	fl_secagg_coord_free(c);
	free(frame);
	free(sum);
	free(ids);
	for (size_t i = 0; i < nm; i++)
		fl_wire_free(m[i].env);
	free(m);
	for (size_t i = 0; i < nc; i++)
		OPENSSL_free(certs[i].der);
	free(certs);
	return st;
}
