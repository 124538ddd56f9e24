/*
 * What the rowset passes (rowset_pass.c) let their tests reach.
 */
#ifndef FEDLEAD_CORE_ROWSET_INT_H
#define FEDLEAD_CORE_ROWSET_INT_H

/*
 * Non-zero: the passes add the spline windows with their SSE2 copy even
 * where the CPU has AVX2 (the two copies give the same bits; the test of
 * that sets it). 0 by default.
 */
extern int fl_rowset_pass_no_avx2;

/*
 * The passes' kept order of a rowset's leads (fedlead/rowset.h, order):
 * an empty one, its release, and marking it stale when K or S changes
 * (every function that writes K or S calls it; NULL is allowed in each).
 */
struct fl_rowset_order *fl_rowset_order_new(void);
void fl_rowset_order_free(struct fl_rowset_order *o);
void fl_rowset_order_stale(struct fl_rowset_order *o);

#endif
