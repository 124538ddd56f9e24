/*
 * An exact ranker whose memory does not grow with the number of rows
 * (include/fedlead/ranker.h).
 *
 * The ranker keeps (score, row, label) records in a buffer of mem_records.
 * When the buffer fills it is sorted and appended to an unlinked temporary
 * file as a "run". finish() merges the runs with a heap, reading each run
 * through a fixed block, and walks the records in rank order once: that walk
 * yields the rank of every row and, in the same pass, the exact AUC, the
 * decile table and the top-K counts.
 *
 * The walk produces (row, rank) pairs in rank order, but callers ask for ranks
 * in row order. Writing each rank with its own pwrite() would cost a system
 * call per row, so the pairs are instead sorted by row the same way (runs of
 * pairs, then a merge) and the merge output, which is exactly row 0, 1, 2, ...,
 * is written sequentially to a rank file that fl_ranker_rank() reads through a
 * block. Every file access is sequential and in large blocks.
 *
 * Peak memory is about 24 bytes per mem_records (16-byte records plus half as
 * many pairs, or plus the 8-byte rank array when everything fits); disk use
 * is at most about 40 bytes per row, all in unlinked files.
 */
#include "fedlead/ranker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fedlead/error.h"
#include "fedlead/file.h"
#include "fedlead/metrics.h"
#include "ranker_int.h"

/* A merge needs at least two input blocks and an output block of one record. */
#define MIN_MEM_RECORDS 4
/* Blocks beyond 1 MiB do not make sequential I/O faster. */
#define MAX_BLOCK_RECORDS 65536
/* Smallest block a merge accepts before it prefers another pass (8 KiB). */
#define MIN_BLOCK_RECORDS 512
/* Byte offsets (rows * 16) must stay far inside off_t. */
#define MAX_ROWS (UINT64_C(1) << 56)

enum ranker_state { ST_ADDING, ST_JOINED, ST_DONE, ST_FAILED };

/* Sorted records of a joined ranker (fl_ranker_join()), rows from base. */
struct seg {
	struct rec *rec;
	size_t len;
	uint64_t base;
};

struct fl_ranker {
	char *dir;  /* where temporary files go (owned copy) */
	size_t cap; /* records the buffer may hold */
	enum ranker_state state;

	struct rec *buf; /* scores not yet spilled */
	size_t buf_len, buf_alloc;
	int sorted; /* buf is sorted (fl_ranker_sort_held()) */
	/* Joined rankers' records, while nothing is spilled: each sorted,
	 * their rows after buf's. */
	struct seg *segs;
	size_t n_segs;
	uint64_t n;       /* scores added */
	uint64_t spilled; /* records in fd[0], in runs of cap */

	int fd[2];   /* runs, and the other side of each merge pass */
	int fd_rank; /* rank of row i at byte 8 * i (external case) */

	int labels_unknown; /* some row had label -1 */
	uint64_t positives;
	struct ksum loss, brier;
	double zmin, zmax; /* score range, for the histogram's bins */
	struct fl_curves curves;

	uint64_t *ranks; /* in-memory case: rank of each row (n <= cap) */
	uint64_t *rbuf;  /* external case: a block of the rank file */
	size_t rbuf_cap, rbuf_len;
	uint64_t rbuf_first;
};

/* State of the single walk over the records in rank order. */
struct walk {
	uint64_t n, top_k;
	uint64_t pos;             /* rank of the record just seen */
	uint64_t gkey;            /* score key of the current tie group */
	uint64_t gpos, gneg;      /* labels in the current tie group */
	double gprob;             /* probability of the current tie group */
	uint64_t positives_above; /* positives in earlier tie groups */
	wide_t u2;                /* twice the Mann-Whitney U (ties count 1/2) */
	uint64_t top_pos;
	int dec;           /* 0-based decile of pos */
	uint64_t dec_last; /* last rank of that decile */
	uint64_t drows[FL_DECILES], dpos[FL_DECILES];
	double dprob[FL_DECILES];
	struct fl_curves *cv; /* chart summary being collected */
	uint64_t rows_above;  /* rows in earlier tie groups */
	uint64_t next_point;  /* rows_above at which the next curve point is due */
	uint64_t k_point;     /* index of that point among FL_CURVE_POINTS */
	int gbin;             /* histogram bin of the current tie group */

	uint64_t *ranks; /* in-memory case: ranks[row] = rank */
	/* In memory, when the ranks are put in buckets of rows first
	 * (bucket_ranks()): the next free place of each bucket. */
	size_t *bfill;
	int bshift;
	struct rec *pairs; /* external case: (row, rank) not yet spilled */
	size_t npairs, pcap;
	int pfd;
	uint64_t pat; /* pairs already in pfd */
};

enum sink_kind { SINK_FILE, SINK_WALK, SINK_RANKS };

/* Where a merge sends its output, one block at a time. */
struct sink {
	enum sink_kind kind;
	int fd;
	uint64_t at; /* records (or ranks) already written to fd */
	struct walk *w;
};

struct cursor {
	uint64_t at, end; /* unread part of the run in the file, in records */
	struct rec *blk;
	size_t len, pos;
};

static double key_z(uint64_t key)
{
	uint64_t b = ~key;
	double z;

	if (b >> 63)
		b &= ~(UINT64_C(1) << 63);
	else
		b = ~b;
	memcpy(&z, &b, sizeof(z));
	return z;
}

static inline int rec_lt(const struct rec *a, const struct rec *b)
{
	return a->hi < b->hi || (a->hi == b->hi && a->lo < b->lo);
}

static inline void rec_swap(struct rec *a, struct rec *b)
{
	struct rec t = *a;

	*a = *b;
	*b = t;
}

static void insertion_sort(struct rec *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct rec v = a[i];
		size_t j = i;

		while (j > 0 && rec_lt(&v, &a[j - 1])) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
}

static void sift_down(struct rec *a, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			return;
		if (c + 1 < n && rec_lt(&a[c], &a[c + 1]))
			c++;
		if (!rec_lt(&a[i], &a[c]))
			return;
		rec_swap(&a[i], &a[c]);
		i = c;
	}
}

static void heap_sort(struct rec *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(a, i, n);
	for (size_t i = n; i-- > 1;) {
		rec_swap(&a[0], &a[i]);
		sift_down(a, 0, i);
	}
}

/*
 * Introsort: in place (the buffer is the whole memory budget, so there is no
 * room for a merge sort's scratch copy), quicksort speed, and a heapsort
 * fallback that bounds the worst case to O(n log n).
 */
static void intro_sort(struct rec *a, size_t n, int depth)
{
	while (n > 16) {
		struct rec p;
		size_t i, j, mid = n / 2;

		if (depth-- == 0) {
			heap_sort(a, n);
			return;
		}
		/* Median of three; a[0] <= p <= a[n-1] stop both scans. */
		if (rec_lt(&a[mid], &a[0]))
			rec_swap(&a[mid], &a[0]);
		if (rec_lt(&a[n - 1], &a[mid]))
			rec_swap(&a[n - 1], &a[mid]);
		if (rec_lt(&a[mid], &a[0]))
			rec_swap(&a[mid], &a[0]);
		p = a[mid];
		i = 0;
		j = n - 1;
		for (;;) {
			while (rec_lt(&a[i], &p))
				i++;
			while (rec_lt(&p, &a[j]))
				j--;
			if (i >= j)
				break;
			rec_swap(&a[i], &a[j]);
			i++;
			j--;
		}
		/* [0, j] <= p <= [j + 1, n); recurse into the smaller side only. */
		if (j + 1 < n - (j + 1)) {
			intro_sort(a, j + 1, depth);
			a += j + 1;
			n -= j + 1;
		} else {
			intro_sort(a + j + 1, n - (j + 1), depth);
			n = j + 1;
		}
	}
	insertion_sort(a, n);
}

static void intro_sort_all(struct rec *a, size_t n)
{
	int depth = 0;

	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	intro_sort(a, n, depth);
}

/* Below this many records a bucket goes to introsort. */
#define RADIX_CUTOFF 64

/*
 * MSD radix sort on the byte of hi at `shift`, in place (American flag
 * sort): no scratch copy, so a run can use the whole buffer, and two to four
 * times faster than comparison sorting on millions of scores. Within a run all
 * records share the bytes above `shift`.
 */
static void radix_sort(struct rec *a, size_t n, int shift)
{
	size_t count[256], head[256], tail[256];

	for (;;) {
		if (n < RADIX_CUTOFF) {
			intro_sort_all(a, n);
			return;
		}
		memset(count, 0, sizeof(count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].hi >> shift) & 255]++;
		if (count[(a[0].hi >> shift) & 255] != n)
			break;
		/* One bucket holds everything: go to the next byte without moving data. */
		if (shift == 0) {
			intro_sort_all(a, n); /* hi all equal: order by lo */
			return;
		}
		shift -= 8;
	}
	for (size_t b = 0, s = 0; b < 256; b++) {
		head[b] = s;
		s += count[b];
		tail[b] = s;
	}
	/* Each swap puts a record into its bucket for good. */
	for (size_t b = 0; b < 256; b++) {
		while (head[b] < tail[b]) {
			struct rec v = a[head[b]];
			size_t d = (v.hi >> shift) & 255;

			while (d != b) {
				struct rec t = a[head[d]];

				a[head[d]++] = v;
				v = t;
				d = (v.hi >> shift) & 255;
			}
			a[head[b]++] = v;
		}
	}
	for (size_t b = 0, s = 0; b < 256; s += count[b], b++) {
		if (count[b] < 2)
			continue;
		if (shift == 0)
			intro_sort_all(a + s, count[b]);
		else
			radix_sort(a + s, count[b], shift - 8);
	}
}

void fl_ranker_sort_recs(struct rec *a, size_t n)
{
	radix_sort(a, n, 56);
}

static int io_fail(const struct fl_ranker *r, const char *what, int err)
{
	return fl_fail(FL_ERR_IO, "%s: cannot %s a temporary file: %s", r->dir, what,
	               strerror(err));
}

static int pwrite_all(const struct fl_ranker *r, int fd, const void *p, size_t len, uint64_t off)
{
	return fl_pwrite_all(fd, p, len, off) != 0 ? io_fail(r, "write", errno) : 0;
}

static int pread_all(const struct fl_ranker *r, int fd, void *p, size_t len, uint64_t off)
{
	char *c = p;

	while (len > 0) {
		ssize_t k = pread(fd, c, len, (off_t)off);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return io_fail(r, "read", errno);
		}
		if (k == 0)
			return fl_fail(FL_ERR_IO,
			               "%s: a temporary file is shorter than was written", r->dir);
		c += k;
		len -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/*
 * Creates an unlinked temporary file in r->dir into *fd unless it is open
 * already. Unlinking at once means nothing is left behind if we crash.
 */
static int tmp_file(const struct fl_ranker *r, int *fd)
{
	static const char name[] = "/fedlead-rank-XXXXXX";
	char *path = NULL;
	int f = -1, rc = FL_ERR_INTERNAL;

	if (*fd >= 0)
		return 0;
	if ((path = malloc(strlen(r->dir) + sizeof(name))) == NULL) {
		rc = FL_ERR_NOMEM;
		goto out;
	}
	strcpy(path, r->dir);
	strcat(path, name);
	if ((f = mkstemp(path)) < 0) {
		rc = io_fail(r, "create", errno);
		goto out;
	}
	if (unlink(path) != 0) {
		rc = io_fail(r, "unlink", errno);
		goto out;
	}
	/* Child processes (a shell hook, a peer process) have no use for it. */
	(void)fcntl(f, F_SETFD, FD_CLOEXEC);
	*fd = f;
	f = -1;
	rc = 0;
out:
	if (f >= 0)
		close(f);
	free(path);
	return rc;
}

int fl_ranker_tmpfile(const struct fl_ranker *r, int *fd)
{
	*fd = -1;
	return tmp_file(r, fd);
}

static void free_segs(struct fl_ranker *r)
{
	for (size_t k = 0; k < r->n_segs; k++)
		free(r->segs[k].rec);
	free(r->segs);
	r->segs = NULL;
	r->n_segs = 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int fl_ranker_new(const char *tmpdir, size_t mem_records, struct fl_ranker **out)
{
	struct fl_ranker *r = NULL;
	int rc = FL_ERR_INTERNAL;

	*out = NULL;
	if (mem_records < MIN_MEM_RECORDS)
		return fl_fail(FL_ERR_INVALID, "ranker: mem_records must be at least %d, not %zu",
		               MIN_MEM_RECORDS, mem_records);
	/* The merge phase also holds cap/2 pairs; keep every byte count representable. */
	if (mem_records > SIZE_MAX / 2 / sizeof(struct rec))
		return fl_fail(FL_ERR_INVALID, "ranker: mem_records %zu is too large", mem_records);
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = getenv("TMPDIR");
	if (tmpdir == NULL || tmpdir[0] == '\0')
		tmpdir = "/tmp";
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = FL_ERR_NOMEM;
		goto out;
	}
	r->fd[0] = r->fd[1] = r->fd_rank = -1;
	r->cap = mem_records;
	r->state = ST_ADDING;
	if ((r->dir = strdup(tmpdir)) == NULL) {
		rc = FL_ERR_NOMEM;
		goto out;
	}
	/*
	 * Created now even if the scores end up fitting in memory: an unusable
	 * directory is reported before the caller has read its whole input.
	 */
	if ((rc = tmp_file(r, &r->fd[0])) != 0)
		goto out;
	*out = r;
	r = NULL;
	rc = 0;
out:
	fl_ranker_free(r);
	return rc;
}

/* Sorts the buffer and appends it to the run file as one run. */
static int spill_run(struct fl_ranker *r)
{
	int rc;

	fl_ranker_sort_recs(r->buf, r->buf_len);
	rc = pwrite_all(r, r->fd[0], r->buf, r->buf_len * sizeof(*r->buf),
	                r->spilled * sizeof(*r->buf));
	if (rc != 0)
		return rc;
	r->spilled += r->buf_len;
	r->buf_len = 0;
	return 0;
}

/* Holds one record, spilling the buffer as a run when it is full. */
static int hold(struct fl_ranker *r, uint64_t hi, uint64_t lo)
{
	int rc;

	if (r->buf_len == r->cap && (rc = spill_run(r)) != 0)
		return rc;
	if (r->buf_len == r->buf_alloc) {
		/* Grow towards cap, so a few hundred rows do not take the whole budget. */
		size_t na = r->buf_alloc < 512 ? 1024 : 2 * r->buf_alloc;
		struct rec *nb;

		if (na > r->cap)
			na = r->cap;
		if ((nb = realloc(r->buf, na * sizeof(*nb))) == NULL)
			return fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %zu scores", na);
		r->buf = nb;
		r->buf_alloc = na;
	}
	r->buf[r->buf_len].hi = hi;
	r->buf[r->buf_len].lo = lo;
	r->buf_len++;
	r->sorted = 0;
	return 0;
}

int fl_ranker_add(struct fl_ranker *r, double z, int label)
{
	int rc;

	if (r->state == ST_JOINED)
		return fl_fail(FL_ERR_INVALID, "ranker: fl_ranker_add called after fl_ranker_join");
	if (r->state != ST_ADDING)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: fl_ranker_add called after fl_ranker_finish");
	if (isnan(z))
		return fl_fail(FL_ERR_INVALID, "ranker: the score of row %" PRIu64 " is NaN", r->n);
	if (label < -1 || label > 1)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: label %d of row %" PRIu64 " is not 0, 1 or -1 (unknown)",
		               label, r->n);
	if (r->n >= MAX_ROWS)
		return fl_fail(FL_ERR_LIMIT, "ranker: more than %" PRIu64 " scores", MAX_ROWS);
	if (r->n == 0 || z < r->zmin)
		r->zmin = z;
	if (r->n == 0 || z > r->zmax)
		r->zmax = z;
	if ((rc = hold(r, z_key(z), r->n << 1 | (label == 1))) != 0)
		return rc;
	r->n++;
	if (label < 0) {
		r->labels_unknown = 1;
	} else {
		r->positives += (uint64_t)label;
		ksum_add(&r->loss, row_loss(z, label));
		ksum_add(&r->brier, row_brier(z, label));
	}
	return 0;
}

int fl_ranker_sort_held(struct fl_ranker *r)
{
	if (r->state != ST_ADDING)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: fl_ranker_sort_held needs a ranker still taking scores");
	if (r->spilled == 0 && !r->sorted) {
		fl_ranker_sort_recs(r->buf, r->buf_len);
		r->sorted = 1;
	}
	return 0;
}

/* Holds n records of another ranker, their rows moved on by base. */
static int hold_moved(struct fl_ranker *r, const struct rec *a, size_t n, uint64_t base)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if ((rc = hold(r, a[i].hi, a[i].lo + (base << 1))) != 0)
			return rc;
	return 0;
}

/* The joined records of from (r itself, or the ranker joining it) held by
 * r, their rows moved on by base, and from's segments freed: once
 * something is spilled, every record goes through r's buffer and runs (the
 * runs' merge knows only r's own). */
static int hold_segs(struct fl_ranker *r, struct fl_ranker *from, uint64_t base)
{
	int rc = 0;

	for (size_t k = 0; k < from->n_segs && rc == 0; k++)
		rc = hold_moved(r, from->segs[k].rec, from->segs[k].len, base + from->segs[k].base);
	free_segs(from);
	return rc;
}

int fl_ranker_join(struct fl_ranker *r, struct fl_ranker *more)
{
	uint64_t base = r->n;
	int rc = 0;

	if ((r->state != ST_ADDING && r->state != ST_JOINED) ||
	    (more->state != ST_ADDING && more->state != ST_JOINED) || r == more)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: fl_ranker_join needs two rankers still taking scores");
	if (more->n > MAX_ROWS - r->n)
		return fl_fail(FL_ERR_LIMIT, "ranker: more than %" PRIu64 " scores", MAX_ROWS);
	if (more->n > 0) {
		/* As one ranker would see them: r's rows come first. */
		if (r->n == 0 || more->zmin < r->zmin)
			r->zmin = more->zmin;
		if (r->n == 0 || more->zmax > r->zmax)
			r->zmax = more->zmax;
	}
	r->labels_unknown |= more->labels_unknown;
	r->positives += more->positives;
	ksum_add(&r->loss, more->loss.s);
	ksum_add(&r->loss, more->loss.c);
	ksum_add(&r->brier, more->brier.s);
	ksum_add(&r->brier, more->brier.c);
	/* No more scores of its own: a row added now would come after the
	 * joined ones. */
	r->state = ST_JOINED;
	more->state = ST_FAILED;
	if (r->spilled == 0 && more->spilled == 0) {
		/* Everything in memory: more's records join as they are (sorted
		 * now unless fl_ranker_sort_held() did it on its own thread), and
		 * finish() merges them into its walk. Memory is what the two held. */
		size_t need = r->n_segs + 1 + more->n_segs;
		struct seg *ns = realloc(r->segs, need * sizeof(*ns));

		if (ns == NULL)
			return fl_fail(FL_ERR_NOMEM, "ranker: out of memory to join rankers");
		r->segs = ns;
		if (!more->sorted)
			fl_ranker_sort_recs(more->buf, more->buf_len);
		r->segs[r->n_segs++] = (struct seg){more->buf, more->buf_len, base};
		for (size_t k = 0; k < more->n_segs; k++)
			r->segs[r->n_segs++] = (struct seg){more->segs[k].rec, more->segs[k].len,
			                                    base + more->segs[k].base};
		more->buf = NULL;
		more->buf_len = more->buf_alloc = 0;
		more->n_segs = 0;
		r->cap = more->cap > SIZE_MAX / 2 / sizeof(struct rec) - r->cap
		                 ? SIZE_MAX / 2 / sizeof(struct rec)
		                 : r->cap + more->cap;
		r->n += more->n;
		return 0;
	}
	/* Something is spilled: every record goes through r's buffer and runs,
	 * more's spilled ones read back a block at a time. */
	if ((rc = hold_segs(r, r, 0)) != 0 ||
	    (rc = hold_moved(r, more->buf, more->buf_len, base)) != 0 ||
	    (rc = hold_segs(r, more, base)) != 0)
		return rc;
	if (more->spilled > 0) {
		size_t blk = more->spilled < MAX_BLOCK_RECORDS ? (size_t)more->spilled
		                                               : MAX_BLOCK_RECORDS;
		struct rec *b = malloc(blk * sizeof(*b));

		if (b == NULL)
			return fl_fail(FL_ERR_NOMEM, "ranker: out of memory to join rankers");
		for (uint64_t at = 0; at < more->spilled && rc == 0; at += blk) {
			size_t cnt = more->spilled - at < blk ? (size_t)(more->spilled - at) : blk;

			if ((rc = pread_all(more, more->fd[0], b, cnt * sizeof(*b),
			                    at * sizeof(*b))) == 0)
				rc = hold_moved(r, b, cnt, base);
		}
		free(b);
	}
	if (rc == 0)
		r->n += more->n;
	return rc;
}

/*
 * Last rank in the 0-based decile d: the largest r with 10 (r - 1) < (d + 1) n,
 * that is ceil((d + 1) n / 10). Empty deciles end where the previous one did.
 * n <= MAX_ROWS, so 10 n fits in 64 bits.
 */
static uint64_t decile_last_rank(int d, uint64_t n)
{
	return (n * (uint64_t)(d + 1) + 9) / 10;
}

/* Rows whose share of n first reaches k / FL_CURVE_POINTS: ceil(k n / P). */
static uint64_t curve_point_rows(uint64_t k, uint64_t n)
{
	/* n <= 2^56 and k <= 200 < 2^8: the product fits in 64 bits. */
	return (k * n + FL_CURVE_POINTS - 1) / FL_CURVE_POINTS;
}

/* Histogram bin of a score within the ranker's score range. */
static int score_bin(const struct fl_curves *cv, double z)
{
	double width = cv->z_hi - cv->z_lo, t;

	/* A range wider than the doubles can express gets no finer bins. */
	if (!(width > 0) || !isfinite(width))
		return 0;
	t = (z - cv->z_lo) / width * FL_SCORE_BINS;
	if (!(t > 0))
		return 0;
	return t >= FL_SCORE_BINS - 1 ? FL_SCORE_BINS - 1 : (int)t;
}

/*
 * Called at the end of each tie group: the curves only ever see whole tie
 * groups, so a point never splits equal scores in input order.
 */
static void walk_close_group(struct walk *w)
{
	struct fl_curves *cv = w->cv;

	w->u2 += (wide_t)w->gneg * (2 * w->positives_above + w->gpos);
	w->positives_above += w->gpos;
	w->rows_above += w->gpos + w->gneg;
	cv->hist_pos[w->gbin] += w->gpos;
	cv->hist_neg[w->gbin] += w->gneg;
	if (w->rows_above >= w->next_point && cv->n_points <= FL_CURVE_POINTS) {
		cv->cum_rows[cv->n_points] = w->rows_above;
		cv->cum_pos[cv->n_points] = w->positives_above;
		cv->n_points++;
		while (w->k_point < FL_CURVE_POINTS && w->next_point <= w->rows_above)
			w->next_point = curve_point_rows(++w->k_point, w->n);
		if (w->next_point <= w->rows_above)
			w->next_point = UINT64_MAX; /* the last point is taken */
	}
	w->gpos = w->gneg = 0;
}

/* Sorts the pending (row, rank) pairs by row and appends them as one run. */
static int walk_spill_pairs(struct fl_ranker *r, struct walk *w)
{
	int rc;

	fl_ranker_sort_recs(w->pairs, w->npairs);
	rc = pwrite_all(r, w->pfd, w->pairs, w->npairs * sizeof(*w->pairs),
	                w->pat * sizeof(*w->pairs));
	if (rc != 0)
		return rc;
	w->pat += w->npairs;
	w->npairs = 0;
	return 0;
}

/* Takes the next record in rank order. */
static int walk_step(struct fl_ranker *r, struct walk *w, const struct rec *rec)
{
	uint64_t row = rec->lo >> 1, y = rec->lo & 1;
	int d;

	w->pos++;
	if (w->pos == 1 || rec->hi != w->gkey) {
		if (w->pos > 1)
			walk_close_group(w);
		w->gkey = rec->hi;
		w->gprob = sigmoid(key_z(rec->hi));
		w->gbin = score_bin(w->cv, key_z(rec->hi));
	}
	if (y)
		w->gpos++;
	else
		w->gneg++;
	/* Same as fl_decile_of_rank() without a division per row. */
	while (w->pos > w->dec_last)
		w->dec_last = decile_last_rank(++w->dec, w->n);
	d = w->dec;
	w->drows[d]++;
	w->dpos[d] += y;
	w->dprob[d] += w->gprob;
	if (w->pos <= w->top_k)
		w->top_pos += y;
	if (w->bfill != NULL) {
		size_t b = (size_t)(row >> w->bshift);

		w->ranks[w->bfill[b]++] = (row - ((uint64_t)b << w->bshift)) << 32 | w->pos;
		return 0;
	}
	if (w->ranks != NULL) {
		w->ranks[row] = w->pos;
		return 0;
	}
	w->pairs[w->npairs].hi = row;
	w->pairs[w->npairs].lo = w->pos;
	if (++w->npairs == w->pcap)
		return walk_spill_pairs(r, w);
	return 0;
}

static int sink_put(struct fl_ranker *r, struct sink *s, struct rec *blk, size_t cnt)
{
	uint64_t *ranks = (uint64_t *)(void *)blk;
	int rc = 0;

	switch (s->kind) {
	case SINK_FILE:
		rc = pwrite_all(r, s->fd, blk, cnt * sizeof(*blk), s->at * sizeof(*blk));
		break;
	case SINK_WALK:
		for (size_t i = 0; i < cnt && rc == 0; i++)
			rc = walk_step(r, s->w, &blk[i]);
		break;
	case SINK_RANKS:
		/*
		 * Pairs arrive in row order; keep only the ranks, packed in place
		 * (ranks[i] lies at or before blk[i], which has been read).
		 */
		for (size_t i = 0; i < cnt; i++) {
			uint64_t row = blk[i].hi, rank = blk[i].lo;

			if (row != s->at + i)
				return fl_fail(FL_ERR_INTERNAL,
				               "ranker: row %" PRIu64 " missing from the merge",
				               s->at + i);
			ranks[i] = rank;
		}
		rc = pwrite_all(r, s->fd, ranks, cnt * sizeof(*ranks), s->at * sizeof(*ranks));
		break;
	}
	s->at += cnt;
	return rc;
}

/*
 * Fan-in and block size for merging `runs` runs within an arena of `arena`
 * records (fan-in input blocks plus one output block). Blocks are kept from
 * getting tiny by lowering the fan-in, which costs another pass instead.
 */
static void merge_plan(size_t arena, uint64_t runs, size_t *fanin, size_t *blk)
{
	size_t bmin = arena / 16, maxf, f, b;

	if (bmin < 1)
		bmin = 1;
	if (bmin > MIN_BLOCK_RECORDS)
		bmin = MIN_BLOCK_RECORDS;
	maxf = arena / bmin - 1;
	f = runs < maxf ? (size_t)runs : maxf;
	if (f < 1)
		f = 1;
	b = arena / (f + 1);
	if (b > MAX_BLOCK_RECORDS)
		b = MAX_BLOCK_RECORDS;
	*fanin = f;
	*blk = b;
}

static int cursor_fill(const struct fl_ranker *r, int fd, struct cursor *c, size_t blk)
{
	size_t cnt = c->end - c->at < blk ? (size_t)(c->end - c->at) : blk;
	int rc = pread_all(r, fd, c->blk, cnt * sizeof(*c->blk), c->at * sizeof(*c->blk));

	c->at += cnt;
	c->len = cnt;
	c->pos = 0;
	return rc;
}

static inline int cursor_lt(const struct cursor *c, size_t a, size_t b)
{
	return rec_lt(&c[a].blk[c[a].pos], &c[b].blk[c[b].pos]);
}

static void cursor_sift(const struct cursor *c, size_t *heap, size_t n)
{
	size_t i = 0;

	for (;;) {
		size_t m = 2 * i + 1, t;

		if (m >= n)
			return;
		if (m + 1 < n && cursor_lt(c, heap[m + 1], heap[m]))
			m++;
		if (!cursor_lt(c, heap[m], heap[i]))
			return;
		t = heap[i];
		heap[i] = heap[m];
		heap[m] = t;
		i = m;
	}
}

/*
 * Merges the sorted runs of length len (the last may be shorter) that make up
 * records [first, end) of fd into s, using arena for blk-sized blocks.
 */
static int merge_runs(struct fl_ranker *r, int fd, uint64_t first, uint64_t end, uint64_t len,
                      struct rec *arena, size_t blk, struct sink *s)
{
	size_t nruns = (size_t)((end - first + len - 1) / len), nheap = 0, nout = 0;
	struct cursor *c = NULL;
	size_t *heap = NULL;
	struct rec *out = arena + nruns * blk;
	int rc = FL_ERR_INTERNAL;

	if ((c = calloc(nruns, sizeof(*c))) == NULL ||
	    (heap = calloc(nruns, sizeof(*heap))) == NULL) {
		rc = fl_fail(FL_ERR_NOMEM, "ranker: out of memory for a %zu-way merge", nruns);
		goto out;
	}
	for (size_t k = 0; k < nruns; k++) {
		c[k].at = first + k * len;
		c[k].end = end - c[k].at < len ? end : c[k].at + len;
		c[k].blk = arena + k * blk;
		if ((rc = cursor_fill(r, fd, &c[k], blk)) != 0)
			goto out;
		/* Insert and sift up. */
		heap[nheap] = k;
		for (size_t i = nheap++; i > 0 && cursor_lt(c, heap[i], heap[(i - 1) / 2]);
		     i = (i - 1) / 2) {
			size_t t = heap[i];

			heap[i] = heap[(i - 1) / 2];
			heap[(i - 1) / 2] = t;
		}
	}
	while (nheap > 0) {
		struct cursor *top = &c[heap[0]];

		out[nout++] = top->blk[top->pos++];
		if (nout == blk) {
			if ((rc = sink_put(r, s, out, nout)) != 0)
				goto out;
			nout = 0;
		}
		if (top->pos == top->len) {
			if (top->at < top->end) {
				if ((rc = cursor_fill(r, fd, top, blk)) != 0)
					goto out;
			} else {
				heap[0] = heap[--nheap];
			}
		}
		cursor_sift(c, heap, nheap);
	}
	rc = nout > 0 ? sink_put(r, s, out, nout) : 0;
out:
	free(heap);
	free(c);
	return rc;
}

/*
 * Merges groups of runs of fd[*cur] into fd[1 - *cur] until one merge can take
 * the rest; updates *cur and the run length *len.
 */
static int merge_down(struct fl_ranker *r, int *cur, uint64_t *len, struct rec *arena,
                      size_t arena_len)
{
	for (;;) {
		uint64_t runs = (r->n + *len - 1) / *len, span;
		size_t f, b;
		int rc;

		merge_plan(arena_len, runs, &f, &b);
		if (runs <= f)
			return 0;
		if ((rc = tmp_file(r, &r->fd[1 - *cur])) != 0)
			return rc;
		span = *len > r->n / f ? r->n : *len * f;
		for (uint64_t g = 0; g < r->n; g += span) {
			uint64_t end = r->n - g < span ? r->n : g + span;
			struct sink s = {SINK_FILE, r->fd[1 - *cur], g, NULL};

			if ((rc = merge_runs(r, r->fd[*cur], g, end, *len, arena, b, &s)) != 0)
				return rc;
		}
		*cur = 1 - *cur;
		*len = span;
	}
}

/* One final merge of everything in fd[cur] (runs of len) into s. */
static int merge_all(struct fl_ranker *r, int cur, uint64_t len, struct rec *arena,
                     size_t arena_len, struct sink *s)
{
	size_t f, b;

	merge_plan(arena_len, (r->n + len - 1) / len, &f, &b);
	return merge_runs(r, r->fd[cur], 0, r->n, len, arena, b, s);
}

/* The scores did not fit: merge the runs, then sort the (row, rank) pairs by row. */
static int finish_external(struct fl_ranker *r, struct walk *w)
{
	struct sink s = {SINK_WALK, -1, 0, w};
	uint64_t len = r->cap;
	int cur = 0, rc;

	if (r->buf_len > 0 && (rc = spill_run(r)) != 0)
		return rc;
	/* The score buffer filled once, so it is cap records: the merge arena. */
	if ((rc = merge_down(r, &cur, &len, r->buf, r->buf_alloc)) != 0)
		return rc;

	/* Pairs go to the file the final merge does not read. */
	w->pcap = r->cap / 2;
	if ((w->pairs = malloc(w->pcap * sizeof(*w->pairs))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %zu ranks", w->pcap);
	if ((rc = tmp_file(r, &r->fd[1 - cur])) != 0)
		return rc;
	w->pfd = r->fd[1 - cur];
	if ((rc = merge_all(r, cur, len, r->buf, r->buf_alloc, &s)) != 0)
		return rc;
	if (w->npairs > 0 && (rc = walk_spill_pairs(r, w)) != 0)
		return rc;
	free(w->pairs);
	w->pairs = NULL;

	cur = 1 - cur;
	len = w->pcap;
	if ((rc = merge_down(r, &cur, &len, r->buf, r->buf_alloc)) != 0)
		return rc;
	if ((rc = tmp_file(r, &r->fd_rank)) != 0)
		return rc;
	s.kind = SINK_RANKS;
	s.fd = r->fd_rank;
	s.at = 0;
	if ((rc = merge_all(r, cur, len, r->buf, r->buf_alloc, &s)) != 0)
		return rc;

	r->rbuf_cap = 2 * r->cap < MAX_BLOCK_RECORDS ? 2 * r->cap : MAX_BLOCK_RECORDS;
	if ((r->rbuf = malloc(r->rbuf_cap * sizeof(*r->rbuf))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %zu ranks", r->rbuf_cap);
	return 0;
}

/*
 * The walk meets the rows in rank order, and ranks[row] = rank written
 * then lands anywhere in the array: a cache miss a row, most of the walk's
 * time with a million rows. Instead the walk appends (row, rank) to the
 * row's bucket (the rows of one bucket, 2^bshift of them, take the
 * bucket's place in ranks[], each row exactly once, so the places are
 * known beforehand), writing a few hundred sequential streams, and
 * unbucket_ranks() then puts each bucket's ranks in row order within its
 * own place, which stays in the cache. Ranks and rows within a bucket each
 * take 32 bits: for fewer than 2^31 rows.
 */
#define BUCKET_ROWS_MIN 4096
#define BUCKETS_MAX 1024

static int bucket_ranks(struct walk *w, uint64_t n)
{
	int shift = 12;

	if (n >= (UINT64_C(1) << 31) || n < 2 * BUCKET_ROWS_MIN)
		return 0;
	while ((n >> shift) >= BUCKETS_MAX)
		shift++;
	w->bshift = shift;
	if ((w->bfill = malloc(((n >> shift) + 1) * sizeof(*w->bfill))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %" PRIu64 " ranks", n);
	for (size_t b = 0; b <= (size_t)(n >> shift); b++)
		w->bfill[b] = b << shift;
	return 0;
}

static int unbucket_ranks(struct walk *w, uint64_t n)
{
	size_t rows = (size_t)1 << w->bshift;
	uint64_t *tmp = malloc(rows * sizeof(*tmp));

	if (tmp == NULL)
		return fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %zu ranks", rows);
	for (size_t at = 0; at < n; at += rows) {
		size_t len = n - at < rows ? (size_t)(n - at) : rows;
		uint64_t *place = w->ranks + at;

		memcpy(tmp, place, len * sizeof(*tmp));
		for (size_t i = 0; i < len; i++)
			place[tmp[i] >> 32] = tmp[i] & UINT32_MAX;
	}
	free(tmp);
	free(w->bfill);
	w->bfill = NULL;
	return 0;
}

/* The joined records in memory: buf (rows from 0) and each segment,
 * merged into the walk. Equal scores go in row order, and a segment's rows
 * come after those of buf and of the segments before it. */
static int walk_segs(struct fl_ranker *r, struct walk *w)
{
	struct seg cur[1 + 8], *c = cur;
	size_t n = 0;
	int rc = 0;

	if (r->n_segs + 1 > sizeof(cur) / sizeof(cur[0]) &&
	    (c = malloc((r->n_segs + 1) * sizeof(*c))) == NULL)
		return fl_fail(FL_ERR_NOMEM, "ranker: out of memory to merge %zu parts",
		               r->n_segs + 1);
	if (r->buf_len > 0)
		c[n++] = (struct seg){r->buf, r->buf_len, 0};
	for (size_t k = 0; k < r->n_segs; k++)
		if (r->segs[k].len > 0)
			c[n++] = r->segs[k];
	while (n > 0 && rc == 0) {
		size_t b = 0;
		struct rec v;

		/* The smallest score key; on a tie the earlier part (its rows
		 * come first). */
		for (size_t k = 1; k < n; k++)
			if (c[k].rec->hi < c[b].rec->hi)
				b = k;
		v.hi = c[b].rec->hi;
		v.lo = c[b].rec->lo + (c[b].base << 1);
		rc = walk_step(r, w, &v);
		c[b].rec++;
		/* An exhausted part leaves; the others keep their order. */
		if (--c[b].len == 0) {
			memmove(c + b, c + b + 1, (n - b - 1) * sizeof(*c));
			n--;
		}
	}
	if (c != cur)
		free(c);
	return rc;
}

int fl_ranker_finish(struct fl_ranker *r, uint64_t top_k, struct fl_eval *ev)
{
	struct walk w;
	uint64_t n = r->n;
	int rc = FL_ERR_INTERNAL;

	memset(ev, 0, sizeof(*ev));
	if (r->state != ST_ADDING && r->state != ST_JOINED)
		return fl_fail(FL_ERR_INVALID, "ranker: fl_ranker_finish called twice");
	/* Whatever happens below, no more scores; a failure also stops fl_ranker_rank. */
	r->state = ST_FAILED;
	memset(&w, 0, sizeof(w));
	w.n = n;
	w.top_k = top_k < n ? top_k : n;
	w.pfd = -1;
	w.dec_last = decile_last_rank(0, n);
	memset(&r->curves, 0, sizeof(r->curves));
	w.cv = &r->curves;
	w.cv->rows = n;
	w.cv->n_points = 1; /* (0, 0) */
	w.k_point = 1;
	w.next_point = curve_point_rows(1, n);
	if (n > 0) {
		w.cv->z_lo = r->zmin;
		w.cv->z_hi = r->zmax;
	}

	if (r->spilled == 0) {
		if (n > 0 && (r->ranks = malloc(n * sizeof(*r->ranks))) == NULL) {
			rc = fl_fail(FL_ERR_NOMEM, "ranker: out of memory for %" PRIu64 " ranks",
			             n);
			goto out;
		}
		w.ranks = r->ranks;
		if (!r->sorted)
			fl_ranker_sort_recs(r->buf, r->buf_len);
		if ((rc = bucket_ranks(&w, n)) != 0)
			goto out;
		if (r->n_segs > 0)
			rc = walk_segs(r, &w);
		for (size_t i = 0; r->n_segs == 0 && i < r->buf_len && rc == 0; i++)
			rc = walk_step(r, &w, &r->buf[i]);
		if (rc != 0 || (w.bfill != NULL && (rc = unbucket_ranks(&w, n)) != 0))
			goto out;
	} else if ((rc = finish_external(r, &w)) != 0) {
		goto out;
	}
	if (n > 0)
		walk_close_group(&w);

	ev->rows = n;
	ev->top_k = w.top_k;
	for (int d = 0; d < FL_DECILES; d++) {
		ev->deciles[d].rows = w.drows[d];
		if (w.drows[d] > 0)
			ev->deciles[d].mean_prob = w.dprob[d] / (double)w.drows[d];
	}
	if (r->labels_unknown || n == 0) {
		/* Not computable; NaN rather than 0, which would read as a perfect fit. */
		ev->auc = ev->log_loss = ev->brier = NAN;
	} else {
		uint64_t neg = n - r->positives;

		ev->positives = r->positives;
		r->curves.labelled = 1;
		r->curves.positives = r->positives;
		ev->auc = r->positives > 0 && neg > 0
		                  ? (double)w.u2 / (2.0 * (double)r->positives * (double)neg)
		                  : NAN;
		ev->log_loss = ksum_value(&r->loss) / (double)n;
		ev->brier = ksum_value(&r->brier) / (double)n;
		for (int d = 0; d < FL_DECILES; d++)
			ev->deciles[d].positives = w.dpos[d];
		ev->top_k_positives = w.top_pos;
		if (w.top_k > 0)
			ev->top_k_share = (double)w.top_pos / (double)w.top_k;
		if (r->positives > 0)
			ev->lift_at_top_k = ev->top_k_share / ((double)r->positives / (double)n);
	}
	r->state = ST_DONE;
	rc = 0;
out:
	/* Only the ranks are needed from here on: give the score memory back. */
	free(w.pairs);
	free(w.bfill);
	free(r->buf);
	r->buf = NULL;
	r->buf_len = r->buf_alloc = 0;
	free_segs(r);
	close_fd(&r->fd[0]);
	close_fd(&r->fd[1]);
	if (rc != 0) {
		memset(ev, 0, sizeof(*ev));
		memset(&r->curves, 0, sizeof(r->curves));
	}
	return rc;
}

int fl_ranker_curves(const struct fl_ranker *r, struct fl_curves *out)
{
	memset(out, 0, sizeof(*out));
	if (r->state != ST_DONE)
		return fl_fail(
		        FL_ERR_INVALID,
		        "ranker: fl_ranker_curves needs a successful fl_ranker_finish first");
	*out = r->curves;
	return 0;
}

int fl_ranker_rank(struct fl_ranker *r, uint64_t i, uint64_t *rank, int *decile)
{
	uint64_t v;
	int rc;

	if (rank != NULL)
		*rank = 0;
	if (decile != NULL)
		*decile = 0;
	if (r->state != ST_DONE)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: fl_ranker_rank needs a successful fl_ranker_finish first");
	if (i >= r->n)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: row %" PRIu64 " is out of range (%" PRIu64 " rows)", i,
		               r->n);
	if (r->ranks != NULL) {
		v = r->ranks[i];
	} else {
		if (i < r->rbuf_first || i - r->rbuf_first >= r->rbuf_len) {
			/* Read ahead from i: the next calls are usually i + 1, i + 2, ... */
			size_t cnt = r->n - i < r->rbuf_cap ? (size_t)(r->n - i) : r->rbuf_cap;

			r->rbuf_len = 0;
			rc = pread_all(r, r->fd_rank, r->rbuf, cnt * sizeof(*r->rbuf),
			               i * sizeof(*r->rbuf));
			if (rc != 0)
				return rc;
			r->rbuf_first = i;
			r->rbuf_len = cnt;
		}
		v = r->rbuf[i - r->rbuf_first];
	}
	if (rank != NULL)
		*rank = v;
	if (decile != NULL)
		*decile = fl_decile_of_rank(v, r->n);
	return 0;
}

int fl_ranker_ranks(const struct fl_ranker *r, uint64_t first, size_t n, uint64_t *rank)
{
	if (r->state != ST_DONE)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: fl_ranker_ranks needs a successful fl_ranker_finish first");
	if (first > r->n || n > r->n - first)
		return fl_fail(FL_ERR_INVALID,
		               "ranker: %zu ranks from row %" PRIu64 " are out of range (%" PRIu64
		               " rows)",
		               n, first, r->n);
	if (r->ranks != NULL) {
		if (n > 0)
			memcpy(rank, r->ranks + first, n * sizeof(*rank));
		return 0;
	}
	return pread_all(r, r->fd_rank, rank, n * sizeof(*rank), first * sizeof(*rank));
}

void fl_ranker_free(struct fl_ranker *r)
{
	if (r == NULL)
		return;
	close_fd(&r->fd[0]);
	close_fd(&r->fd[1]);
	close_fd(&r->fd_rank);
	free(r->buf);
	free_segs(r);
	free(r->ranks);
	free(r->rbuf);
	free(r->dir);
	free(r);
}
