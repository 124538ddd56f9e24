/*
 * The privacy ledger; see include/fedlead/ledger.h for the format and the
 * crash argument.
 */
/* flock() is BSD, not POSIX: fcntl() locks are per process and dropped
 * when any descriptor of the file is closed, flock() locks belong to the
 * open file, which is what "this ledger is open" means. */
#define _DEFAULT_SOURCE
#include "fedlead/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fedlead/error.h"

#define HEADER "fedlead-ledger 1\n"
#define CHAIN_HEX 32
/* A ledger of a million releases is about 100 MiB; nothing legitimate comes
 * near this, and the bound keeps a damaged file from exhausting memory. */
#define MAX_FILE ((off_t)256 << 20)
#define MAX_LINE 512

struct fl_ledger {
	int fd;
	char *path;
	char chain[CHAIN_HEX + 1]; /* of the last line */
	struct fl_release *rel;
	size_t n, cap;
};

static int name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FL_LEDGER_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '@'))
			return 0;
	}
	return 1;
}

/* The fields of a line without its chain, as written. */
static int fields(const struct fl_release *r, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%" PRId64 " %" PRIu64 " %s %" PRIu64 " %s", r->time, r->rho_e12,
	                 r->federation, r->round, r->kind);

	return k > 0 && (size_t)k < n ? k : -1;
}

static int chain_of(const char *prev, const char *body, char out[CHAIN_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(ctx, prev, CHAIN_HEX) == 1 &&
	         EVP_DigestUpdate(ctx, " ", 1) == 1 &&
	         EVP_DigestUpdate(ctx, body, strlen(body)) == 1 &&
	         EVP_DigestFinal_ex(ctx, md, &len) == 1;

	EVP_MD_CTX_free(ctx);
	if (!ok)
		return fl_fail(FL_ERR_CRYPTO, "SHA-256 failed");
	for (int i = 0; i < CHAIN_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int reserve(struct fl_ledger *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct fl_release *p = realloc(l->rel, cap * sizeof(*p));

		if (p == NULL)
			return FL_ERR_NOMEM;
		l->rel = p;
		l->cap = cap;
	}
	return 0;
}

static int push(struct fl_ledger *l, const struct fl_release *r)
{
	int rc = reserve(l);

	if (rc == 0)
		l->rel[l->n++] = *r;
	return rc;
}

static int sync_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, r = 0;

	if (dir == NULL)
		return FL_ERR_NOMEM;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		r = fl_fail(FL_ERR_IO, "%s: cannot sync its directory: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Parses one complete line (without its newline) into r, checking the
 * chain against prev; on success prev becomes this line's chain. */
static int parse_line(struct fl_ledger *l, char *line, size_t lineno, struct fl_release *r)
{
	char fed[FL_LEDGER_MAX_NAME + 2], kind[FL_LEDGER_MAX_NAME + 2], chain[CHAIN_HEX + 2];
	char body[MAX_LINE], want[CHAIN_HEX + 1];
	int64_t t;
	uint64_t rho, round;
	int used = 0, rc;

	if (strlen(line) >= MAX_LINE)
		return fl_fail(FL_ERR_DATA, "%s:%zu: line too long", l->path, lineno);
	if (sscanf(line, "%" SCNd64 " %" SCNu64 " %65s %" SCNu64 " %65s %33s%n", &t, &rho, fed,
	           &round, kind, chain, &used) != 6 ||
	    line[used] != '\0')
		return fl_fail(FL_ERR_DATA, "%s:%zu: not a ledger line", l->path, lineno);
	if (!name_ok(fed) || !name_ok(kind) || strlen(chain) != CHAIN_HEX)
		return fl_fail(FL_ERR_DATA, "%s:%zu: not a ledger line", l->path, lineno);
	memset(r, 0, sizeof(*r));
	r->time = t;
	r->rho_e12 = rho;
	r->round = round;
	strcpy(r->federation, fed);
	strcpy(r->kind, kind);
	if (fields(r, body, sizeof(body)) < 0)
		return fl_fail(FL_ERR_DATA, "%s:%zu: not a ledger line", l->path, lineno);
	if ((rc = chain_of(l->chain, body, want)) != 0)
		return rc;
	if (memcmp(want, chain, CHAIN_HEX) != 0)
		return fl_fail(FL_ERR_DATA,
		               "%s:%zu: the chain does not match: the line was changed or a line "
		               "before it removed",
		               l->path, lineno);
	memcpy(l->chain, want, sizeof(want));
	return 0;
}

static int load(struct fl_ledger *l, int *repaired)
{
	struct stat st;
	char *buf = NULL, *p, *end;
	size_t lineno = 0, keep;
	ssize_t got = 0;
	int r;

	if (fstat(l->fd, &st) != 0)
		return fl_fail(FL_ERR_IO, "%s: %s", l->path, strerror(errno));
	if (st.st_size > MAX_FILE)
		return fl_fail(FL_ERR_DATA, "%s: larger than %lld bytes: not a ledger", l->path,
		               (long long)MAX_FILE);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return FL_ERR_NOMEM;
	while (got < st.st_size) {
		ssize_t k = pread(l->fd, buf + got, (size_t)(st.st_size - got), got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = fl_fail(FL_ERR_IO, "%s: %s", l->path,
			            k < 0 ? strerror(errno) : "short read");
			goto out;
		}
		got += k;
	}
	buf[got] = '\0';
	end = buf + got;
	/* Everything after the last newline is a torn write. */
	keep = (size_t)got;
	while (keep > 0 && buf[keep - 1] != '\n')
		keep--;
	if (keep != (size_t)got) {
		if (ftruncate(l->fd, (off_t)keep) != 0 || fsync(l->fd) != 0) {
			r = fl_fail(FL_ERR_IO, "%s: cannot remove a torn last line: %s", l->path,
			            strerror(errno));
			goto out;
		}
		*repaired = 1;
		end = buf + keep;
		*end = '\0';
	}
	memset(l->chain, '0', CHAIN_HEX);
	l->chain[CHAIN_HEX] = '\0';
	if (end == buf) { /* new (or only a torn header): write the header */
		if (write_all(l->fd, HEADER, strlen(HEADER)) != 0 || fsync(l->fd) != 0) {
			r = fl_fail(FL_ERR_IO, "%s: %s", l->path, strerror(errno));
			goto out;
		}
		r = sync_dir(l->path);
		goto out;
	}
	if ((size_t)(end - buf) < strlen(HEADER) || memcmp(buf, HEADER, strlen(HEADER)) != 0) {
		r = fl_fail(FL_ERR_DATA, "%s:1: not a fedlead privacy ledger", l->path);
		goto out;
	}
	p = buf + strlen(HEADER);
	lineno = 1;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		struct fl_release rel;

		lineno++;
		*nl = '\0';
		if ((r = parse_line(l, p, lineno, &rel)) != 0 || (r = push(l, &rel)) != 0)
			goto out;
		p = nl + 1;
	}
	r = 0;
out:
	free(buf);
	return r;
}

int fl_ledger_open(const char *path, int create, struct fl_ledger **out, int *repaired)
{
	struct fl_ledger *l;
	int r, k;

	*out = NULL;
	*repaired = 0;
	if ((l = calloc(1, sizeof(*l))) == NULL || (l->path = strdup(path)) == NULL) {
		free(l);
		return FL_ERR_NOMEM;
	}
	l->fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (l->fd < 0) {
		r = fl_fail(FL_ERR_IO, "privacy ledger %s: %s", path, strerror(errno));
		goto fail;
	}
	while ((k = flock(l->fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
		;
	if (k != 0) {
		r = fl_fail(FL_ERR_IO, "privacy ledger %s is in use by another process", path);
		goto fail;
	}
	if ((r = load(l, repaired)) != 0)
		goto fail;
	*out = l;
	return 0;
fail:
	fl_ledger_close(l);
	return r;
}

void fl_ledger_close(struct fl_ledger *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd); /* also drops the lock */
	free(l->rel);
	free(l->path);
	free(l);
}

uint64_t fl_ledger_units(double rho)
{
	double u;

	if (!(rho > 0))
		return 0;
	u = ceil(rho * FL_LEDGER_UNITS);
	return u >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)u;
}

uint64_t fl_ledger_spent(const struct fl_ledger *l, int64_t since)
{
	uint64_t s = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->rel[i].time >= since)
			s = s > UINT64_MAX - l->rel[i].rho_e12 ? UINT64_MAX : s + l->rel[i].rho_e12;
	return s;
}

int fl_ledger_charge(struct fl_ledger *l, const struct fl_release *rel, uint64_t budget_e12,
                     int64_t since)
{
	uint64_t spent = fl_ledger_spent(l, since);
	char body[MAX_LINE], chain[CHAIN_HEX + 1], line[MAX_LINE + CHAIN_HEX + 4];
	off_t size;
	int r, k;

	if (!name_ok(rel->federation) || !name_ok(rel->kind))
		return fl_fail(FL_ERR_INVALID, "privacy ledger: bad federation id or release kind");
	if (rel->rho_e12 > budget_e12 || spent > budget_e12 - rel->rho_e12)
		return fl_fail(
		        FL_ERR_LIMIT,
		        "privacy budget exceeded: this release costs rho %.6g, the window has "
		        "spent %.6g of %.6g",
		        rel->rho_e12 / FL_LEDGER_UNITS, spent / FL_LEDGER_UNITS,
		        budget_e12 / FL_LEDGER_UNITS);
	if (fields(rel, body, sizeof(body)) < 0)
		return fl_fail(FL_ERR_INVALID, "privacy ledger: release too long to record");
	if ((r = chain_of(l->chain, body, chain)) != 0 || (r = reserve(l)) != 0)
		return r;
	k = snprintf(line, sizeof(line), "%s %s\n", body, chain);
	if (k < 0 || (size_t)k >= sizeof(line))
		return fl_fail(FL_ERR_INVALID, "privacy ledger: release too long to record");
	if ((size = lseek(l->fd, 0, SEEK_END)) < 0)
		return fl_fail(FL_ERR_IO, "%s: %s", l->path, strerror(errno));
	if (write_all(l->fd, line, (size_t)k) != 0 || fsync(l->fd) != 0) {
		r = fl_fail(FL_ERR_IO, "privacy ledger %s: cannot record the release: %s", l->path,
		            strerror(errno));
		/* Leave no half line behind; if this fails too, the next open
		 * removes it as a torn write. */
		if (ftruncate(l->fd, size) == 0)
			(void)fsync(l->fd);
		return r;
	}
	/* On disk now: count it whatever the directory sync says. */
	l->rel[l->n++] = *rel;
	memcpy(l->chain, chain, sizeof(chain));
	return sync_dir(l->path);
}

size_t fl_ledger_count(const struct fl_ledger *l)
{
	return l->n;
}

const struct fl_release *fl_ledger_entry(const struct fl_ledger *l, size_t i)
{
	return i < l->n ? &l->rel[i] : NULL;
}
