#include "fedlead/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "fedlead/error.h"

/* Room for why a value was refused: the tail of a message after "name: ". */
#define ERR_MAX 512
/* Room for a quoted user text in a message; longer texts are cut with "...". */
#define QUOTE_MAX 100

/* A parsed value before it is stored, so a bad value never touches the field. */
union cfg_val {
	char *s;
	double d;
	uint64_t u;
	int i;
	struct fl_strlist l;
};

static void *field(const struct fl_cfg_key *k, void *obj)
{
	return (char *)obj + k->offset;
}

static const void *cfield(const struct fl_cfg_key *k, const void *obj)
{
	return (const char *)obj + k->offset;
}

static const char *sec(const struct fl_cfg_key *k)
{
	return k->section != NULL ? k->section : "";
}

/* '-' and '_' are one character in names, so --late-policy finds late_policy. */
static int names_equal(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = *a == '-' ? '_' : *a;
		char y = *b == '-' ? '_' : *b;

		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

/* The key called name in section (any section when section is NULL). */
static const struct fl_cfg_key *find_key(const struct fl_cfg_key *keys, const char *name,
                                         const char *section)
{
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++)
		if (names_equal(k->name, name) && (section == NULL || strcmp(sec(k), section) == 0))
			return k;
	return NULL;
}

static int section_known(const struct fl_cfg_key *keys, const char *section, size_t len)
{
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++)
		if (strlen(sec(k)) == len && memcmp(sec(k), section, len) == 0)
			return 1;
	return 0;
}

size_t fl_config_count(const struct fl_cfg_key *keys)
{
	size_t n = 0;

	while (keys[n].name != NULL)
		n++;
	return n;
}

static int bounded(const struct fl_cfg_key *k)
{
	return k->min != 0 || k->max != 0;
}

/*
 * Writes s in double quotes for a message. Control characters become \xNN so
 * a value from a flag cannot break the message into lines, and a long value
 * is cut so the message keeps its point.
 */
static void quote(char *dst, size_t n, const char *s)
{
	size_t o = 0;

	dst[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (o + 10 > n || o > QUOTE_MAX) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, n - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o++] = '"';
	dst[o] = '\0';
}

/* The shortest of %.15g, %.16g, %.17g that reads back as d. */
static void fmt_double(char *buf, size_t n, double d)
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* Seconds in the largest unit that holds them exactly, parsed back bit for bit. */
static void fmt_seconds(char *buf, size_t n, double s)
{
	static const struct {
		const char *unit;
		double factor;
	} units[] = {{"h", 3600}, {"m", 60}, {"s", 1}};
	double q;

	if (s == 0) {
		snprintf(buf, n, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		q = s / units[i].factor;
		if (q == floor(q) && fabs(q) < 1e15 && q * units[i].factor == s) {
			snprintf(buf, n, "%.0f%s", q, units[i].unit);
			return;
		}
	}
	/* The parser divides milliseconds by 1000, so the check must too. */
	q = s * 1000;
	if (q == floor(q) && fabs(q) < 1e15 && q / 1000 == s) {
		snprintf(buf, n, "%.0fms", q);
		return;
	}
	fmt_double(buf, n - 1, s);
	strcat(buf, "s");
}

static void fmt_size(char *buf, size_t n, uint64_t v)
{
	static const char units[] = "TGMK";

	for (int i = 0; v != 0 && i < 4; i++) {
		unsigned shift = (unsigned)(40 - 10 * i);

		if ((v & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, n, "%" PRIu64 "%c", v >> shift, units[i]);
			return;
		}
	}
	snprintf(buf, n, "%" PRIu64, v);
}

/* A bound as a person would write it for this key's type. */
static void fmt_bound(char *buf, size_t n, const struct fl_cfg_key *k, double b)
{
	if (k->type == FL_CFG_SECONDS && isfinite(b))
		fmt_seconds(buf, n, b);
	else if (k->type == FL_CFG_SIZE && b >= 0 && b < 18446744073709551616.0 && b == floor(b))
		fmt_size(buf, n, (uint64_t)b);
	else if (k->type == FL_CFG_U64 && isfinite(b))
		snprintf(buf, n, "%.0f", b);
	else
		fmt_double(buf, n, b);
}

/* Checks v (shown as text) against the key's bounds. */
static int check_bounds(const struct fl_cfg_key *k, double v, const char *text, char *err)
{
	char b[64];

	if (!bounded(k))
		return 0;
	if (v < k->min) {
		fmt_bound(b, sizeof(b), k, k->min);
		snprintf(err, ERR_MAX, "%s is below the minimum %s", text, b);
		return FL_ERR_CONFIG;
	}
	if (v > k->max) {
		fmt_bound(b, sizeof(b), k, k->max);
		snprintf(err, ERR_MAX, "%s is above the maximum %s", text, b);
		return FL_ERR_CONFIG;
	}
	return 0;
}

/* strtod over the whole text; rejects empty text, trailing bytes, NaN, infinity. */
static int whole_double(const char *t, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(t, &end);
	/* ERANGE alone is an underflow to (almost) zero, which is fine; an
	 * overflow is caught as infinity. */
	return end != t && *end == '\0' && isfinite(*out) ? 0 : -1;
}

/*
 * Decimal digits only: strtoull would skip blanks, accept a sign and negate
 * modulo 2^64 (" -1" would be 18446744073709551615), and read "010" as octal
 * with base 0. Returns -1 for no digits or junk, -2 for overflow; *end is the
 * first byte after the digits.
 */
static int digits_u64(const char *t, uint64_t *out, const char **end)
{
	char *e;
	unsigned long long v;

	*out = 0;
	*end = t;
	if (!isdigit((unsigned char)t[0]))
		return -1;
	errno = 0;
	v = strtoull(t, &e, 10);
	*end = e;
	if (errno == ERANGE)
		return -2;
	*out = v;
	return 0;
}

static int is_ipv4_like(const char *h, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	return 1;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and '-' (not at
 * either end of a label), 1-63 bytes each, at most 253 in all; one trailing
 * dot (the root) is allowed. */
static int is_hostname(const char *h, size_t len)
{
	size_t label = 0;

	if (len > 0 && h[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? h[i] : '.';

		if (c == '.') {
			if (label == 0 || label > 63 || h[i - 1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Splits and checks HOST:PORT; err gets the reason (quoting t) on failure. */
static int addr_parse(const char *t, char *host, size_t hostsz, uint16_t *port, char *err)
{
	char q[QUOTE_MAX + 16];
	const char *h, *hend, *p, *end;
	size_t hlen;
	uint64_t pv;
	unsigned char bin[16];

	quote(q, sizeof(q), t);
	if (t[0] == '[') {
		h = t + 1;
		hend = strchr(h, ']');
		if (hend == NULL) {
			snprintf(err, ERR_MAX, "%s: the IPv6 address has no closing \"]\"", q);
			return FL_ERR_CONFIG;
		}
		if (hend[1] != ':') {
			snprintf(err, ERR_MAX, "%s has no port (expected HOST:PORT or [IPv6]:PORT)",
			         q);
			return FL_ERR_CONFIG;
		}
		p = hend + 2;
	} else {
		h = t;
		hend = strrchr(t, ':');
		if (hend == NULL) {
			snprintf(err, ERR_MAX, "%s has no port (expected HOST:PORT or [IPv6]:PORT)",
			         q);
			return FL_ERR_CONFIG;
		}
		if (memchr(t, ':', (size_t)(hend - t)) != NULL) {
			snprintf(err, ERR_MAX,
			         "%s: an IPv6 address needs brackets, as in [::1]:7443", q);
			return FL_ERR_CONFIG;
		}
		p = hend + 1;
	}
	hlen = (size_t)(hend - h);
	if (hlen == 0) {
		snprintf(err, ERR_MAX,
		         "%s has no host (0.0.0.0:PORT or [::]:PORT listens on every address)", q);
		return FL_ERR_CONFIG;
	}
	if (hlen >= hostsz || hlen > 253) {
		snprintf(err, ERR_MAX, "%s: the host is too long", q);
		return FL_ERR_CONFIG;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (t[0] == '[') {
		if (inet_pton(AF_INET6, host, bin) != 1) {
			snprintf(err, ERR_MAX, "%s: [%s] is not an IPv6 address", q, host);
			return FL_ERR_CONFIG;
		}
	} else if (is_ipv4_like(h, hlen)) {
		/* All digits and dots: only a dotted quad makes sense, never a name. */
		if (inet_pton(AF_INET, host, bin) != 1) {
			snprintf(err, ERR_MAX, "%s: %s is not an IPv4 address", q, host);
			return FL_ERR_CONFIG;
		}
	} else if (!is_hostname(h, hlen)) {
		snprintf(err, ERR_MAX, "%s: the host is not a valid host name", q);
		return FL_ERR_CONFIG;
	}
	if (digits_u64(p, &pv, &end) != 0 || *end != '\0' || end - p > 5 || pv > 65535) {
		snprintf(err, ERR_MAX, "%s: the port is not a number from 0 to 65535", q);
		return FL_ERR_CONFIG;
	}
	*port = (uint16_t)pv;
	return 0;
}

int fl_config_addr_split(const char *addr, char *host, size_t hostsz, uint16_t *port)
{
	char err[ERR_MAX];
	int r;

	if (port != NULL)
		*port = 0;
	if (host != NULL && hostsz > 0)
		host[0] = '\0';
	if (addr == NULL || host == NULL || hostsz == 0 || port == NULL)
		return fl_fail(FL_ERR_INVALID, "fl_config_addr_split: missing argument");
	r = addr_parse(addr, host, hostsz, port, err);
	if (r != 0) {
		host[0] = '\0';
		*port = 0;
		return fl_fail(r, "%s", err);
	}
	return 0;
}

static void list_free(struct fl_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Comma-separated items, each trimmed and non-empty; "" is the empty list. */
static int parse_list(const char *t, const char *q, struct fl_strlist *out, char *err)
{
	struct fl_strlist l = {NULL, 0};
	size_t n = 1;
	const char *p = t;
	int r = FL_ERR_NOMEM;

	if (t[0] == '\0') {
		*out = l;
		return 0;
	}
	for (const char *c = t; *c != '\0'; c++)
		n += *c == ',';
	l.v = calloc(n + 1, sizeof(*l.v));
	if (l.v == NULL)
		goto out;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *b = p, *e = comma != NULL ? comma : p + strlen(p);

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (b == e) {
			snprintf(err, ERR_MAX, "%s has an empty item", q);
			r = FL_ERR_CONFIG;
			goto out;
		}
		l.v[l.n] = strndup(b, (size_t)(e - b));
		if (l.v[l.n] == NULL)
			goto out;
		l.n++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
	r = 0;
out:
	list_free(&l);
	return r;
}

/*
 * Parses text for key k into *v. Returns 0, FL_ERR_CONFIG with the reason in
 * err (to follow "name: "), or FL_ERR_NOMEM. *v owns any memory only on 0.
 */
static int parse_value(const struct fl_cfg_key *k, const char *text, union cfg_val *v, char *err)
{
	static const struct {
		const char *word;
		int val;
	} bools[] = {{"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0},
	             {"on", 1},   {"off", 0},   {"1", 1},   {"0", 0}};
	char q[QUOTE_MAX + 16];
	char *t = NULL;
	const char *b = text, *e = text + strlen(text), *end;
	double d;
	int r = FL_ERR_NOMEM, rc;
	size_t len;

	memset(v, 0, sizeof(*v));
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	t = strndup(b, (size_t)(e - b));
	if (t == NULL)
		goto out;
	quote(q, sizeof(q), t);
	r = FL_ERR_CONFIG;
	for (const char *c = t; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			snprintf(err, ERR_MAX, "%s contains a control character", q);
			goto out;
		}
	}

	switch (k->type) {
	case FL_CFG_STRING:
	case FL_CFG_PATH:
	case FL_CFG_ADDR:
		if (t[0] == '\0')
			break; /* empty means unset: NULL */
		if (k->type == FL_CFG_ADDR) {
			char host[FL_CFG_HOST_MAX];
			uint16_t port;

			if ((r = addr_parse(t, host, sizeof(host), &port, err)) != 0)
				goto out;
		}
		v->s = t;
		t = NULL;
		break;
	case FL_CFG_DOUBLE:
		if (whole_double(t, &d) != 0) {
			snprintf(err, ERR_MAX, "%s is not a number", q);
			goto out;
		}
		if ((r = check_bounds(k, d, t, err)) != 0)
			goto out;
		v->d = d;
		break;
	case FL_CFG_L2:
		if (strcmp(t, "auto") == 0) {
			v->d = -1.0;
			break;
		}
		if (whole_double(t, &d) != 0) {
			snprintf(err, ERR_MAX, "%s is not a number or \"auto\"", q);
			goto out;
		}
		if (d < 0) {
			snprintf(err, ERR_MAX, "%s is below the minimum 0", t);
			goto out;
		}
		if ((r = check_bounds(k, d, t, err)) != 0)
			goto out;
		v->d = d;
		break;
	case FL_CFG_U64:
		rc = digits_u64(t, &v->u, &end);
		if (rc == -2) {
			snprintf(err, ERR_MAX, "%s is too large", q);
			goto out;
		}
		if (rc != 0 || *end != '\0') {
			snprintf(err, ERR_MAX, "%s is not a non-negative whole number", q);
			goto out;
		}
		if ((r = check_bounds(k, (double)v->u, t, err)) != 0)
			goto out;
		break;
	case FL_CFG_BOOL:
		for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
			if (strcasecmp(t, bools[i].word) == 0) {
				v->i = bools[i].val;
				r = 0;
				break;
			}
		}
		if (r != 0) {
			snprintf(err, ERR_MAX,
			         "%s is not a boolean (true/false, yes/no, on/off, 1/0)", q);
			goto out;
		}
		break;
	case FL_CFG_ENUM:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcmp(t, k->choices[i]) == 0) {
				v->i = i;
				r = 0;
				break;
			}
		}
		if (r != 0) {
			len = (size_t)snprintf(err, ERR_MAX, "%s is not one of", q);
			for (int i = 0; k->choices[i] != NULL && len < ERR_MAX; i++)
				len += (size_t)snprintf(err + len, ERR_MAX - len, "%s %s",
				                        i > 0 ? "," : "", k->choices[i]);
			goto out;
		}
		break;
	case FL_CFG_SECONDS: {
		char *unit;

		d = strtod(t, &unit);
		end = unit;
		if (end == t || !isfinite(d)) {
			snprintf(err, ERR_MAX, "%s is not a duration (e.g. 30s, 5m, 2h, 250ms)", q);
			goto out;
		}
		if (strcmp(end, "ms") == 0)
			d /= 1000;
		else if (strcmp(end, "m") == 0)
			d *= 60;
		else if (strcmp(end, "h") == 0)
			d *= 3600;
		else if (strcmp(end, "s") != 0 && end[0] != '\0') {
			snprintf(err, ERR_MAX, "%s is not a duration (e.g. 30s, 5m, 2h, 250ms)", q);
			goto out;
		}
		if (!isfinite(d)) {
			snprintf(err, ERR_MAX, "%s is too long", q);
			goto out;
		}
		if (d < 0) {
			snprintf(err, ERR_MAX, "%s is negative", q);
			goto out;
		}
		if ((r = check_bounds(k, d, t, err)) != 0)
			goto out;
		v->d = d;
		break;
	}
	case FL_CFG_SIZE: {
		unsigned shift = 0;

		rc = digits_u64(t, &v->u, &end);
		if (rc == 0) {
			switch (end[0]) {
			case '\0': shift = 0; break;
			case 'K':
			case 'k': shift = 10; break;
			case 'M':
			case 'm': shift = 20; break;
			case 'G':
			case 'g': shift = 30; break;
			case 'T':
			case 't': shift = 40; break;
			default: rc = -1; break;
			}
			if (end[0] != '\0' && end[1] != '\0')
				rc = -1;
		}
		if (rc == -1) {
			snprintf(err, ERR_MAX, "%s is not a size (e.g. 65536, 64K, 16M, 1G)", q);
			goto out;
		}
		if (rc == -2 || v->u > (UINT64_MAX >> shift)) {
			snprintf(err, ERR_MAX, "%s is too large", q);
			goto out;
		}
		v->u <<= shift;
		if ((r = check_bounds(k, (double)v->u, t, err)) != 0)
			goto out;
		break;
	}
	case FL_CFG_LIST:
		if ((r = parse_list(t, q, &v->l, err)) != 0)
			goto out;
		break;
	default: snprintf(err, ERR_MAX, "key has an unknown type %d", (int)k->type); goto out;
	}
	r = 0;
out:
	if (r != 0)
		memset(v, 0, sizeof(*v));
	free(t);
	return r;
}

static void free_field(const struct fl_cfg_key *k, void *obj)
{
	switch (k->type) {
	case FL_CFG_STRING:
	case FL_CFG_PATH:
	case FL_CFG_ADDR: {
		char **s = field(k, obj);

		free(*s);
		*s = NULL;
		break;
	}
	case FL_CFG_LIST: list_free(field(k, obj)); break;
	default: break;
	}
}

/* Moves v into the field, freeing what the field held. */
static void store(const struct fl_cfg_key *k, void *obj, union cfg_val *v)
{
	free_field(k, obj);
	switch (k->type) {
	case FL_CFG_STRING:
	case FL_CFG_PATH:
	case FL_CFG_ADDR: *(char **)field(k, obj) = v->s; break;
	case FL_CFG_DOUBLE:
	case FL_CFG_L2:
	case FL_CFG_SECONDS: *(double *)field(k, obj) = v->d; break;
	case FL_CFG_U64:
	case FL_CFG_SIZE: *(uint64_t *)field(k, obj) = v->u; break;
	case FL_CFG_BOOL:
	case FL_CFG_ENUM: *(int *)field(k, obj) = v->i; break;
	case FL_CFG_LIST: *(struct fl_strlist *)field(k, obj) = v->l; break;
	}
	memset(v, 0, sizeof(*v));
}

/* The table is code, so a mistake in it is a bug: report it at startup. */
static int check_table(const struct fl_cfg_key *keys)
{
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++) {
		if (k->name[0] == '\0' || strchr(k->name, '=') != NULL || k->section == NULL)
			return fl_fail(FL_ERR_INTERNAL,
			               "configuration table: key \"%s\": bad name or no section",
			               k->name);
		if ((unsigned)k->type > FL_CFG_LIST)
			return fl_fail(FL_ERR_INTERNAL, "configuration table: key \"%s\": bad type",
			               k->name);
		if (k->type == FL_CFG_ENUM && (k->choices == NULL || k->choices[0] == NULL))
			return fl_fail(FL_ERR_INTERNAL,
			               "configuration table: key \"%s\": an enum without choices",
			               k->name);
		if (bounded(k) && !(k->min <= k->max))
			return fl_fail(FL_ERR_INTERNAL,
			               "configuration table: key \"%s\": min %g is above max %g "
			               "(use INFINITY for no maximum)",
			               k->name, k->min, k->max);
		for (const struct fl_cfg_key *j = keys; j < k; j++)
			if (names_equal(j->name, k->name))
				return fl_fail(FL_ERR_INTERNAL,
				               "configuration table: key \"%s\" appears twice",
				               k->name);
	}
	return 0;
}

int fl_config_defaults(const struct fl_cfg_key *keys, void *obj)
{
	char err[ERR_MAX];
	union cfg_val v;
	int r;

	if ((r = check_table(keys)) != 0)
		goto out;
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++) {
		memset(&v, 0, sizeof(v));
		if (k->dflt != NULL) {
			r = parse_value(k, k->dflt, &v, err);
			if (r == FL_ERR_CONFIG)
				r = fl_fail(FL_ERR_INTERNAL,
				            "configuration table: default of %s: %s", k->name, err);
			else if (r != 0)
				r = fl_fail(r, "out of memory");
			if (r != 0)
				goto out;
		}
		store(k, obj, &v);
	}
	r = 0;
out:
	return r;
}

int fl_config_set(const struct fl_cfg_key *keys, void *obj, const char *name, const char *value,
                  const char *origin)
{
	char err[ERR_MAX], q[QUOTE_MAX + 16];
	const struct fl_cfg_key *k = find_key(keys, name, NULL);
	union cfg_val v;
	int r;

	if (k == NULL) {
		quote(q, sizeof(q), name);
		return fl_fail(FL_ERR_CONFIG, "%s: unknown key %s", origin != NULL ? origin : name,
		               q);
	}
	r = parse_value(k, value, &v, err);
	if (r == FL_ERR_CONFIG)
		return fl_fail(r, "%s: %s", origin != NULL ? origin : k->name, err);
	if (r != 0)
		return fl_fail(r, "out of memory");
	store(k, obj, &v);
	return 0;
}

/* What fl_config_load() keeps while libinih walks the file. */
struct load_state {
	const struct fl_cfg_key *keys;
	void *obj;
	const char *path;
	FILE *fp;
	char *buf; /* getline()'s buffer */
	size_t bufsz;
	int line;     /* the line libinih is working on: we count the lines we hand it */
	int *set_on;  /* per key: the line that set it, 0 = not yet */
	int err_line; /* first line with an error found by us, 0 = none */
	int read_errno;
	int nomem;
	char msg[1024];
};

static void load_error(struct load_state *st, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Keeps the first error only: it is the one a person fixes first. */
static void load_error(struct load_state *st, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (st->err_line != 0)
		return;
	st->err_line = st->line;
	n = snprintf(st->msg, sizeof(st->msg), "%s:%d: ", st->path, st->line);
	if (n < 0 || (size_t)n >= sizeof(st->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(st->msg + n, sizeof(st->msg) - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * libinih's line source. Reading the lines ourselves gives the handler the
 * line number (the library's handler has none), turns a line too long for
 * libinih's fixed buffer into an error instead of two half lines, and strips
 * the indentation that would make libinih treat a line as the continuation
 * of the previous value (its multi-line mode is on in the Debian build, and
 * a continuation would call the handler again with the same name).
 */
static char *read_line(char *str, int num, void *stream)
{
	struct load_state *st = stream;
	ssize_t len;
	char *s;
	size_t n, max = FL_CFG_MAX_LINE;

	errno = 0;
	len = getline(&st->buf, &st->bufsz, st->fp);
	if (len < 0) {
		if (ferror(st->fp))
			st->read_errno = errno != 0 ? errno : EIO;
		return NULL;
	}
	st->line++;
	s = st->buf;
	n = (size_t)len;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	s[n] = '\0';
	if (strlen(s) != n) {
		load_error(st, "the line contains a NUL byte");
		s[0] = '\0';
	}
	if (st->line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* a UTF-8 byte-order mark */
	if (num > 0 && (size_t)num - 1 < max)
		max = (size_t)num - 1;
	if (strlen(s) > max) {
		load_error(st, "the line is longer than %zu characters", max);
		s[0] = '\0';
	}
	while (isspace((unsigned char)*s))
		s++;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		/* libinih reports a missing ']' itself, as a syntax error. */
		if (close != NULL && !section_known(st->keys, s + 1, (size_t)(close - s - 1)))
			load_error(st, "unknown section [%.*s]", (int)(close - s - 1), s + 1);
	}
	memcpy(str, s, strlen(s) + 1);
	return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	const struct fl_cfg_key *k, *other;
	char err[ERR_MAX], q[QUOTE_MAX + 16];
	union cfg_val v;
	size_t i;
	int r;

	if (st->err_line != 0)
		return 1; /* already failed; the first error is the one reported */
	quote(q, sizeof(q), name);
	k = find_key(st->keys, name, section);
	if (k == NULL) {
		other = find_key(st->keys, name, NULL);
		if (section[0] == '\0')
			load_error(st, "unknown key %s before any [section]", q);
		else
			load_error(st, "unknown key %s in section [%s]", q, section);
		if (other != NULL && st->err_line == st->line) {
			size_t len = strlen(st->msg);

			snprintf(st->msg + len, sizeof(st->msg) - len, " (it belongs in [%s])",
			         sec(other));
		}
		return 0;
	}
	i = (size_t)(k - st->keys);
	if (st->set_on[i] != 0) {
		load_error(st, "%s is set twice (first on line %d)", q, st->set_on[i]);
		return 0;
	}
	st->set_on[i] = st->line;
	r = parse_value(k, value, &v, err);
	if (r == FL_ERR_CONFIG) {
		load_error(st, "%s: %s", name, err);
		return 0;
	}
	if (r != 0) {
		st->nomem = 1;
		return 0;
	}
	store(k, st->obj, &v);
	return 1;
}

int fl_config_load(const struct fl_cfg_key *keys, void *obj, const char *path)
{
	struct load_state st;
	int r, rc;

	memset(&st, 0, sizeof(st));
	st.keys = keys;
	st.obj = obj;
	st.path = path;
	if ((r = check_table(keys)) != 0)
		goto out;
	r = FL_ERR_NOMEM;
	st.set_on = calloc(fl_config_count(keys) + 1, sizeof(*st.set_on));
	if (st.set_on == NULL)
		goto out;
	st.fp = fopen(path, "r");
	if (st.fp == NULL) {
		r = fl_fail(FL_ERR_CONFIG, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	rc = ini_parse_stream(read_line, &st, on_pair, &st);
	if (st.nomem || rc == -2) {
		r = fl_fail(FL_ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	if (st.read_errno != 0) {
		r = fl_fail(FL_ERR_CONFIG, "%s: cannot read: %s", path, strerror(st.read_errno));
		goto out;
	}
	/* libinih returns the first line it found wrong: our handler's refusals
	 * and its own syntax errors. One it found before any of ours is a syntax
	 * error; our message already covers the line it shares with ours. */
	if (rc > 0 && (st.err_line == 0 || rc < st.err_line)) {
		r = fl_fail(FL_ERR_CONFIG, "%s:%d: syntax error", path, rc);
		goto out;
	}
	if (st.err_line != 0) {
		r = fl_fail(FL_ERR_CONFIG, "%s", st.msg);
		goto out;
	}
	if (rc != 0) {
		r = fl_fail(FL_ERR_INTERNAL, "%s: libinih failed (%d)", path, rc);
		goto out;
	}
	r = 0;
out:
	if (st.fp != NULL)
		fclose(st.fp);
	free(st.buf);
	free(st.set_on);
	return r;
}

int fl_config_getopt(const struct fl_cfg_key *keys, const struct option *extra, int first_val,
                     struct option **out)
{
	size_t nkeys = fl_config_count(keys), nextra = 0, nalias = 0, names = 0, o = 0;
	struct option *opts = NULL;
	char *strings;
	int r;

	*out = NULL;
	if ((r = check_table(keys)) != 0)
		goto out;
	r = FL_ERR_INTERNAL;
	if (first_val <= 0 || (size_t)(INT_MAX - first_val) < nkeys) {
		r = fl_fail(r, "fl_config_getopt: first_val %d leaves no room for %zu keys",
		            first_val, nkeys);
		goto out;
	}
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++) {
		if (strchr(k->name, '_') != NULL) {
			nalias++;
			names += strlen(k->name) + 1;
		}
	}
	for (; extra != NULL && extra[nextra].name != NULL; nextra++) {
		const struct option *x = &extra[nextra];

		if (find_key(keys, x->name, NULL) != NULL) {
			r = fl_fail(r, "fl_config_getopt: option --%s is also a configuration key",
			            x->name);
			goto out;
		}
		if (x->flag == NULL && x->val >= first_val &&
		    (size_t)(x->val - first_val) < nkeys) {
			r = fl_fail(r, "fl_config_getopt: option --%s has the value %d of a key",
			            x->name, x->val);
			goto out;
		}
	}
	r = FL_ERR_NOMEM;
	opts = malloc((nkeys + nalias + nextra + 1) * sizeof(*opts) + names);
	if (opts == NULL)
		goto out;
	strings = (char *)(opts + nkeys + nalias + nextra + 1);
	for (size_t i = 0; i < nkeys; i++) {
		opts[o++] =
		        (struct option){keys[i].name, required_argument, NULL, first_val + (int)i};
		if (strchr(keys[i].name, '_') != NULL) {
			size_t len = strlen(keys[i].name) + 1;

			memcpy(strings, keys[i].name, len);
			for (char *c = strings; *c != '\0'; c++)
				if (*c == '_')
					*c = '-';
			opts[o++] = (struct option){strings, required_argument, NULL,
			                            first_val + (int)i};
			strings += len;
		}
	}
	for (size_t i = 0; i < nextra; i++)
		opts[o++] = extra[i];
	opts[o] = (struct option){NULL, 0, NULL, 0};
	*out = opts;
	opts = NULL;
	r = 0;
out:
	free(opts);
	return r;
}

/* What --help shows as a key's argument. */
static void metavar(const struct fl_cfg_key *k, char *buf, size_t n)
{
	size_t len;

	switch (k->type) {
	case FL_CFG_STRING: snprintf(buf, n, "TEXT"); break;
	case FL_CFG_PATH: snprintf(buf, n, "FILE"); break;
	case FL_CFG_DOUBLE: snprintf(buf, n, "NUMBER"); break;
	case FL_CFG_U64: snprintf(buf, n, "N"); break;
	case FL_CFG_BOOL: snprintf(buf, n, "yes|no"); break;
	case FL_CFG_L2: snprintf(buf, n, "NUMBER|auto"); break;
	case FL_CFG_SECONDS: snprintf(buf, n, "DURATION"); break;
	case FL_CFG_SIZE: snprintf(buf, n, "SIZE"); break;
	case FL_CFG_ADDR: snprintf(buf, n, "HOST:PORT"); break;
	case FL_CFG_LIST: snprintf(buf, n, "A,B,..."); break;
	case FL_CFG_ENUM:
		buf[0] = '\0';
		len = 0;
		for (int i = 0; k->choices[i] != NULL && len < n; i++)
			len += (size_t)snprintf(buf + len, n - len, "%s%s", i > 0 ? "|" : "",
			                        k->choices[i]);
		break;
	default: snprintf(buf, n, "VALUE"); break;
	}
}

/* Whether section s first appears at key k (so each section is printed once). */
static int first_of_section(const struct fl_cfg_key *keys, const struct fl_cfg_key *k)
{
	for (const struct fl_cfg_key *j = keys; j < k; j++)
		if (strcmp(sec(j), sec(k)) == 0)
			return 0;
	return 1;
}

void fl_config_usage(const struct fl_cfg_key *keys, FILE *fp)
{
	char flag[128], mv[128];

	for (const struct fl_cfg_key *s = keys; s->name != NULL; s++) {
		if (!first_of_section(keys, s))
			continue;
		if (sec(s)[0] != '\0')
			fprintf(fp, "%s[%s]\n", s == keys ? "" : "\n", sec(s));
		for (const struct fl_cfg_key *k = s; k->name != NULL; k++) {
			if (strcmp(sec(k), sec(s)) != 0)
				continue;
			metavar(k, mv, sizeof(mv));
			snprintf(flag, sizeof(flag), "--%s %s", k->name, mv);
			for (char *c = flag; *c != ' ' && *c != '\0'; c++)
				if (*c == '_')
					*c = '-';
			fprintf(fp, "  %-30s %s", flag, k->help != NULL ? k->help : "");
			if (k->dflt != NULL && k->dflt[0] != '\0')
				fprintf(fp, " (default: %s)", k->dflt);
			fputc('\n', fp);
		}
	}
}

/* Writes " VALUE" (nothing for an unset string or an empty list). */
static int dump_value(const struct fl_cfg_key *k, const void *obj, FILE *fp)
{
	const void *f = cfield(k, obj);
	char buf[64];

	switch (k->type) {
	case FL_CFG_STRING:
	case FL_CFG_PATH:
	case FL_CFG_ADDR: {
		const char *s = *(char *const *)f;

		if (s != NULL && s[0] != '\0')
			fprintf(fp, " %s", s);
		break;
	}
	case FL_CFG_DOUBLE:
		fmt_double(buf, sizeof(buf), *(const double *)f);
		fprintf(fp, " %s", buf);
		break;
	case FL_CFG_L2:
		if (*(const double *)f < 0) {
			fputs(" auto", fp);
			break;
		}
		fmt_double(buf, sizeof(buf), *(const double *)f);
		fprintf(fp, " %s", buf);
		break;
	case FL_CFG_SECONDS:
		fmt_seconds(buf, sizeof(buf), *(const double *)f);
		fprintf(fp, " %s", buf);
		break;
	case FL_CFG_U64: fprintf(fp, " %" PRIu64, *(const uint64_t *)f); break;
	case FL_CFG_SIZE:
		fmt_size(buf, sizeof(buf), *(const uint64_t *)f);
		fprintf(fp, " %s", buf);
		break;
	case FL_CFG_BOOL: fputs(*(const int *)f ? " true" : " false", fp); break;
	case FL_CFG_ENUM: {
		int i = *(const int *)f, n = 0;

		while (k->choices[n] != NULL)
			n++;
		if (i < 0 || i >= n)
			return fl_fail(FL_ERR_INTERNAL,
			               "%s: enum index %d is not one of the %d choices", k->name, i,
			               n);
		fprintf(fp, " %s", k->choices[i]);
		break;
	}
	case FL_CFG_LIST: {
		const struct fl_strlist *l = f;

		for (size_t i = 0; i < l->n; i++)
			fprintf(fp, "%s%s", i > 0 ? ", " : " ", l->v[i]);
		break;
	}
	}
	return 0;
}

int fl_config_dump(const struct fl_cfg_key *keys, const void *obj, FILE *fp)
{
	int r = 0, first = 1;

	for (const struct fl_cfg_key *s = keys; s->name != NULL; s++) {
		if (!first_of_section(keys, s))
			continue;
		if (sec(s)[0] != '\0')
			fprintf(fp, "%s[%s]\n", first ? "" : "\n", sec(s));
		first = 0;
		for (const struct fl_cfg_key *k = s; k->name != NULL; k++) {
			if (strcmp(sec(k), sec(s)) != 0)
				continue;
			fprintf(fp, "%s =", k->name);
			if ((r = dump_value(k, obj, fp)) != 0)
				goto out;
			fputc('\n', fp);
		}
	}
	if (fflush(fp) != 0 || ferror(fp)) {
		r = fl_fail(FL_ERR_IO, "cannot write the configuration: %s", strerror(errno));
		goto out;
	}
	r = 0;
out:
	return r;
}

void fl_config_free(const struct fl_cfg_key *keys, void *obj)
{
	if (keys == NULL || obj == NULL)
		return;
	for (const struct fl_cfg_key *k = keys; k->name != NULL; k++)
		free_field(k, obj);
}
