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

#endif
