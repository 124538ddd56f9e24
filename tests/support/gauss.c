#include "gauss.h"

#include <math.h>

void gauss_solve(double *A, double *b, size_t n)
{
	for (size_t c = 0; c < n; c++) {
		size_t p = c;
		double t;

		for (size_t i = c + 1; i < n; i++)
			if (fabs(A[i * n + c]) > fabs(A[p * n + c]))
				p = i;
		for (size_t k = 0; k < n; k++) {
			t = A[c * n + k];
			A[c * n + k] = A[p * n + k];
			A[p * n + k] = t;
		}
		t = b[c];
		b[c] = b[p];
		b[p] = t;
		for (size_t i = c + 1; i < n; i++) {
			double f = A[i * n + c] / A[c * n + c];

			for (size_t k = c; k < n; k++)
				A[i * n + k] -= f * A[c * n + k];
			b[i] -= f * b[c];
		}
	}
	for (size_t i = n; i-- > 0;) {
		for (size_t k = i + 1; k < n; k++)
			b[i] -= A[i * n + k] * b[k];
		b[i] /= A[i * n + i];
	}
}
