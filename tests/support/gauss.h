/*
 * Dense linear solves written out in the tests (spline, logreg), so that
 * a check does not use the library's own linear algebra.
 */
#ifndef FL_TEST_GAUSS_H
#define FL_TEST_GAUSS_H

#include <stddef.h>

/* Solves A x = b (A n x n, row-major) by Gaussian elimination with
 * partial pivoting; A is overwritten and x replaces b. */
void gauss_solve(double *A, double *b, size_t n);

#endif
