#ifndef FORESIGHT_SCALING_SCALING_H
#define FORESIGHT_SCALING_SCALING_H

/*
 * The replica math of one ForecastScaler evaluation. Pure: values in, a
 * decision out; no clock, no I/O, no allocation beyond the caller's history.
 * The reconcile loop and `foresight backtest` both call it.
 *
 * One evaluation, in order (DESIGN.md, "Replica math per evaluation"):
 *  1. Per metric: reactive = ceil(observed / targetPerReplica); forecast =
 *     ceil(max upper bound over (now, now+leadTime] / targetPerReplica) when
 *     the forecast is usable (ready, error <= maxError). recommended = the
 *     largest max(reactive, forecast) over the metrics: a forecast that says
 *     load returns within the lead time vetoes a scale-down.
 *  2. Tolerance, per metric as the HPA: when the usage ratio
 *     load / (current * targetPerReplica) lies in
 *     [1 - scaleDown.tolerance, 1 + scaleUp.tolerance] the metric proposes
 *     the current count.
 *  3. Behaviour exactly as the autoscaling/v2 HPA: stabilisation (the current
 *     count brought within [lowest recommendation of the scale-up window,
 *     highest of the scale-down window]), then the rate policies together
 *     with minReplicas/maxReplicas.
 *  4. The concurrency budget (scale_apply_budget, called by the owner of the
 *     allocation), then the mode: DryRun and Paused keep the current count.
 *
 * As the HPA, a target outside [minReplicas, maxReplicas] is brought inside
 * at once (no behaviour), and a target scaled to 0 while minReplicas > 0 is
 * left alone: autoscaling is off until someone scales it up.
 *
 * A metric fails when its query failed, its value is not a finite number
 * >= 0, or it came back empty with onEmpty Error. The evaluation fails when
 * every metric failed, or some failed and the rest would scale down (the
 * HPA's rule: never scale down on partial data). A failed evaluation holds
 * the current count; from the failureThreshold-th failure in a row the
 * fallback applies (Hold: the current count; Replicas: fallback.replicas).
 * Either is brought within [minReplicas, maxReplicas] but skips tolerance
 * and behaviour: there is no load to stabilise, and the user named the
 * fallback count for an outage. Metric names are cut to 48 characters in
 * reasons, so the numbers always fit; a metric's failure too long for the
 * reason loses its middle ("..."), so that where it failed (the start) and
 * why (the end) both stay.
 *
 * limitedBy precedence: in DryRun and Paused, the mode (it alone decides
 * that the count does not change). Otherwise the last step that changed the
 * count, in pipeline order Tolerance, Behavior (stabilisation, then rate
 * policies), MinReplicas/MaxReplicas, Budget. When a rate policy and
 * maxReplicas (or minReplicas) cap at the same count, the replica bound
 * names it, as the HPA's TooManyReplicas/TooFewReplicas. A count that no
 * step changed is None.
 *
 * All state between evaluations lives in a caller-owned scale_history:
 *
 *	struct scale_history h;
 *	struct scale_decision d;
 *	struct fs_err err;
 *
 *	scale_history_init(&h);
 *	... every interval, with `now` in seconds from any fixed origin:
 *	if (scale_evaluate(&d, &h, &spec, metrics, n, current, now, &err) != FS_OK)
 *		return report(err.msg);          // a bad spec, or out of memory
 *	scale_apply_budget(&d, budget_allowed); // when the scaler has a budget
 *	if (d.desired != current && set_scale(d.desired) == FS_OK)
 *		scale_history_record_scale(&h, now, current, d.desired, &err);
 *	status(d.desired, d.limited_by, d.reason, ...);
 *	...
 *	scale_history_release(&h);
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"

/* The largest replica count computed; larger needs are capped and reported. */
#define SCALE_REPLICAS_MAX (INT32_MAX / 2)
/* Policies per direction (the HPA sets no limit; real specs use one to three). */
#define SCALE_POLICIES_MAX 8
/* Entries kept per history ring; past it the oldest entry is dropped. */
#define SCALE_HISTORY_CAP 1024
/* HPA validation bounds. */
#define SCALE_WINDOW_MAX 3600
#define SCALE_PERIOD_MAX 1800

enum scale_policy_type {
	SCALE_POLICY_PODS,    /* change by at most `value` replicas per period */
	SCALE_POLICY_PERCENT, /* change by at most `value` percent per period */
};

enum scale_select {
	SCALE_SELECT_MAX,      /* the policy allowing the largest change (default) */
	SCALE_SELECT_MIN,      /* the policy allowing the smallest change */
	SCALE_SELECT_DISABLED, /* no change in this direction */
};

struct scale_policy {
	enum scale_policy_type type;
	int value;          /* > 0 */
	int period_seconds; /* 1..SCALE_PERIOD_MAX */
};

/* One direction of behavior: scaleUp or scaleDown. */
struct scale_rules {
	int stabilization_window_seconds; /* 0..SCALE_WINDOW_MAX */
	enum scale_select select;
	double tolerance; /* >= 0: the usage ratio may be off 1 by this before scaling */
	int n_policies;   /* 1..SCALE_POLICIES_MAX */
	struct scale_policy policies[SCALE_POLICIES_MAX];
};

struct scale_behavior {
	struct scale_rules up;
	struct scale_rules down;
};

enum scale_mode {
	SCALE_MODE_AUTO,
	SCALE_MODE_DRY_RUN, /* compute, record, report; never change the count */
	SCALE_MODE_PAUSED,  /* compute and report only; the history is not touched */
};

enum scale_fallback_action {
	SCALE_FALLBACK_HOLD,     /* keep the current count */
	SCALE_FALLBACK_REPLICAS, /* go to fallback.replicas */
};

struct scale_fallback {
	int failure_threshold; /* >= 1: failed evaluations in a row before the action */
	enum scale_fallback_action action;
	int replicas; /* for SCALE_FALLBACK_REPLICAS: 0..SCALE_REPLICAS_MAX */
};

/* The parts of a ForecastScaler spec the replica math reads. */
struct scale_spec {
	int min_replicas; /* 0..max_replicas */
	int max_replicas; /* 1..SCALE_REPLICAS_MAX */
	enum scale_mode mode;
	struct scale_behavior behavior;
	struct scale_fallback fallback;
	double lead_time; /* seconds ahead to provision for, >= 0 */
	double max_error; /* forecasts with a larger recent error (MAPE, 0.3 = 30%) are left out */
};

enum scale_on_empty {
	SCALE_EMPTY_HOLD,  /* the metric proposes the current count */
	SCALE_EMPTY_ZERO,  /* the metric reads as 0 load */
	SCALE_EMPTY_ERROR, /* the metric failed */
};

enum scale_sample {
	SCALE_SAMPLE_OK,    /* `observed` holds the value */
	SCALE_SAMPLE_EMPTY, /* the query returned no series */
	SCALE_SAMPLE_ERROR, /* the query failed; `error` says how */
};

struct scale_point {
	double t; /* seconds, same origin as `now` */
	double v;
};

/* A metric's forecast, as the forecaster hands it over. Borrowed. */
struct scale_forecast {
	bool ready;            /* fitted on enough history */
	const char *not_ready; /* why not, when !ready; NULL for a generic sentence */
	double error;          /* recent MAPE as a fraction; NaN when not known */
	double relative_error; /* its recent error over the last value's as a forecast (the
	                          reactive count's guess); below 1, a forecast above maxError
	                          is still used: it beats what falling back would use. NaN
	                          or 0 when not known */
	const struct scale_point *upper; /* the upper bound at the spec's quantile */
	size_t n_upper;
};

/* One metric of one evaluation. Everything is borrowed for the call. */
struct scale_metric {
	const char *name;          /* the spec's metric name, also its unit in reasons */
	double target_per_replica; /* > 0 */
	enum scale_on_empty on_empty;
	enum scale_sample sample;
	double observed;                       /* for SCALE_SAMPLE_OK */
	const char *error;                     /* for SCALE_SAMPLE_ERROR; may be NULL */
	const struct scale_forecast *forecast; /* NULL when the metric has none (model None) */
};

enum scale_limit {
	SCALE_LIMIT_NONE,
	SCALE_LIMIT_MIN_REPLICAS,
	SCALE_LIMIT_MAX_REPLICAS,
	SCALE_LIMIT_BEHAVIOR,
	SCALE_LIMIT_BUDGET,
	SCALE_LIMIT_TOLERANCE,
	SCALE_LIMIT_DRY_RUN,
	SCALE_LIMIT_PAUSED,
};

#define SCALE_REASON_MAX 256

/* The outcome of one evaluation, step by step, for status.decision. */
struct scale_decision {
	int current;     /* the count the target had */
	int reactive;    /* largest ceil(observed / targetPerReplica) over good metrics */
	int forecast;    /* largest forecast replicas over usable forecasts; 0 when none */
	int recommended; /* before any clamp: max(reactive, forecast); on failure the held
	                    or fallback count */
	int proposed;    /* after every clamp: what Auto sets */
	int desired;     /* the count to set: proposed in Auto, current in DryRun and Paused */
	enum scale_mode mode;
	enum scale_limit limited_by; /* see the precedence above */
	enum scale_limit clamped_by; /* the step that set `proposed`, ignoring the mode */
	bool forecast_used;          /* a usable forecast took part (whether or not it won) */
	bool forecast_ready;         /* ForecastReady: every forecast usable, and there is one */
	bool metrics_failed;         /* this evaluation failed (ScalingActive=False) */
	bool fallback_active;        /* the fallback action applies (FallbackActive) */
	bool capped;                 /* a need above SCALE_REPLICAS_MAX was cut to it */
	int failures;                /* failed evaluations in a row, this one included */
	int driver;                  /* index of the metric that set `recommended`; -1 when none */
	char reason[SCALE_REASON_MAX];          /* one sentence: what drove it, what limited it */
	char forecast_reason[SCALE_REASON_MAX]; /* the ForecastReady message */
	/* The two halves of `reason`, kept so scale_apply_budget can rewrite it. */
	char basis[SCALE_REASON_MAX / 2];
	char step[SCALE_REASON_MAX / 2];
};

/* A timestamped replica count: a recommendation, or a signed scale change. */
struct scale_stamp {
	double t;
	int n;
};

/* A ring that grows on demand up to SCALE_HISTORY_CAP, then drops its oldest. */
struct scale_ring {
	struct scale_stamp *v;
	size_t start; /* index of the oldest entry */
	size_t len;
	size_t alloc;
};

/*
 * What the HPA controller keeps per autoscaler between evaluations:
 * recommendations for the stabilisation windows, scale events for the rate
 * policies, and the count of failed evaluations in a row. Entries older
 * than the longest window or policy period are dropped as evaluations go.
 */
struct scale_history {
	struct scale_ring recs;   /* (time, recommendation) */
	struct scale_ring events; /* (time, replicas added: negative when removed) */
	int failures;
	bool started; /* the first evaluation recorded the count it found */
};

/* Sets up an empty history. Allocates nothing. */
void scale_history_init(struct scale_history *h);

/* Frees the history's memory and leaves it empty, as after init. */
void scale_history_release(struct scale_history *h);

/*
 * Records that the target was scaled from `from` to `to` at `now`, for the
 * rate policies. Call it only once the scale really changed (the HPA stores
 * an event only after a successful update); from == to records nothing.
 * FS_EINVAL for a negative count or a non-finite time, FS_ENOMEM when out of
 * memory; the history is unchanged on failure.
 */
enum fs_rc scale_history_record_scale(struct scale_history *h, double now, int from, int to,
                                      struct fs_err *err);

/*
 * Fills `b` with the HPA defaults: scaleUp stabilisation 0 s, policies
 * Percent 100/15s and Pods 4/15s, selectPolicy Max; scaleDown stabilisation
 * 300 s, policy Percent 100/15s, selectPolicy Max; tolerance 0.1 down and 0 up.
 * The HPA tolerates 10% up as well; here that would quietly take back the
 * headroom the forecast's quantile asked for (a forecast 5% above capacity
 * would not scale), so scale-up tolerance is opt-in.
 * A spec parser fills the defaults first and overwrites what the user set
 * (a user's `policies` list replaces the default list whole).
 */
void scale_behavior_defaults(struct scale_behavior *b);

/*
 * Checks `b` against the HPA's validation rules. FS_EINVAL names the first
 * bad field: "behavior.scaleUp.policies[1].periodSeconds: must be 1..1800, not 0".
 */
enum fs_rc scale_behavior_validate(const struct scale_behavior *b, struct fs_err *err);

/*
 * Checks a whole spec (bounds, mode, fallback, leadTime, maxError, then the
 * behavior). FS_EINVAL names the first bad field, as the CRD spells it.
 */
enum fs_rc scale_spec_validate(const struct scale_spec *spec, struct fs_err *err);

/*
 * Runs one evaluation at `now` for a target at `current` replicas and fills
 * `d`. Unless the mode is Paused, it records into `h` what the HPA records:
 * the first count seen, the recommendation, the failure count. The metric
 * values and forecasts are only read during the call.
 * FS_EINVAL for a bad spec or input (no metrics, a target <= 0, negative
 * current, non-finite now) and FS_ENOMEM when the history cannot grow; on
 * failure `d` and `h` are unchanged. Metric failures are not errors: they
 * are part of the decision (metrics_failed, fallback_active).
 */
enum fs_rc scale_evaluate(struct scale_decision *d, struct scale_history *h,
                          const struct scale_spec *spec, const struct scale_metric *metrics,
                          size_t n_metrics, int current, double now, struct fs_err *err);

/*
 * Applies a concurrency budget's allocation to `d`: a scale-up is cut to
 * `allowed` replicas (never below the current count), naming Budget when
 * that bites and rewriting the reason. Budgets never block or force a
 * scale-down, so a decision that does not scale up is left as it is.
 */
void scale_apply_budget(struct scale_decision *d, int allowed);

/* The status name of a limit ("None", "MinReplicas", ... "Paused"); static storage. */
const char *scale_limit_name(enum scale_limit limit);

#endif
