/*
 * The coordinator's live dashboard: one HTML page for the data team
 * watching a federation (phase, round, partners, loss and AUC per round).
 * It reloads itself with a meta refresh, so it needs no script.
 */
#include "fedlead/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fedlead/error.h"
#include "fedlead/svg.h"
#include "page_int.h"

#define DASHBOARD_REFRESH 5

static const char *phase_badge(enum fl_fed_phase p)
{
	switch (p) {
	case FL_PHASE_WAITING: return "b-wait";
	case FL_PHASE_DONE: return "b-done";
	case FL_PHASE_FAILED: return "b-fail";
	default: return "b-run";
	}
}

static void utc_time(struct fl_svg_buf *b, double t, int with_date)
{
	char s[64];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!(t > 0) || !isfinite(t) || gmtime_r(&tt, &tm) == NULL ||
	    strftime(s, sizeof(s), with_date ? "%Y-%m-%d %H:%M:%S UTC" : "%H:%M:%S UTC", &tm) ==
	            0) {
		put(b, "\xe2\x80\x93");
		return;
	}
	put(b, s);
}

/* "just now", "12 s ago", "4 min ago", "3 h ago", "2 days ago". */
static void ago(struct fl_svg_buf *b, double now, double t)
{
	double d = now - t;

	if (!(t > 0) || !isfinite(d)) {
		put(b, "never");
		return;
	}
	if (d < 2)
		put(b, "just now");
	else if (d < 120)
		fl_svg_buf_printf(b, "%.0f s ago", floor(d));
	else if (d < 7200)
		fl_svg_buf_printf(b, "%.0f min ago", floor(d / 60));
	else if (d < 172800)
		fl_svg_buf_printf(b, "%.0f h ago", floor(d / 3600));
	else
		fl_svg_buf_printf(b, "%.0f days ago", floor(d / 86400));
}

/* The "round k (iteration i of at most n)" card. */
static void round_card(struct fl_svg_buf *b, const struct fl_dashboard *d)
{
	struct fl_svg_buf v = {0}, n = {0};
	int is_fedavg = d->algorithm != NULL && strcmp(d->algorithm, "fedavg") == 0;

	count(&v, d->view.round);
	if (is_fedavg) {
		fl_svg_buf_printf(&n, "FedAvg round %zu", d->fedavg_done);
		if (d->max_iterations > 0)
			fl_svg_buf_printf(&n, " of %d", d->max_iterations);
	} else {
		fl_svg_buf_printf(&n, "solver iteration %d", d->view.iterations);
		if (d->max_iterations > 0)
			fl_svg_buf_printf(&n, " of at most %d", d->max_iterations);
		if (d->l2_auto)
			put(&n, " for this L2 value");
	}
	if (isfinite(d->view.l2) && d->view.phase >= FL_PHASE_TRAIN)
		fl_svg_buf_printf(&n, "; L2 %g", d->view.l2);
	card(b, "Round", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);
}

int fl_dashboard_render(const struct fl_dashboard *d, char **html, size_t *len)
{
	struct fl_svg_buf b = {0}, v = {0}, n = {0};
	const struct fl_fedcoord_view *w = &d->view;
	const char *phase = fl_fed_phase_name(w->phase);

	*html = NULL;
	*len = 0;
	page_head(&b, d->refresh);
	put(&b, "<title>fedlead \xc2\xb7 ");
	esc(&b, d->federation_id);
	put(&b, " \xc2\xb7 ");
	esc(&b, phase);
	put(&b, "</title>\n<style>");
	put(&b, fl_page_css);
	put(&b, "</style>\n</head>\n<body>\n<main>\n<header><h1>Federation ");
	esc(&b, d->federation_id);
	put(&b, "</h1><p class=\"sub\">fedlead coordinator \xc2\xb7 algorithm ");
	esc(&b, d->algorithm);
	put(&b, " \xc2\xb7 page made ");
	utc_time(&b, d->now, 1);
	if (d->refresh > 0)
		fl_svg_buf_printf(&b, " \xc2\xb7 reloads every %d s", d->refresh);
	put(&b, "</p></header>\n<h2>Now</h2>\n<div class=\"cards\">\n");

	put(&v, "<span class=\"badge ");
	put(&v, phase_badge(w->phase));
	put(&v, "\">");
	esc(&v, phase);
	put(&v, "</span>");
	card(&b, "Phase", v.data,
	     w->phase == FL_PHASE_WAITING ? "for partners to join"
	     : w->phase == FL_PHASE_STATS ? "summing column statistics"
	     : w->phase == FL_PHASE_TRAIN ? "training rounds"
	     : w->phase == FL_PHASE_FINAL ? "delivering the signed model"
	     : w->phase == FL_PHASE_DONE  ? "every partner has the model"
	                                  : "see the coordinator's log");
	fl_svg_buf_free(&v);
	round_card(&b, d);

	fl_svg_buf_printf(&v, "%zu / %zu", w->connected, w->expected);
	fl_svg_buf_printf(&n, "connected of expected; %zu taking part", w->participating);
	card(&b, "Partners", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);

	num(&v, w->train_loss, 4);
	card(&b, "Training loss", v.data, "mean log-loss at the current weights");
	fl_svg_buf_free(&v);

	num(&v, w->valid_auc, 3);
	put(&n, "validation AUC; validation log-loss ");
	num(&n, w->valid_log_loss, 4);
	card(&b, "Validation", v.data, n.data);
	fl_svg_buf_free(&v);
	fl_svg_buf_free(&n);
	put(&b, "</div>\n");

	put(&b, "<h2>Partners</h2>\n<table>\n<tr><th>Partner (certificate)</th><th>Connection"
	        "</th><th>Taking part</th><th>Last seen</th></tr>\n");
	for (size_t i = 0; i < d->n_partners; i++) {
		const struct fl_dashboard_partner *p = &d->partners[i];

		put(&b, "<tr><td>");
		esc(&b, p->name);
		put(&b, p->connected ? "</td><td><span class=\"badge b-done\">connected</span>"
		                     : "</td><td><span class=\"badge b-off\">not connected</span>");
		put(&b, p->participating ? "</td><td>yes</td><td>" : "</td><td>no</td><td>");
		ago(&b, d->now, p->last_seen);
		if (p->last_seen > 0) {
			put(&b, " <span class=\"note\">(");
			utc_time(&b, p->last_seen, 0);
			put(&b, ")</span>");
		}
		put(&b, "</td></tr>\n");
	}
	if (d->n_partners == 0)
		put(&b, "<tr><td colspan=\"4\">no partners on the allow-list</td></tr>\n");
	put(&b, "</table>\n");

	put(&b, "<h2>Training</h2>\n<div class=\"grid\">\n");
	fl_page_history_charts(&b, d->history, d->n_history);
	put(&b, "</div>\n");
	if (d->n_history > 0) {
		size_t first = d->n_history > 10 ? d->n_history - 10 : 0;

		put(&b, "<h2>Last rounds</h2>\n<table>\n<tr><th>Round</th><th>Step</th><th>L2</th>"
		        "<th>Training loss</th><th>Gradient norm</th><th>Validation loss</th>"
		        "<th>Validation AUC</th><th>Partners</th></tr>\n");
		for (size_t i = d->n_history; i-- > first;) {
			const struct fl_round_log *h = &d->history[i];

			put(&b, "<tr><td>");
			count(&b, h->round);
			put(&b, "</td><td>");
			esc(&b, h->kind);
			put(&b, "</td><td>");
			if (isfinite(h->l2))
				fl_svg_buf_printf(&b, "%g", h->l2);
			else
				put(&b, "\xe2\x80\x93");
			put(&b, "</td><td>");
			num(&b, h->train_loss, 5);
			put(&b, "</td><td>");
			if (isfinite(h->grad_norm))
				fl_svg_buf_printf(&b, "%.3g", h->grad_norm);
			else
				put(&b, "\xe2\x80\x93");
			put(&b, "</td><td>");
			num(&b, h->valid_log_loss, 5);
			put(&b, "</td><td>");
			num(&b, h->valid_auc, 4);
			fl_svg_buf_printf(&b, "</td><td>%u</td></tr>\n", (unsigned)h->partners);
		}
		put(&b, "</table>\n");
	}
	put(&b, "<footer>Also served here: <code>/status</code> (JSON), <code>/metrics</code> "
	        "(Prometheus), <code>/healthz</code>.</footer>\n</main>\n</body>\n</html>\n");
	return fl_svg_buf_take(&b, html, len);
}

/* Rounds kept whole at the end of a thinned history, for the table of last rounds. */
#define HISTORY_TAIL 10

int fl_dashboard_html(const struct fl_fedcoord *c, const struct fl_coord_settings *set, double now,
                      char **html, size_t *len)
{
	struct fl_dashboard d = {0};
	struct fl_dashboard_partner *parts = NULL;
	struct fl_round_log *hist = NULL, h;
	size_t np = fl_fedcoord_partner_count(c), nh = fl_fedcoord_history_len(c), keep = 0;
	size_t stride = 1, tail;
	int r = FL_ERR_NOMEM;

	*html = NULL;
	*len = 0;
	/* A page is made every few seconds for as long as a federation runs:
	 * copy at most MAX_HISTORY_POINTS rounds, however long the history. */
	if (nh > MAX_HISTORY_POINTS)
		stride = (nh + MAX_HISTORY_POINTS - HISTORY_TAIL - 1) /
		         (MAX_HISTORY_POINTS - HISTORY_TAIL);
	tail = nh > HISTORY_TAIL ? nh - HISTORY_TAIL : 0;
	if ((np > 0 && (parts = calloc(np, sizeof(*parts))) == NULL) ||
	    (nh > 0 && (hist = malloc((nh < MAX_HISTORY_POINTS ? nh : MAX_HISTORY_POINTS + 1) *
	                              sizeof(*hist))) == NULL))
		goto out;
	for (size_t i = 0; i < np; i++)
		fl_fedcoord_partner(c, i, &parts[i].name, &parts[i].connected,
		                    &parts[i].participating, &parts[i].last_seen);
	for (size_t i = 0; i < nh; i++) {
		fl_fedcoord_history(c, i, &h);
		d.fedavg_done += strcmp(h.kind, "fedavg") == 0;
		if (i >= tail || i % stride == 0)
			hist[keep++] = h;
	}
	fl_fedcoord_view(c, &d.view);
	d.federation_id = set->federation_id;
	d.algorithm = fl_fed_algo_name(set->algorithm);
	d.max_iterations =
	        set->algorithm == FL_FED_FEDAVG ? set->fedavg_rounds : set->max_iterations;
	d.l2_auto = set->l2_auto && set->algorithm != FL_FED_FEDAVG;
	d.partners = parts;
	d.n_partners = np;
	d.history = hist;
	d.n_history = keep;
	d.now = now;
	d.refresh = DASHBOARD_REFRESH;
	r = fl_dashboard_render(&d, html, len);
out:
	free(parts);
	free(hist);
	return r;
}
