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

#include "fedlead/coord.h"
#include "fedlead/metrics.h"
#include "fedlead/model.h"
#include "fedlead/score.h"

/* What the model report says besides the model and the metrics. */
struct fl_report_meta {
	const char *model_path; /* as the user gave it; NULL = not shown */
	const char *data_path;  /* the scored lead file; NULL = not shown */
	const char *signer;     /* identity that signed the model, when verified; NULL */
	const char *generated;  /* when the report was made, RFC 3339; NULL = not shown */
	int top_drivers;        /* drivers shown each way (towards / against); 0 = 10 */
};

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
