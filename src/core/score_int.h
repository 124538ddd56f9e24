/*
 * What scoring (score.c) lets its tests reach.
 */
#ifndef FEDLEAD_CORE_SCORE_INT_H
#define FEDLEAD_CORE_SCORE_INT_H

/*
 * Non-zero: a lead is standardised and its logit summed by the SSE2 code
 * even where the CPU has AVX2 (the two give the same bits; the test of
 * that sets it). 0 by default.
 */
extern int fl_score_no_avx2;

#endif
