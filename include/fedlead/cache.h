/*
 * A node's binary row cache: training on data larger than its memory.
 *
 * fl_cache_convert() reads a labelled lead CSV once and writes a cache file:
 * the rows encoded per the schema and already standardised (doubles,
 * row-major), the labels, and the column statistics the standardisation was
 * derived from. Memory stays bounded by a few MiB of buffer, whatever the
 * number of rows. fl_cache_open() checks the header and the schema; the
 * gradient passes then stream the file one window of rows at a time (read
 * into a small buffer, or memory-mapped: enum fl_cache_access) and call
 * fl_linalg_logistic on each window, so neither the process's resident set
 * nor its address space grows with the file: the page cache holds what the
 * kernel can spare, and rereads from disk what it cannot.
 *
 * File layout (header integers little-endian; data doubles in the writer's
 * byte order, which the header records and the reader must share):
 *   0   "FLCACHE\n"      8 bytes magic
 *   8   u32 version      FL_CACHE_VERSION
 *   12  u32 byte order   0x01020304 as the writer stores a u32 (native)
 *   16  fingerprint      32 bytes: the schema's SHA-256 (schema.h)
 *   48  u64 rows         n, > 0
 *   56  u64 dim          encoded columns incl. the intercept, == schema dim
 *   64  u64 stats offset FL_CACHE_HEADER_BYTES
 *   72  u64 stats bytes  (2 + 5 * dim) * 8: rows, positives, then count,
 *                        sum, sumsq, min, max (dim doubles each, in the
 *                        writer's byte order) of the raw encoded rows
 *                        (encode.h, struct fl_stats)
 *   80  u64 X offset     page-aligned (4096); n * dim doubles, row-major,
 *                        standardised with fl_scaler_from_stats(stats)
 *   88  u64 y offset     4096-aligned, after X; n doubles, 0 or 1
 *   96  u64 file size    y offset + 8n: the exact length of the file
 *   104 u64 skipped      bad rows skipped at conversion (information only)
 *   112 data SHA-256     32 bytes over the X bytes then the y bytes
 *   144 header SHA-256   32 bytes over bytes 0..143 then the stats section
 *   176                  end of header; the stats section follows
 *
 * A cache is tied to the schema that made it: opening it with any other
 * schema is refused. The data checksum is checked only by fl_cache_verify()
 * (a full pass); open checks the header checksum and the exact file size.
 */
#ifndef FEDLEAD_CACHE_H
#define FEDLEAD_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/encode.h"
#include "fedlead/logreg.h"
#include "fedlead/schema.h"

#define FL_CACHE_MAGIC "FLCACHE\n"
#define FL_CACHE_VERSION 1
#define FL_CACHE_HEADER_BYTES 176
/*
 * How passes get at the rows. FL_CACHE_READ (the default) reads each window
 * with pread() into one small reused buffer that stays in the CPU's L2
 * cache; FL_CACHE_MMAP maps each window read-only (MADV_SEQUENTIAL, the next
 * window's read-ahead started with POSIX_FADV_WILLNEED) and unmaps it with
 * MADV_DONTNEED when consumed. Both keep the process's memory at about one
 * window; reading is the faster of the two wherever page faults are dear
 * (bench/README.md, "Data larger than memory").
 */
enum fl_cache_access { FL_CACHE_READ = 0, FL_CACHE_MMAP = 1 };
/* Window sizes the access methods start with: one buffer that fits in L2,
 * or a mapping large enough to amortise mmap and munmap. */
#define FL_CACHE_BUFFER_DEFAULT ((size_t)512 << 10)
#define FL_CACHE_WINDOW_DEFAULT ((size_t)32 << 20)

struct fl_cache;

/*
 * Converts the labelled CSV at csv_path ("-" reads standard input: the CSV
 * is read only once) into a cache file at out_path. The file is written under
 * a temporary name in out_path's directory ("OUT.tmp.XXXXXX", plus an
 * unlinked label spool), synced, and renamed into place only when complete,
 * so an interrupted conversion never leaves a file that opens. Bad rows fail
 * the conversion with fl_dataset_load()'s messages, or are skipped and
 * counted in *rep under FL_BAD_ROWS_SKIP. Memory: a few MiB of buffers, the
 * statistics and the schema binding; never the rows.
 * Returns 0, or FL_ERR_DATA / FL_ERR_IO / FL_ERR_NOMEM with fl_errmsg().
 */
int fl_cache_convert(const struct fl_schema *s, const char *csv_path, const char *out_path,
                     enum fl_bad_rows policy, struct fl_load_report *rep);

/*
 * Opens a cache for schema s. Refused with FL_ERR_DATA, *out = NULL, and
 * one of these messages (PATH as given):
 *   "PATH: truncated header (N bytes, a cache header has 176)"
 *   "PATH: not a fedlead cache file (bad magic)"
 *   "PATH: cache version V is not supported (this build reads version 1)"
 *   "PATH: the cache was written on a machine of another byte order"
 *   "PATH: corrupt cache header (WHAT)" (a field out of range, or
 *                                        "checksum mismatch")
 *   "PATH: the cache was built for another schema (fingerprint HEX16...,
 *    this schema's is HEX16...); rebuild it with fedlead-node cache"
 *   "PATH: truncated cache (N bytes, the header says M)"
 * (the fingerprint message is one line; it is wrapped here). FL_ERR_IO for
 * a file that cannot be opened ("PATH: No such file or directory").
 */
int fl_cache_open(const struct fl_schema *s, const char *path, struct fl_cache **out);
void fl_cache_free(struct fl_cache *c);

/* Rows and encoded columns (the schema's dim). */
size_t fl_cache_rows(const struct fl_cache *c);
size_t fl_cache_dim(const struct fl_cache *c);
/* Rows skipped as bad when the cache was made. */
uint64_t fl_cache_skipped(const struct fl_cache *c);
/* Statistics of the raw rows and the scaler the rows were standardised
 * with (owned by the cache; a model trained on it needs a copy). */
const struct fl_stats *fl_cache_stats(const struct fl_cache *c);
const struct fl_scaler *fl_cache_scaler(const struct fl_cache *c);

/*
 * Chooses the access method and resets the window to its default size.
 * Returns 0 or FL_ERR_INVALID.
 */
int fl_cache_set_access(struct fl_cache *c, enum fl_cache_access a);

/*
 * Sets how many bytes of X one window holds (rounded down to whole rows, at
 * least one row, at most all of them). The memory of a pass is about one
 * window. Returns FL_ERR_INVALID for 0.
 */
int fl_cache_set_window(struct fl_cache *c, size_t bytes);

/*
 * The data-term sums of fl_linalg_logistic (linalg.h) over every row of the
 * cache, window by window: loss, grad (dim doubles) and, when hess is not
 * NULL, the full Hessian (dim*dim). Outputs are overwritten. With one window
 * covering all rows the result is bit for bit that of fl_linalg_logistic on
 * the same matrix in memory; with several, the per-window sums are added,
 * which changes only the rounding (relative differences ~1e-15).
 * Returns 0, or FL_ERR_IO ("PATH: read failed: ...", "PATH: mmap: ..."),
 * FL_ERR_NOMEM.
 */
int fl_cache_logistic(const struct fl_cache *c, const double *w, double *loss, double *grad,
                      double *hess);
/* The same with row weights c_i = pos_weight for converted rows, 1 for the
 * others (struct fl_train_opts' class weight), made window by window. */
int fl_cache_logistic_weighted(const struct fl_cache *c, double pos_weight, const double *w,
                               double *loss, double *grad, double *hess);

/*
 * The same on up to threads threads: the rows are cut into chunks of
 * FL_CACHE_CHUNK_ROWS, each read through its own window and summed on its
 * own, and the chunks' sums are added in chunk order, so the result is the
 * same for every thread count (and, for a cache of at most one chunk, that
 * of fl_cache_logistic_weighted()).
 */
#define FL_CACHE_CHUNK_ROWS ((size_t)1 << 16)
int fl_cache_logistic_threads(const struct fl_cache *c, double pos_weight, unsigned threads,
                              const double *w, double *loss, double *grad, double *hess);

/*
 * The same with the Hessian estimated from a sample of the rows (for
 * Newton's first steps, logreg.h's fl_solver_opts.hess_sample): each
 * window is passed to fl_linalg_logistic_sampled() with its first row's
 * number and FL_HESS_SAMPLE_EVERY, and the sums made into the estimate by
 * fl_hess_sample_fit() with the exact diagonal. loss and grad are those
 * of fl_cache_logistic_threads() bit for bit; the sample depends on the
 * rows and the window size, not on the thread count. Returns 0; or
 * FL_SOLVER_HESS_EXACT (1) with the exact Hessian, from a second pass,
 * when the sample did not represent every column; or the pass's error.
 */
int fl_cache_logistic_sampled(const struct fl_cache *c, double pos_weight, unsigned threads,
                              const double *w, double *loss, double *grad, double *hess);

/*
 * Streams z_i = x_i . w and y_i of every row, in file order, to
 * each(arg, z, y); a non-zero return from each stops the pass and is
 * returned. For training metrics without holding the scores in memory.
 */
int fl_cache_scores(const struct fl_cache *c, const double *w,
                    int (*each)(void *arg, double z, double y), void *arg);

/*
 * Recomputes the data checksum over X and y (a full read of the file).
 * Returns 0, or FL_ERR_DATA "PATH: the cache data is corrupt (checksum
 * mismatch)", or FL_ERR_IO.
 */
int fl_cache_verify(const struct fl_cache *c);

struct fl_cache_train_opts {
	enum fl_solver_kind kind;     /* FL_SOLVER_NEWTON or FL_SOLVER_LBFGS */
	struct fl_solver_opts solver; /* tol is absolute, as in logreg.h */
	double pos_weight;            /* weight of converted rows; 1 = none */
	/* Called after every evaluation the solver is told (progress on a big
	 * file takes seconds per pass); may be NULL. */
	void (*progress)(void *arg, const struct fl_solver_status *st);
	void *progress_arg;
	unsigned threads; /* of the passes; 0 = fl_threads_default() */
};

/*
 * fl_logreg_train() over a cache: the ask/tell solver is told the sums of
 * fl_cache_logistic_weighted(), and for Newton's first steps on as many
 * rows as fl_hess_sample_pays() (linalg.h) asks, the sampled Hessians of
 * fl_cache_logistic_sampled() (solver.hess_sample is set here). w: in = start (NULL-free, dim
 * doubles; zero it for a cold start), out = solution. *st (may be NULL) gets the final status even
 * on failure. Returns 0, or the solver's or the pass's error.
 */
int fl_cache_train(const struct fl_cache *c, const struct fl_cache_train_opts *o, double *w,
                   struct fl_solver_status *st);

#endif
