/*
 * Record sources: a CSV file or a registered source; see
 * include/fedlead/source.h.
 */
#include "fedlead/source.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"

struct fl_source {
	char *name;
	const struct fl_source_ops *ops; /* NULL: a CSV file, csv */
	void *impl;
	struct fl_csv *csv;
};

/* The registry: few entries (one a command), looked up by name. */
struct entry {
	char *name;
	fl_source_open_fn fn;
	void *arg;
	void (*free_arg)(void *arg);
	struct entry *next;
};

static struct entry *registry;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static void entry_free(struct entry *e)
{
	if (e->free_arg != NULL)
		e->free_arg(e->arg);
	free(e->name);
	free(e);
}

int fl_source_register(const char *name, fl_source_open_fn fn, void *arg,
                       void (*free_arg)(void *arg))
{
	struct entry *e, **p;

	if ((e = calloc(1, sizeof(*e))) == NULL || (e->name = strdup(name)) == NULL) {
		free(e);
		if (free_arg != NULL)
			free_arg(arg);
		return FL_ERR_NOMEM;
	}
	e->fn = fn;
	e->arg = arg;
	e->free_arg = free_arg;
	pthread_mutex_lock(&registry_lock);
	for (p = &registry; *p != NULL; p = &(*p)->next)
		if (strcmp((*p)->name, name) == 0) {
			struct entry *old = *p;

			e->next = old->next;
			*p = e;
			entry_free(old);
			pthread_mutex_unlock(&registry_lock);
			return 0;
		}
	*p = e;
	pthread_mutex_unlock(&registry_lock);
	return 0;
}

static struct entry *lookup(const char *name)
{
	struct entry *e;

	for (e = registry; e != NULL && strcmp(e->name, name) != 0; e = e->next)
		;
	return e;
}

int fl_source_registered(const char *name)
{
	int found;

	pthread_mutex_lock(&registry_lock);
	found = lookup(name) != NULL;
	pthread_mutex_unlock(&registry_lock);
	return found;
}

void fl_source_registry_clear(void)
{
	pthread_mutex_lock(&registry_lock);
	while (registry != NULL) {
		struct entry *e = registry;

		registry = e->next;
		entry_free(e);
	}
	pthread_mutex_unlock(&registry_lock);
}

int fl_source_new(const char *name, const struct fl_source_ops *ops, void *impl,
                  struct fl_source **out)
{
	struct fl_source *src;

	*out = NULL;
	if ((src = calloc(1, sizeof(*src))) == NULL || (src->name = strdup(name)) == NULL) {
		free(src);
		ops->free(impl);
		return FL_ERR_NOMEM;
	}
	src->ops = ops;
	src->impl = impl;
	*out = src;
	return 0;
}

int fl_source_open(const char *name, const struct fl_csv_dialect *d, struct fl_source **out)
{
	struct fl_source *src = NULL;
	fl_source_open_fn fn = NULL;
	void *arg = NULL;
	struct entry *e;
	int r;

	*out = NULL;
	pthread_mutex_lock(&registry_lock);
	if ((e = lookup(name)) != NULL) {
		fn = e->fn;
		arg = e->arg;
	}
	pthread_mutex_unlock(&registry_lock);
	if (fn != NULL)
		return fn(arg, name, d, out);
	if ((src = calloc(1, sizeof(*src))) == NULL || (src->name = strdup(name)) == NULL) {
		free(src);
		return FL_ERR_NOMEM;
	}
	if ((r = fl_csv_open_dialect(name, d, &src->csv)) != 0) {
		fl_source_free(src);
		return r;
	}
	*out = src;
	return 0;
}

int fl_source_next(struct fl_source *src, struct fl_csv_record *rec)
{
	return src->ops != NULL ? src->ops->next(src->impl, rec) : fl_csv_next(src->csv, rec);
}

int fl_source_rewind(struct fl_source *src)
{
	return src->ops != NULL ? src->ops->rewind(src->impl) : fl_csv_rewind(src->csv);
}

const char *fl_source_name(const struct fl_source *src)
{
	/* A file's name is the reader's ("<stdin>" for "-"). */
	return src->csv != NULL ? fl_csv_path(src->csv) : src->name;
}

struct fl_csv *fl_source_csv(const struct fl_source *src)
{
	return src->csv;
}

uint64_t fl_source_bytes_read(const struct fl_source *src)
{
	return src->ops != NULL ? src->ops->bytes_read(src->impl) : fl_csv_bytes_read(src->csv);
}

int fl_source_plain_numbers(const struct fl_source *src)
{
	return src->ops != NULL && src->ops->plain_numbers;
}

/* Reads the digits at *p into *v; 0 when there are none. */
static int digits(const char **p, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	while (*s >= '0' && *s <= '9' && *v < UINT64_MAX / 10)
		*v = *v * 10 + (uint64_t)(*s++ - '0');
	if (s == *p)
		return 0;
	*p = s;
	return 1;
}

int fl_source_restate(struct fl_source *src, int err)
{
	char msg[1024], where[512];
	const char *p;
	size_t n = strlen(src->name);
	uint64_t line, col = 0;

	if (src->ops == NULL)
		return err;
	snprintf(msg, sizeof(msg), "%s", fl_errmsg());
	/* "NAME:LINE: rest" or "NAME:LINE:COL: rest" */
	if (strncmp(msg, src->name, n) != 0 || msg[n] != ':')
		return err;
	p = msg + n + 1;
	if (!digits(&p, &line) || *p != ':')
		return err;
	p++;
	if (digits(&p, &col)) {
		if (*p != ':' || col == 0)
			return err;
		p++;
	}
	if (*p != ' ')
		return err;
	src->ops->position(src->impl, line, col > 0 ? (size_t)(col - 1) : SIZE_MAX, where,
	                   sizeof(where));
	return fl_fail(err, "%s:%s", where, p);
}

void fl_source_free(struct fl_source *src)
{
	if (src == NULL)
		return;
	if (src->ops != NULL)
		src->ops->free(src->impl);
	fl_csv_free(src->csv);
	free(src->name);
	free(src);
}
