#ifndef FORESIGHT_BACKTEST_BACKTEST_H
#define FORESIGHT_BACKTEST_BACKTEST_H

/*
 * `foresight backtest`'s simulation (../shared/BACKTEST.md): a recorded load
 * trace replayed through the operator's own forecaster (fc_) and replica
 * math (scale_), reporting what each policy would have cost and how often it
 * left the service short. Pure: values in, values out; the CLI reads the
 * trace (a CSV file or a Prometheus range query) and prints.
 *
 *	struct bt_trace tr;
 *	struct bt_config cfg;
 *	struct bt_result r;
 *
 *	if (bt_csv_parse(&tr, "load.csv", text, len, &err) != FS_OK)  // "load.csv:12: ..."
 *		...;
 *	for (size_t i = 0; i < tr.n_gaps; i++) ...warn(tr.gaps[i]);   // reported, filled with NaN
 *	bt_config_init(&cfg);
 *	cfg.capacity = 1000;
 *	cfg.season = 48;
 *	if (bt_run(&r, tr.v, tr.n, tr.step, &cfg, &err) != FS_OK) ...;
 *	... r.fig[BT_FORESIGHT].cost_ratio, r.replicas[BT_REACTIVE][k] ...
 *	bt_result_release(&r);
 *	bt_trace_release(&tr);
 *
 * The simulation, fixed so numbers compare across versions: bucket t is
 * served by replicas decided with data up to and including bucket t - lead.
 * The forecaster is fitted on the buckets before the first decision, then
 * fed one bucket per step (fc_update) and refitted on its schedule
 * (fc_refit_due) on the last `history` buckets, as the operator does. A
 * missing bucket (NaN) is fed as a gap; figures skip buckets whose load is
 * missing.
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"
#include "forecast/forecast.h"
#include "scaling/scaling.h"

enum bt_policy {
	BT_ORACLE,    /* ceil(y[t] / C): perfect foresight, the cost floor */
	BT_REACTIVE,  /* the HPA: ceil(y[t-L] / (C u)), scale-down stabilised */
	BT_FORECAST,  /* the forecaster alone: its upper bound for t made at t-L */
	BT_FORESIGHT, /* the operator: scale_evaluate with the scaler spec */
	BT_POLICY_COUNT,
};

/* "oracle", "reactive", "forecast", "foresight"; static storage. */
const char *bt_policy_name(enum bt_policy p);

/* A gap in a trace: `missing` buckets absent before the row on `line`. */
struct bt_gap {
	size_t line;
	size_t missing;
	double after; /* unix seconds of the last bucket before the gap */
};

/* Gaps kept in a trace's list; more are counted in n_gaps_total only. */
#define BT_GAPS_MAX 64

/* A series on an even grid: v[k] is the load of bucket t0 + k * step, NaN when missing. */
struct bt_trace {
	double t0;   /* unix seconds of the first bucket */
	double step; /* seconds between buckets */
	double *v;
	size_t n;
	size_t n_missing; /* buckets that are NaN */
	struct bt_gap gaps[BT_GAPS_MAX];
	size_t n_gaps;       /* kept in gaps[] */
	size_t n_gaps_total; /* found */
};

/* Largest trace accepted, in buckets (gaps included). */
#define BT_TRACE_MAX 10000000

/*
 * Parses a CSV trace: a header line, then rows `timestamp,value`. A
 * timestamp is `YYYY-MM-DD HH:MM:SS` (or with a `T`, optionally ending in
 * `Z`; always UTC) or unix seconds; a value is a number >= 0 (NaN, empty:
 * missing). The step is the most common interval between rows; a longer
 * interval that is a whole number of steps is a gap, filled with NaN and
 * listed in `gaps` with its line. Blank lines and CRLF endings are accepted.
 * FS_EINVAL names `name:line` and what is wrong for an empty file, a row
 * that is not two fields, a bad timestamp or value, a timestamp not after
 * the one before it, an interval off the step's grid, or a trace longer
 * than BT_TRACE_MAX. On success the caller releases `out` with
 * bt_trace_release; on failure it is left empty.
 */
enum fs_rc bt_csv_parse(struct bt_trace *out, const char *name, const char *text, size_t len,
                        struct fs_err *err);

/*
 * Builds a trace from evenly spaced samples (a Prometheus range answer, say):
 * t[k] = t0 + k * step, NaN where missing. Runs of NaN are listed as gaps
 * (their `line` is the index of the bucket after the gap, 1-based). Copies v.
 */
enum fs_rc bt_trace_from_grid(struct bt_trace *out, double t0, double step, const double *v,
                              size_t n, struct fs_err *err);

/* Frees what a trace holds and zeroes it; a zeroed trace is a no-op. */
void bt_trace_release(struct bt_trace *tr);

/* What to simulate. Start from bt_config_init. */
struct bt_config {
	double capacity;    /* load one replica carries (> 0); required */
	size_t lead;        /* buckets between the decision and the bucket it serves; default 1 */
	size_t warmup;      /* buckets only fitted on; 0: min(a third, 14 seasons) */
	double quantile;    /* forecast and foresight's upper quantile; default 0.9 */
	double utilization; /* reactive's target utilisation (0, 1]; default 0.7 */
	int min_replicas;   /* every policy's floor; default 1 */
	size_t
	    stabilization;   /* reactive's scale-down window in buckets; 0: 5 minutes, at least 1 */
	enum fc_model model; /* default FC_AUTO */
	size_t season;       /* buckets; 0 none; FC_SEASON_AUTO (default) detects it */
	size_t history;      /* buckets each refit reads; 0: the warm-up's length */
	/*
	 * The foresight policy's scaler: min/max, behaviour, tolerance, maxError,
	 * fallback. Defaults: a ForecastScaler's with maxReplicas SCALE_REPLICAS_MAX.
	 * Its lead_time is set from `lead` and the step; min_replicas from above.
	 */
	struct scale_spec scale;
	enum scale_on_empty on_empty; /* a missing bucket, as the operator reads it; default Hold */
};

/* Sets `cfg` to the defaults above (capacity 0: the caller must set it). */
void bt_config_init(struct bt_config *cfg);

/* One policy's figures over the buckets after warm-up whose load is known. */
struct bt_figures {
	double under_pct;    /* % of buckets with replicas * C < y */
	double unserved_pct; /* 100 * sum(max(0, y - replicas * C)) / sum(y) */
	double cost_ratio;   /* sum(replicas) / sum(oracle) */
	double mape;         /* forecast rows: mean |y - f| / max(y, 1) of the point forecast */
	double coverage;     /* forecast rows: share of buckets with y <= upper */
	bool has_forecast;   /* mape and coverage apply */
};

/*
 * A run: per policy, the replicas of buckets warmup .. n-1 (index k is
 * bucket warmup + k), and the forecast for each of those buckets made lead
 * buckets before (point, lower and upper bound at the configured quantile
 * and its complement; NaN where the
 * forecaster was not ready and the policies fell back to the last load).
 */
struct bt_result {
	size_t n;      /* buckets in the trace */
	size_t warmup; /* first bucket scored */
	int *replicas[BT_POLICY_COUNT];
	double *point, *lower, *upper;
	struct bt_figures fig[BT_POLICY_COUNT];
	size_t scored;       /* buckets after warm-up with a known load */
	size_t not_ready;    /* decisions made without a ready forecast */
	size_t refits;       /* fits after the first */
	enum fc_model model; /* the model of the last fit */
	size_t season;       /* the season used (detected or given), 0 for none */
	bool season_detected;
	double model_mape;  /* the last fit's holdout error (fraction) */
	size_t state_bytes; /* the largest forecaster state during the run */
};

/*
 * Runs the four policies over y[0..n) (NaN: missing), `step` seconds apart.
 * FS_EINVAL for a bad config (naming the option) or a trace too short for
 * its warm-up and lead; FS_ENOMEM. On success release `out` with
 * bt_result_release; on failure it is left empty.
 */
enum fs_rc bt_run(struct bt_result *out, const double *y, size_t n, double step,
                  const struct bt_config *cfg, struct fs_err *err);

void bt_result_release(struct bt_result *r);

/*
 * A policy's cheapest setting for an SLO: the lowest cost_ratio over its
 * knob's sweep (reactive: utilisation 0.05 .. 1 by 0.001; forecast and
 * foresight: quantile 0.5 .. 0.999) among the settings whose under_pct is at
 * most the SLO. `met` is false when no setting meets it.
 */
struct bt_frontier_point {
	bool met;
	double knob;       /* the utilisation or quantile chosen; 0 for oracle */
	double cost_ratio; /* at that knob */
	double under_pct;
};

/*
 * Sweeps every policy's headroom knob (one forecaster run serves every
 * quantile) and fills out[policy] for the SLO (under_pct at most `slo`).
 * Same config and errors as bt_run; cfg's quantile and utilization are ignored.
 */
enum fs_rc bt_frontier(struct bt_frontier_point out[BT_POLICY_COUNT], const double *y, size_t n,
                       double step, const struct bt_config *cfg, double slo, struct fs_err *err);

/*
 * Writes an SVG plot of a run into `out` (a buf the caller owns): the load,
 * the forecast band (lower to upper bound) and each policy's capacity
 * (replicas x C) over the scored buckets, with axes, dates and a legend.
 * Buckets beyond the plot's width are drawn as their column's maximum, so a
 * spike never disappears. `title` labels the plot; `y` and `t0`/`step` are
 * the trace the run was made on.
 */
struct buf;
enum fs_rc bt_svg(struct buf *out, const struct bt_result *r, const double *y, double t0,
                  double step, double capacity, const char *title, struct fs_err *err);

/* Formats unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC) into out (at least 20 bytes). */
void bt_format_time(char *out, size_t size, double t);

/* Parses `YYYY-MM-DD HH:MM:SS` (or T, optional Z; UTC) or unix seconds. */
bool bt_parse_time(double *out, const char *text);

#endif
