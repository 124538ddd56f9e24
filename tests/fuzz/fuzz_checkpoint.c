/*
 * Fuzz target: checkpoints, the coordinator's state file and the solver's.
 *
 * The input goes to fl_solver_restore; a solver it restores must save to
 * the same bytes and keep answering asks for a few steps of a quadratic.
 * It also goes to fl_fedcoord_restore of coordinators with four settings
 * (newton with l2 = 1, newton with l2 = auto, fedavg, secure lbfgs); a
 * restored coordinator must save a checkpoint that restores again, and then
 * run: the three partners (real fl_fednode instances with rows of their
 * own) join and the federation is pumped for a few hundred messages. A
 * coordinator restored from a hostile checkpoint must not crash.
 */
#include <stdlib.h>
#include <string.h>

#include "fedlead/error.h"
#include "fedlead/logreg.h"
#include "fuzz_common.h"

#define PUMP_STEPS 300
/* Larger solvers are restored and saved, not driven: a Newton step is
 * cubic in d. */
#define DRIVE_MAX_D 64

static void check_solver(const uint8_t *data, size_t size)
{
	struct fl_solver *s = NULL;
	uint8_t *again = NULL;
	size_t len = 0, d = 0;
	double *g = NULL, *h = NULL;

	if (fl_solver_restore(data, size, &s) != 0) {
		if (s != NULL)
			fz_die("fl_solver_restore failed but returned a solver");
		return;
	}
	if (fl_solver_save(s, &again, &len) != 0)
		fz_die("a restored solver does not save: %s", fl_errmsg());
	if (len != size || memcmp(again, data, size) != 0)
		fz_die("a restored solver saves other bytes than it was restored from");
	free(again);
	/* d is the u64 at byte 16 (little-endian), checked by the restore. */
	for (int k = 0; k < 8; k++)
		d |= (size_t)data[16 + k] << (8 * k);
	if (d <= DRIVE_MAX_D && (g = calloc(d + 1, sizeof(double))) != NULL &&
	    (h = calloc(d * d + 1, sizeof(double))) != NULL) {
		for (int step = 0; step < 8; step++) {
			const double *w;
			double loss = 0;
			int need_hess;

			if (fl_solver_ask(s, &w, &need_hess) != FL_SOLVER_EVAL)
				break;
			/* The data term 0.5 * sum (w_j - 1)^2. */
			for (size_t j = 0; j < d; j++) {
				g[j] = w[j] - 1;
				loss += 0.5 * g[j] * g[j];
				h[j * d + j] = 1;
			}
			if (fl_solver_tell(s, loss, g, need_hess ? h : NULL) != 0)
				break;
		}
	}
	free(g);
	free(h);
	fl_solver_free(s);
}

static void check_coordinator(const uint8_t *data, size_t size, int algo, int secure)
{
	struct fl_coord_settings s;
	struct fz_fed f, g;
	uint8_t *state = NULL;
	size_t len = 0;

	memset(&f, 0, sizeof(f));
	memset(&g, 0, sizeof(g));
	fz_settings(&s, algo, 1 /* drop */, secure);
	if (fz_fed_new(&f, &s) != 0)
		fz_die("fz_fed_new: %s", fl_errmsg());
	if (fl_fedcoord_restore(f.c, data, size) != 0)
		goto out;
	if (fl_fedcoord_save(f.c, &state, &len) != 0)
		fz_die("a restored coordinator does not save: %s", fl_errmsg());
	if (fz_fed_new(&g, &s) != 0)
		fz_die("fz_fed_new: %s", fl_errmsg());
	if (fl_fedcoord_restore(g.c, state, len) != 0)
		fz_die("a restored coordinator's checkpoint does not restore: %s", fl_errmsg());
	for (int i = 0; i < FZ_NP; i++)
		fz_fed_join(&f, i);
	fz_fed_pump(&f, PUMP_STEPS);
out:
	free(state);
	fz_fed_free(&g);
	fz_fed_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init();
	check_solver(data, size);
	check_coordinator(data, size, FL_FED_NEWTON, 0);
	check_coordinator(data, size, 3 /* newton, l2 = auto */, 0);
	check_coordinator(data, size, FL_FED_FEDAVG, 0);
	check_coordinator(data, size, FL_FED_LBFGS, 1);
	return 0;
}
