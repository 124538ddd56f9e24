/*
 * Pictures people would rather look at: the model report (one HTML file
 * with inline SVG charts, for sales operations) and the coordinator's live
 * dashboard (for the data team).
 *
 * Both are plain HTML with inline CSS and SVG: no script, no font or image
 * download, readable offline and printable on A4. Every string that comes
 * from data, a schema, a model or a certificate is HTML-escaped.
 */
#ifndef FEDLEAD_REPORT_H
#define FEDLEAD_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "fedlead/coord.h"
#include "fedlead/metrics.h"
#include "fedlead/model.h"
#include "fedlead/score.h"

/*
 * One partner in the "what federation added" panel: its local-only model
 * against the federated model, on its own held-out leads and on the
 * report's lead file (all partners' held-out leads). Index 0 is the local
 * model, 1 the federated one. Each fl_eval has top_k = a tenth of its rows
 * (rounded down), so top_k_positives counts conversions in the top 10 %.
 */
#define FL_REPORT_MAX_COMPARE 32

struct fl_report_compare {
	const char *name;       /* the partner, as the user named it */
	const char *model_path; /* its local model */
	const char *data_path;  /* its own held-out leads */
	/* [0] the local model, [1] the federated one, [2] the private
	 * federation's (when has_dp) */
	struct fl_eval own[3], all[3];
	int has_dp;
};

/* What the model report says besides the model and the metrics. */
struct fl_report_meta {
	const char *model_path; /* as the user gave it; NULL = not shown */
	const char *data_path;  /* the scored lead file; NULL = not shown */
	const char *signer;     /* identity that signed the model, when verified; NULL */
	const char *generated;  /* when the report was made, RFC 3339; NULL = not shown */
	int top_drivers;        /* drivers shown each way (towards / against); 0 = 10 */
	const struct fl_report_compare *compare; /* the federation panel; NULL = none */
	size_t n_compare;
	/* The scored file's load report, for its unseen values; NULL = none
	 * (fl_report_file() sets it from its own pass). */
	const struct fl_load_report *load;
};

/*
 * Fills c->own and c->all (c->name, model_path and data_path set by the
 * caller): scores c->data_path and all_data, which must both have the label
 * column, with the local and the federated model, under o's bad-row policy,
 * tmpdir and memory bound (o->data, out, eval, top_k and n_reasons are
 * ignored). Fails with FL_ERR_MODEL when the local model's schema differs
 * from the federated model's: the two would not score the same columns.
 */
int fl_report_compare_eval(const struct fl_model *fed, const struct fl_model *local,
                           const struct fl_score_opts *o, const char *all_data,
                           struct fl_report_compare *c);
/*
 * Adds a third model to c (after fl_report_compare_eval()): the federation
 * trained under differential privacy, c->own[2] and c->all[2]. Its schema
 * may differ from the federated model's by its clip ranges only, so it must
 * encode the same columns (same names), or FL_ERR_MODEL.
 */
int fl_report_compare_dp(const struct fl_model *fed, const struct fl_model *dp, const char *dp_path,
                         const struct fl_score_opts *o, const char *all_data,
                         struct fl_report_compare *c);

/*
 * 95 % interval of an AUC from its standard error (Hanley and McNeil,
 * 1982), with np converted and nn not converted leads; NaN when undefined.
 */
void fl_report_auc_interval(double auc, uint64_t np, uint64_t nn, double *lo, double *hi);

/*
 * One scoring pass for a report: scores o->data with the model and ranks
 * the scores in memory bounded by o->mem_records (spilling to o->tmpdir like
 * fl_score_file()), filling rep (the same metrics fl_score_file() gives,
 * and the load report) and the chart summary *cv. o->out and o->n_reasons
 * are ignored; o->eval says whether the label column must be present.
 */
int fl_report_score(const struct fl_model *m, const struct fl_score_opts *o,
                    struct fl_score_report *rep, struct fl_curves *cv);

/*
 * The model report as one self-contained HTML document (*html malloc'ed,
 * NUL-terminated, *len bytes). With labelled metrics (ev->positives known,
 * cv->labelled): headline metrics and the top-20 % sentence, cumulative
 * gains, ROC, lift and calibration by decile, score distribution per class.
 * With unlabelled ones: score distribution and deciles. ev and cv may both
 * be NULL for a report of the model alone. Always: top drivers and
 * provenance (and the training history of a federated model).
 */
int fl_report_html(const struct fl_model *m, const struct fl_eval *ev, const struct fl_curves *cv,
                   const struct fl_report_meta *meta, char **html, size_t *len);

/*
 * fl_report_score() then fl_report_html(), written to path atomically
 * (temporary file, fsync, rename): the file appears only when complete.
 * rep receives the metrics (may be NULL).
 */
int fl_report_file(const struct fl_model *m, const struct fl_score_opts *o,
                   const struct fl_report_meta *meta, const char *path,
                   struct fl_score_report *rep);

/* ---- the coordinator's dashboard ---- */

struct fl_dashboard_partner {
	const char *name; /* certificate identity */
	int connected, participating;
	double last_seen; /* unix seconds; 0 = never */
};

/* A snapshot of a federation, as the dashboard shows it. */
struct fl_dashboard {
	const char *federation_id;
	const char *algorithm; /* "newton", "lbfgs", "fedavg" */
	struct fl_fedcoord_view view;
	int max_iterations; /* Newton / L-BFGS iterations per L2 value, or FedAvg
	                     * rounds; 0 = unknown */
	int l2_auto;        /* several L2 values are tried */
	size_t fedavg_done; /* FedAvg rounds completed */
	const struct fl_dashboard_partner *partners;
	size_t n_partners;
	const struct fl_round_log *history; /* completed rounds, in order */
	size_t n_history;
	double now;  /* unix seconds, for "last seen 4 s ago" */
	int refresh; /* seconds between reloads; 0 = none */
};

/* The dashboard page for a snapshot (*html malloc'ed, *len bytes). Pure. */
int fl_dashboard_render(const struct fl_dashboard *d, char **html, size_t *len);

/*
 * The dashboard of a running federation: a snapshot of c (with the
 * federation id, algorithm and iteration limits from set) rendered at time
 * now (unix seconds), reloading itself every 5 seconds.
 */
int fl_dashboard_html(const struct fl_fedcoord *c, const struct fl_coord_settings *set, double now,
                      char **html, size_t *len);

#endif
