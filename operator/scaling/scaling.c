/*
 * One ForecastScaler evaluation: metrics and forecasts to a recommendation,
 * then tolerance, behaviour, bounds, fallback and mode (see scaling.h).
 */

#include "scaling/scaling.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scaling/behavior.h"

#define NUM_MAX 48
/* A metric name in a reason, cut so that a long one cannot crowd out the numbers. */
#define NAME "%.48s"
/* A metric failure as the caller words it, before it is fitted into a reason. */
#define SCALE_FAILURE_MAX 1024

/* What the metrics of one evaluation say, gathered in one pass. */
struct tally {
	int good;                   /* metrics with a usable value (or held) */
	int failed;                 /* metrics that failed */
	int reactive;               /* largest reactive count */
	int forecast;               /* largest forecast count */
	int raw;                    /* largest max(reactive, forecast): the recommendation */
	int proposal;               /* largest count after tolerance */
	int driver;                 /* the metric with the largest raw count, first on ties */
	bool capped;                /* some need was above SCALE_REPLICAS_MAX */
	bool fc_any;                /* some metric has a forecast */
	bool fc_used;               /* some usable forecast took part */
	bool fc_ready;              /* every forecast was usable */
	const char *tolerated_name; /* the metric with the largest raw count kept by tolerance */
	int tolerated_raw;
	double tolerated_ratio;
	char failure[SCALE_FAILURE_MAX];        /* the first metric failure, whole */
	char fc_reason[SCALE_REASON_MAX];       /* the first unusable forecast */
	char driver_says[SCALE_REASON_MAX / 2]; /* the driver's need, in words */
};

const char *scale_limit_name(enum scale_limit limit)
{
	switch (limit) {
	case SCALE_LIMIT_NONE:
		return "None";
	case SCALE_LIMIT_MIN_REPLICAS:
		return "MinReplicas";
	case SCALE_LIMIT_MAX_REPLICAS:
		return "MaxReplicas";
	case SCALE_LIMIT_BEHAVIOR:
		return "Behavior";
	case SCALE_LIMIT_BUDGET:
		return "Budget";
	case SCALE_LIMIT_TOLERANCE:
		return "Tolerance";
	case SCALE_LIMIT_DRY_RUN:
		return "DryRun";
	case SCALE_LIMIT_PAUSED:
		return "Paused";
	}
	return "Unknown";
}

/* ---- words ------------------------------------------------------------ */

/* A load or count for people: "0.5", "12.3", "830", "1,250", "1e+300". */
static void fmt_num(char *out, size_t size, double v)
{
	char digits[NUM_MAX], grouped[NUM_MAX];
	int len, lead;
	size_t o = 0;

	if (!(fabs(v) >= 100 && fabs(v) < 1e15)) {
		scale_say(out, size, "%.3g", v);
		return;
	}
	len = snprintf(digits, sizeof(digits), "%lld", llround(v));
	lead = digits[0] == '-';
	for (int i = 0; i < len; i++) {
		if (i > lead && (len - i) % 3 == 0)
			grouped[o++] = ',';
		grouped[o++] = digits[i];
	}
	grouped[o] = '\0';
	scale_say(out, size, "%s", grouped);
}

/* A duration for people: "45s", "3m", "2m30s", "1h", "1h30m". */
static void fmt_dur(char *out, size_t size, double seconds)
{
	long long s;

	if (!(seconds < 1e12)) {
		scale_say(out, size, "%.3gs", seconds);
		return;
	}
	s = llround(seconds);
	if (s < 60)
		scale_say(out, size, "%llds", s);
	else if (s < 3600 && s % 60)
		scale_say(out, size, "%lldm%llds", s / 60, s % 60);
	else if (s < 3600)
		scale_say(out, size, "%lldm", s / 60);
	else if (s / 60 % 60)
		scale_say(out, size, "%lldh%lldm", s / 3600, s / 60 % 60);
	else
		scale_say(out, size, "%lldh", s / 3600);
}

/* ---- validation ------------------------------------------------------- */

enum fs_rc scale_spec_validate(const struct scale_spec *spec, struct fs_err *err)
{
	const struct scale_fallback *f = &spec->fallback;

	if (spec->max_replicas < 1 || spec->max_replicas > SCALE_REPLICAS_MAX)
		return fs_fail(err, FS_EINVAL, "maxReplicas: must be 1..%d, not %d",
		               SCALE_REPLICAS_MAX, spec->max_replicas);
	if (spec->min_replicas < 0 || spec->min_replicas > spec->max_replicas)
		return fs_fail(err, FS_EINVAL, "minReplicas: must be 0..maxReplicas (%d), not %d",
		               spec->max_replicas, spec->min_replicas);
	if (spec->mode != SCALE_MODE_AUTO && spec->mode != SCALE_MODE_DRY_RUN &&
	    spec->mode != SCALE_MODE_PAUSED)
		return fs_fail(err, FS_EINVAL, "mode: must be Auto, DryRun or Paused");
	if (f->failure_threshold < 1)
		return fs_fail(err, FS_EINVAL, "fallback.failureThreshold: must be >= 1, not %d",
		               f->failure_threshold);
	if (f->action != SCALE_FALLBACK_HOLD && f->action != SCALE_FALLBACK_REPLICAS)
		return fs_fail(err, FS_EINVAL, "fallback.action: must be Hold or Replicas");
	if (f->action == SCALE_FALLBACK_REPLICAS &&
	    (f->replicas < 0 || f->replicas > SCALE_REPLICAS_MAX))
		return fs_fail(err, FS_EINVAL, "fallback.replicas: must be 0..%d, not %d",
		               SCALE_REPLICAS_MAX, f->replicas);
	if (!(spec->lead_time >= 0) || !isfinite(spec->lead_time))
		return fs_fail(err, FS_EINVAL, "forecast.leadTime: must be a duration >= 0");
	if (!(spec->max_error >= 0) || !isfinite(spec->max_error))
		return fs_fail(err, FS_EINVAL, "forecast.maxError: must be a number >= 0");
	return scale_behavior_validate(&spec->behavior, err);
}

static enum fs_rc check_metrics(const struct scale_metric *metrics, size_t n, struct fs_err *err)
{
	if (!metrics || n == 0)
		return fs_fail(err, FS_EINVAL, "metrics: must list at least one metric");
	for (size_t i = 0; i < n; i++) {
		const struct scale_metric *m = &metrics[i];

		if (!m->name || !m->name[0])
			return fs_fail(err, FS_EINVAL, "metrics[%zu].name: must be set", i);
		if (!(m->target_per_replica > 0) || !isfinite(m->target_per_replica))
			return fs_fail(err, FS_EINVAL,
			               "metrics[%zu].targetPerReplica: must be a number > 0", i);
		if (m->on_empty != SCALE_EMPTY_HOLD && m->on_empty != SCALE_EMPTY_ZERO &&
		    m->on_empty != SCALE_EMPTY_ERROR)
			return fs_fail(err, FS_EINVAL,
			               "metrics[%zu].onEmpty: must be Hold, Zero or Error", i);
		if (m->sample != SCALE_SAMPLE_OK && m->sample != SCALE_SAMPLE_EMPTY &&
		    m->sample != SCALE_SAMPLE_ERROR)
			return fs_fail(err, FS_EINVAL, "metrics[%zu]: unknown sample state %d", i,
			               (int)m->sample);
		if (m->forecast && m->forecast->n_upper > 0 && !m->forecast->upper)
			return fs_fail(err, FS_EINVAL,
			               "metrics[%zu]: forecast claims %zu points but has none", i,
			               m->forecast->n_upper);
	}
	return FS_OK;
}

/* ---- per metric ------------------------------------------------------- */

/* ceil(load / target), capped at SCALE_REPLICAS_MAX (also when the quotient overflows). */
static int replicas_for(double load, double target, bool *capped)
{
	double q = load / target;

	if (!(q <= SCALE_REPLICAS_MAX)) {
		*capped = true;
		return SCALE_REPLICAS_MAX;
	}
	return (int)ceil(q);
}

/*
 * Whether a forecast may take part: ready, its error within maxError, and a
 * finite upper bound in (now, now + leadTime]. If so, `*peak` is the largest
 * upper bound there (negative bounds read as 0 load) and `*at` its time;
 * if not, `why` says why.
 */
static bool forecast_usable(const struct scale_forecast *f, const struct scale_spec *spec,
                            double now, double *peak, double *at, char *why, size_t why_size)
{
	char a[NUM_MAX], b[NUM_MAX];
	bool any = false;

	if (!f->ready) {
		scale_say(why, why_size, "%s",
		          f->not_ready ? f->not_ready : "the model is not ready");
		return false;
	}
	if (isnan(f->error)) {
		scale_say(why, why_size, "its recent error is not known yet");
		return false;
	}
	/* A noisy forecast is still kept while it beats the reactive count's own guess. */
	if (!(f->error <= spec->max_error) && !(f->relative_error > 0 && f->relative_error < 1)) {
		fmt_num(a, sizeof(a), f->error * 100);
		fmt_num(b, sizeof(b), spec->max_error * 100);
		scale_say(why, why_size, "its recent error %s%% exceeds maxError %s%%", a, b);
		if (f->relative_error >= 1) {
			fmt_num(a, sizeof(a), f->relative_error);
			scale_say(why + strlen(why), why_size - strlen(why),
			          " and it does no better than the last value (relative error %s)",
			          a);
		}
		return false;
	}
	for (size_t i = 0; i < f->n_upper; i++) {
		const struct scale_point *p = &f->upper[i];

		if (!(p->t > now && p->t <= now + spec->lead_time))
			continue;
		if (!isfinite(p->v)) {
			scale_say(why, why_size, "its upper bound is not a finite number");
			return false;
		}
		if (!any || p->v > *peak) {
			*peak = p->v > 0 ? p->v : 0;
			*at = p->t;
		}
		any = true;
	}
	if (!any) {
		fmt_dur(a, sizeof(a), spec->lead_time);
		scale_say(why, why_size, "it has no point within the leadTime (%s)", a);
	}
	return any;
}

/*
 * Copies `src` into `dst` (`size` bytes), keeping its start and its end with
 * "..." between when it does not fit: a failure reads "metric M failed:
 * <where> ... <cause>", and the cause, at the end, must survive the cut
 * (a URL and a query in front of it used to push it out). Never splits a
 * UTF-8 sequence.
 */
static void fit_middle(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src), head, tail;

	if (size == 0)
		return;
	if (len < size) {
		memcpy(dst, src, len + 1);
		return;
	}
	if (size < 8) {
		head = size - 1;
		while (head > 0 && ((unsigned char)src[head] & 0xC0) == 0x80)
			head--;
		memcpy(dst, src, head);
		dst[head] = '\0';
		return;
	}
	head = (size - 4) / 3;
	tail = size - 4 - head;
	while (head > 0 && ((unsigned char)src[head] & 0xC0) == 0x80)
		head--;
	while (tail > 0 && ((unsigned char)src[len - tail] & 0xC0) == 0x80)
		tail--;
	memcpy(dst, src, head);
	memcpy(dst + head, "...", 3);
	memcpy(dst + head + 3, src + len - tail, tail);
	dst[head + 3 + tail] = '\0';
}

static void tally_failure(struct tally *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void tally_failure(struct tally *t, const char *fmt, ...)
{
	va_list ap;

	t->failed++;
	if (t->failed > 1)
		return;
	va_start(ap, fmt);
	vsnprintf(t->failure, sizeof(t->failure), fmt, ap);
	va_end(ap);
}

static void tally_metric(struct tally *t, const struct scale_spec *spec,
                         const struct scale_metric *m, int index, int current, double now)
{
	const struct scale_behavior *b = &spec->behavior;
	double obs = 0, peak = 0, at = 0, load, ratio;
	bool held = false, usable = false, capped = false;
	int reactive, forecast = 0, raw, proposal;
	char why[SCALE_REASON_MAX / 2], v[NUM_MAX], n[NUM_MAX], dur[NUM_MAX];

	/* The forecaster's state is reported even when the observation failed. */
	if (m->forecast) {
		t->fc_any = true;
		usable = forecast_usable(m->forecast, spec, now, &peak, &at, why, sizeof(why));
		if (!usable && t->fc_ready) {
			t->fc_ready = false;
			scale_say(t->fc_reason, sizeof(t->fc_reason),
			          "forecast for " NAME " left out: %s", m->name, why);
		}
	}
	switch (m->sample) {
	case SCALE_SAMPLE_OK:
		obs = m->observed;
		if (!isfinite(obs) || obs < 0) {
			fmt_num(v, sizeof(v), obs);
			tally_failure(t, "metric " NAME " returned an unusable value %s", m->name,
			              v);
			return;
		}
		break;
	case SCALE_SAMPLE_EMPTY:
		if (m->on_empty == SCALE_EMPTY_ERROR) {
			tally_failure(t, "metric " NAME " returned no data (onEmpty: Error)",
			              m->name);
			return;
		}
		held = m->on_empty == SCALE_EMPTY_HOLD;
		break;
	case SCALE_SAMPLE_ERROR:
		tally_failure(t, "metric " NAME " failed: %s", m->name,
		              m->error ? m->error : "query error");
		return;
	}

	t->good++;
	reactive = held ? current : replicas_for(obs, m->target_per_replica, &capped);
	if (usable) {
		forecast = replicas_for(peak, m->target_per_replica, &capped);
		t->fc_used = true;
	}
	raw = reactive > forecast ? reactive : forecast;
	proposal = raw;
	/* HPA tolerance, on the usage ratio; a held metric has no usage to measure. */
	if (!held && current > 0) {
		load = usable && peak > obs ? peak : obs;
		ratio = load / ((double)current * m->target_per_replica);

		if (1 - b->down.tolerance <= ratio && ratio <= 1 + b->up.tolerance) {
			proposal = current;
			if (raw != current && (!t->tolerated_name || raw > t->tolerated_raw)) {
				t->tolerated_name = m->name;
				t->tolerated_raw = raw;
				t->tolerated_ratio = ratio;
			}
		}
	}
	t->capped |= capped;
	if (reactive > t->reactive)
		t->reactive = reactive;
	if (forecast > t->forecast)
		t->forecast = forecast;
	if (t->good == 1 || proposal > t->proposal)
		t->proposal = proposal;
	if (t->good > 1 && raw <= t->raw)
		return;
	t->raw = raw;
	t->driver = index;
	fmt_num(n, sizeof(n), raw);
	if (forecast > reactive) {
		fmt_num(v, sizeof(v), peak);
		fmt_dur(dur, sizeof(dur), at - now);
		scale_say(t->driver_says, sizeof(t->driver_says),
		          "forecast %s " NAME " in %s needs %s replicas%s", v, m->name, dur, n,
		          capped ? " (capped)" : "");
	} else if (held) {
		scale_say(t->driver_says, sizeof(t->driver_says),
		          "metric " NAME
		          " returned no data, so it holds %s replicas (onEmpty: Hold)",
		          m->name, n);
	} else {
		fmt_num(v, sizeof(v), obs);
		scale_say(t->driver_says, sizeof(t->driver_says),
		          "observed %s " NAME " needs %s replicas%s", v, m->name, n,
		          capped ? " (capped)" : "");
	}
}

static void tally_metrics(struct tally *t, const struct scale_spec *spec,
                          const struct scale_metric *metrics, size_t n, int current, double now)
{
	memset(t, 0, sizeof(*t));
	t->driver = -1;
	t->fc_ready = true;
	for (size_t i = 0; i < n; i++)
		tally_metric(t, spec, &metrics[i], (int)i, current, now);
	if (!t->fc_any) {
		t->fc_ready = false;
		scale_say(t->fc_reason, sizeof(t->fc_reason),
		          "no metric has a forecast (model None)");
	} else if (t->fc_ready) {
		scale_say(t->fc_reason, sizeof(t->fc_reason),
		          "every forecast is ready and within maxError");
	}
}

/* ---- the decision ----------------------------------------------------- */

static void apply_mode(struct scale_decision *d)
{
	d->desired = d->proposed;
	d->limited_by = d->clamped_by;
	if (d->mode == SCALE_MODE_DRY_RUN) {
		d->desired = d->current;
		d->limited_by = SCALE_LIMIT_DRY_RUN;
	} else if (d->mode == SCALE_MODE_PAUSED) {
		d->desired = d->current;
		d->limited_by = SCALE_LIMIT_PAUSED;
	}
}

/* reason = basis; step (or the change when no step bit); then the mode. */
static void compose_reason(struct scale_decision *d)
{
	char mode[SCALE_REASON_MAX / 4] = "";

	if (d->mode == SCALE_MODE_DRY_RUN && d->proposed != d->current)
		scale_say(mode, sizeof(mode), "; dry run, would scale from %d to %d", d->current,
		          d->proposed);
	else if (d->mode == SCALE_MODE_DRY_RUN)
		scale_say(mode, sizeof(mode), "; dry run, would keep %d", d->current);
	else if (d->mode == SCALE_MODE_PAUSED && d->proposed != d->current)
		scale_say(mode, sizeof(mode), "; paused at %d (would scale to %d)", d->current,
		          d->proposed);
	else if (d->mode == SCALE_MODE_PAUSED)
		scale_say(mode, sizeof(mode), "; paused at %d", d->current);

	if (d->step[0])
		scale_say(d->reason, sizeof(d->reason), "%s; %s%s", d->basis, d->step, mode);
	else if (d->mode != SCALE_MODE_AUTO)
		scale_say(d->reason, sizeof(d->reason), "%s%s", d->basis, mode);
	else if (d->proposed != d->current)
		scale_say(d->reason, sizeof(d->reason), "%s; scaling from %d to %d", d->basis,
		          d->current, d->proposed);
	else
		scale_say(d->reason, sizeof(d->reason), "%s; keeping %d", d->basis, d->current);
}

/* The bounds clamp of the paths that skip behaviour. */
static void clamp_bounds(struct scale_decision *d, const struct scale_spec *spec, int target,
                         const char *what)
{
	d->proposed = target;
	if (target > spec->max_replicas) {
		d->proposed = spec->max_replicas;
		d->clamped_by = SCALE_LIMIT_MAX_REPLICAS;
		scale_say(d->step, sizeof(d->step), "%s %d, capped at maxReplicas %d", what, target,
		          spec->max_replicas);
	} else if (target < spec->min_replicas) {
		d->proposed = spec->min_replicas;
		d->clamped_by = SCALE_LIMIT_MIN_REPLICAS;
		scale_say(d->step, sizeof(d->step), "%s %d, raised to minReplicas %d", what, target,
		          spec->min_replicas);
	} else {
		scale_say(d->step, sizeof(d->step), "%s %d", what, target);
	}
}

static void decide_failure(struct scale_decision *d, const struct tally *t,
                           const struct scale_spec *spec, int current, bool partial)
{
	const struct scale_fallback *f = &spec->fallback;
	int target = current, room;
	const char *what = "holding";
	char count[SCALE_REASON_MAX / 2];

	if (d->failures >= f->failure_threshold) {
		d->fallback_active = true;
		if (f->action == SCALE_FALLBACK_REPLICAS) {
			target = f->replicas;
			what = "fallback to";
		} else {
			what = "fallback holds";
		}
		scale_say(count, sizeof(count), "%s (%d failure%s in a row)",
		          partial ? ", others would scale down" : "", d->failures,
		          d->failures == 1 ? "" : "s");
	} else {
		scale_say(count, sizeof(count), "%s (failure %d of %d before fallback)",
		          partial ? ", others would scale down" : "", d->failures,
		          f->failure_threshold);
	}
	/* A long error message is cut in the middle (its cause stays), never the count. */
	room = (int)(sizeof(d->basis) - strlen(count));
	fit_middle(d->basis, (size_t)room, t->failure);
	strcat(d->basis, count);
	d->recommended = target;
	clamp_bounds(d, spec, target, what);
}

static void decide_metrics(struct scale_decision *d, const struct tally *t,
                           const struct scale_history *h, const struct scale_spec *spec,
                           int current, double now)
{
	const struct scale_behavior *b = &spec->behavior;
	int v = t->raw, next;
	enum scale_limit limit;

	/* Only a metric kept by tolerance proposes other than its raw count. */
	if (t->proposal != v) {
		bool up = t->tolerated_ratio >= 1;

		d->clamped_by = SCALE_LIMIT_TOLERANCE;
		scale_say(d->step, sizeof(d->step),
		          NAME " usage ratio %.2f is within the scale-%s tolerance %g, keeping %d",
		          t->tolerated_name, t->tolerated_ratio, up ? "up" : "down",
		          up ? b->up.tolerance : b->down.tolerance, current);
		v = t->proposal;
	}
	next = scale_stabilize(h, b, current, v, now, d->step, sizeof(d->step));
	if (next != v) {
		d->clamped_by = SCALE_LIMIT_BEHAVIOR;
		v = next;
	}
	next = scale_rate_limit(h, b, spec->min_replicas, spec->max_replicas, current, v, now,
	                        &limit, d->step, sizeof(d->step));
	if (next != v) {
		d->clamped_by = limit;
		v = next;
	}
	d->proposed = v;
}

enum fs_rc scale_evaluate(struct scale_decision *d, struct scale_history *h,
                          const struct scale_spec *spec, const struct scale_metric *metrics,
                          size_t n_metrics, int current, double now, struct fs_err *err)
{
	struct scale_decision r;
	struct tally t;
	enum fs_rc rc;
	bool failed, partial, recorded = false;

	rc = scale_spec_validate(spec, err);
	if (rc != FS_OK)
		return rc;
	rc = check_metrics(metrics, n_metrics, err);
	if (rc != FS_OK)
		return rc;
	if (current < 0)
		return fs_fail(err, FS_EINVAL, "current replicas: must be >= 0, not %d", current);
	if (!isfinite(now))
		return fs_fail(err, FS_EINVAL, "evaluation time: must be a finite number");
	if (spec->mode != SCALE_MODE_PAUSED) {
		rc = scale_history_reserve(h, err);
		if (rc != FS_OK)
			return rc;
	}

	tally_metrics(&t, spec, metrics, n_metrics, current, now);
	/* The HPA's rule: every metric failed, or some did and the rest would scale down. */
	partial = t.good > 0 && t.failed > 0 && t.proposal < current;
	failed = t.good == 0 || partial;

	memset(&r, 0, sizeof(r));
	r.current = current;
	r.mode = spec->mode;
	r.reactive = t.reactive;
	r.forecast = t.forecast;
	r.recommended = t.raw;
	r.forecast_used = t.fc_used;
	r.forecast_ready = t.fc_ready;
	r.capped = t.capped;
	r.metrics_failed = failed;
	r.driver = failed ? -1 : t.driver;
	r.failures = failed ? (h->failures < INT_MAX ? h->failures + 1 : h->failures) : 0;
	scale_say(r.forecast_reason, sizeof(r.forecast_reason), "%s", t.fc_reason);
	if (failed)
		fit_middle(r.basis, sizeof(r.basis), t.failure);
	else
		scale_say(r.basis, sizeof(r.basis), "%s", t.driver_says);

	if (current == 0 && spec->min_replicas > 0) {
		/* As the HPA: someone scaled the target to 0 by hand. */
		r.proposed = 0;
		scale_say(r.step, sizeof(r.step),
		          "the target is scaled to 0, so autoscaling is off until it is scaled up");
	} else if (failed) {
		decide_failure(&r, &t, spec, current, partial);
	} else if (current > spec->max_replicas) {
		r.proposed = spec->max_replicas;
		r.clamped_by = SCALE_LIMIT_MAX_REPLICAS;
		scale_say(r.step, sizeof(r.step),
		          "current %d is above maxReplicas %d, scaling to %d", current,
		          spec->max_replicas, spec->max_replicas);
	} else if (current < spec->min_replicas) {
		r.proposed = spec->min_replicas;
		r.clamped_by = SCALE_LIMIT_MIN_REPLICAS;
		scale_say(r.step, sizeof(r.step),
		          "current %d is below minReplicas %d, scaling to %d", current,
		          spec->min_replicas, spec->min_replicas);
	} else {
		decide_metrics(&r, &t, h, spec, current, now);
		recorded = true;
	}
	apply_mode(&r);
	compose_reason(&r);
	if (spec->mode != SCALE_MODE_PAUSED)
		scale_history_commit(h, &spec->behavior, now, current,
		                     recorded ? &t.proposal : NULL, r.failures);
	*d = r;
	return FS_OK;
}

void scale_apply_budget(struct scale_decision *d, int allowed)
{
	int capped;

	if (d->proposed <= d->current || allowed >= d->proposed)
		return;
	capped = allowed > d->current ? allowed : d->current;
	d->proposed = capped;
	d->clamped_by = SCALE_LIMIT_BUDGET;
	scale_say(d->step, sizeof(d->step), "scale-up capped at %d by the concurrency budget",
	          capped);
	apply_mode(d);
	compose_reason(d);
}
