#include "controller/spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/duration.h"
#include "budget/budget.h"
#include "controller/leadtime.h"

#define PATH_MAX_LEN 96

static json_object *child(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return v;
}

static enum fs_rc want_object(json_object **out, json_object *obj, const char *key,
                              const char *path, bool required, struct fs_err *err)
{
	json_object *v = child(obj, key);

	*out = v;
	if (!v && required)
		return fs_fail(err, FS_EINVAL, "%s: required", path);
	if (v && !json_object_is_type(v, json_type_object))
		return fs_fail(err, FS_EINVAL, "%s: must be an object", path);
	return FS_OK;
}

/* A string field; *out is a copy (NULL when absent and not required). */
static enum fs_rc get_string(char **out, json_object *obj, const char *key, const char *path,
                             bool required, struct fs_err *err)
{
	json_object *v = child(obj, key);

	*out = NULL;
	if (!v) {
		if (required)
			return fs_fail(err, FS_EINVAL, "%s: required", path);
		return FS_OK;
	}
	if (!json_object_is_type(v, json_type_string))
		return fs_fail(err, FS_EINVAL, "%s: must be a string", path);
	if (required && json_object_get_string_len(v) == 0)
		return fs_fail(err, FS_EINVAL, "%s: must not be empty", path);
	*out = strdup(json_object_get_string(v));
	if (!*out)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	return FS_OK;
}

static enum fs_rc get_number(double *out, json_object *obj, const char *key, const char *path,
                             double dflt, double lo, double hi, bool lo_exclusive,
                             struct fs_err *err)
{
	json_object *v = child(obj, key);
	double x;

	if (!v) {
		*out = dflt;
		return FS_OK;
	}
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return fs_fail(err, FS_EINVAL, "%s: must be a number", path);
	x = json_object_get_double(v);
	if (!isfinite(x) || x < lo || (lo_exclusive && x == lo) || x > hi) {
		if (isinf(hi))
			return fs_fail(err, FS_EINVAL, "%s: must be %s %g, not %g", path,
			               lo_exclusive ? "above" : "at least", lo, x);
		return fs_fail(err, FS_EINVAL, "%s: must be between %g and %g, not %g", path, lo,
		               hi, x);
	}
	*out = x;
	return FS_OK;
}

static enum fs_rc get_int(int *out, json_object *obj, const char *key, const char *path, int dflt,
                          int lo, int hi, struct fs_err *err)
{
	json_object *v = child(obj, key);
	int64_t x;

	if (!v) {
		*out = dflt;
		return FS_OK;
	}
	if (!json_object_is_type(v, json_type_int))
		return fs_fail(err, FS_EINVAL, "%s: must be an integer", path);
	x = json_object_get_int64(v);
	if (x < lo || x > hi)
		return fs_fail(err, FS_EINVAL, "%s: must be %d..%d, not %lld", path, lo, hi,
		               (long long)x);
	*out = (int)x;
	return FS_OK;
}

static enum fs_rc get_bool(bool *out, json_object *obj, const char *key, const char *path,
                           bool dflt, struct fs_err *err)
{
	json_object *v = child(obj, key);

	if (!v) {
		*out = dflt;
		return FS_OK;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return fs_fail(err, FS_EINVAL, "%s: must be true or false", path);
	*out = json_object_get_boolean(v);
	return FS_OK;
}

/* One of `names`; *out is its index. */
static enum fs_rc get_enum(int *out, json_object *obj, const char *key, const char *path,
                           const char *const *names, int n, int dflt, struct fs_err *err)
{
	json_object *v = child(obj, key);
	const char *s;
	char allowed[160] = "";

	if (!v) {
		*out = dflt;
		return FS_OK;
	}
	s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	for (int i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return FS_OK;
		}
		if (strlen(allowed) + strlen(names[i]) + 3 < sizeof(allowed)) {
			if (i)
				strcat(allowed, ", ");
			strcat(allowed, names[i]);
		}
	}
	return fs_fail(err, FS_EINVAL, "%s: must be one of %s, not \"%.40s\"", path, allowed, s);
}

/*
 * A duration field ("30s", "7d"); `specials` may allow "auto" (returned as
 * -1) and "0". Absent: `dflt` parsed the same way.
 */
static enum fs_rc get_duration(double *out, json_object *obj, const char *key, const char *path,
                               const char *dflt, bool allow_auto, struct fs_err *err)
{
	json_object *v = child(obj, key);
	const char *s = dflt;
	struct fs_err why;

	if (v) {
		if (!json_object_is_type(v, json_type_string))
			return fs_fail(err, FS_EINVAL, "%s: must be a duration string like \"30s\"",
			               path);
		s = json_object_get_string(v);
	}
	if (allow_auto && strcmp(s, "auto") == 0) {
		*out = -1;
		return FS_OK;
	}
	if (dur_parse(out, s, &why) != FS_OK)
		return fs_fail(err, FS_EINVAL, "%s: %s", path, why.msg);
	return FS_OK;
}

static enum fs_rc get_secret_ref(struct ctrl_secret_ref *out, json_object *obj, const char *key,
                                 const char *path, struct fs_err *err)
{
	char p[PATH_MAX_LEN];
	json_object *ref;
	enum fs_rc rc = want_object(&ref, obj, key, path, false, err);

	if (rc != FS_OK || !ref)
		return rc;
	snprintf(p, sizeof(p), "%s.name", path);
	rc = get_string(&out->name, ref, "name", p, true, err);
	if (rc != FS_OK)
		return rc;
	snprintf(p, sizeof(p), "%s.key", path);
	return get_string(&out->key, ref, "key", p, true, err);
}

/*
 * The map of string to string (headers, labels) at obj's `key` into *kv_out,
 * allocated to its length (NULL when empty), at most `max` entries.
 */
static enum fs_rc get_string_map(struct ctrl_kv **kv_out, size_t *n, size_t max, json_object *obj,
                                 const char *key, const char *path, struct fs_err *err)
{
	json_object *map;
	struct ctrl_kv *kv;
	size_t len;
	enum fs_rc rc = want_object(&map, obj, key, path, false, err);

	*n = 0;
	if (rc != FS_OK || !map || (len = (size_t)json_object_object_length(map)) == 0)
		return rc;
	if (len > max)
		return fs_fail(err, FS_EINVAL, "%s: at most %zu entries", path, max);
	if (!(kv = *kv_out = calloc(len, sizeof(*kv))))
		return fs_fail(err, FS_ENOMEM, "out of memory");
	json_object_object_foreach(map, k, v)
	{
		if (!json_object_is_type(v, json_type_string))
			return fs_fail(err, FS_EINVAL, "%s.%s: must be a string", path, k);
		kv[*n].key = strdup(k);
		kv[*n].value = strdup(json_object_get_string(v));
		(*n)++;
		if (!kv[*n - 1].key || !kv[*n - 1].value)
			return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	return FS_OK;
}

static enum fs_rc parse_rules(struct scale_rules *r, json_object *rules, const char *path,
                              struct fs_err *err)
{
	static const char *const selects[] = {"Max", "Min", "Disabled"};
	static const char *const types[] = {"Pods", "Percent"};
	char p[PATH_MAX_LEN];
	json_object *list;
	int sel;
	enum fs_rc rc;

	if (!rules)
		return FS_OK;
	if (!json_object_is_type(rules, json_type_object))
		return fs_fail(err, FS_EINVAL, "%s: must be an object", path);
	snprintf(p, sizeof(p), "%s.stabilizationWindowSeconds", path);
	rc = get_int(&r->stabilization_window_seconds, rules, "stabilizationWindowSeconds", p,
	             r->stabilization_window_seconds, 0, SCALE_WINDOW_MAX, err);
	if (rc != FS_OK)
		return rc;
	snprintf(p, sizeof(p), "%s.selectPolicy", path);
	rc = get_enum(&sel, rules, "selectPolicy", p, selects, 3, (int)r->select, err);
	if (rc != FS_OK)
		return rc;
	r->select = (enum scale_select)sel;
	snprintf(p, sizeof(p), "%s.tolerance", path);
	rc = get_number(&r->tolerance, rules, "tolerance", p, r->tolerance, 0, 1, false, err);
	if (rc != FS_OK)
		return rc;
	list = child(rules, "policies");
	if (!list)
		return FS_OK;
	snprintf(p, sizeof(p), "%s.policies", path);
	if (!json_object_is_type(list, json_type_array))
		return fs_fail(err, FS_EINVAL, "%s: must be a list", p);
	if (json_object_array_length(list) == 0 ||
	    json_object_array_length(list) > SCALE_POLICIES_MAX)
		return fs_fail(err, FS_EINVAL, "%s: must have 1 to %d policies", p,
		               SCALE_POLICIES_MAX);
	/* A user's list replaces the default list whole, as in the HPA. */
	r->n_policies = (int)json_object_array_length(list);
	for (int i = 0; i < r->n_policies; i++) {
		json_object *pol = json_object_array_get_idx(list, (size_t)i);
		int type;

		snprintf(p, sizeof(p), "%s.policies[%d].type", path, i);
		if (!child(pol, "type"))
			return fs_fail(err, FS_EINVAL, "%s: required", p);
		rc = get_enum(&type, pol, "type", p, types, 2, 0, err);
		if (rc != FS_OK)
			return rc;
		r->policies[i].type = (enum scale_policy_type)type;
		snprintf(p, sizeof(p), "%s.policies[%d].value", path, i);
		rc = get_int(&r->policies[i].value, pol, "value", p, 0, 1, SCALE_REPLICAS_MAX, err);
		if (rc == FS_OK && !child(pol, "value"))
			rc = fs_fail(err, FS_EINVAL, "%s: required", p);
		if (rc != FS_OK)
			return rc;
		snprintf(p, sizeof(p), "%s.policies[%d].periodSeconds", path, i);
		rc = get_int(&r->policies[i].period_seconds, pol, "periodSeconds", p, 0, 1,
		             SCALE_PERIOD_MAX, err);
		if (rc == FS_OK && !child(pol, "periodSeconds"))
			rc = fs_fail(err, FS_EINVAL, "%s: required", p);
		if (rc != FS_OK)
			return rc;
	}
	return FS_OK;
}

static enum fs_rc parse_metrics(struct ctrl_spec *s, json_object *spec, struct fs_err *err)
{
	static const char *const on_empty[] = {"Hold", "Zero", "Error"};
	json_object *list = child(spec, "metrics");
	char p[PATH_MAX_LEN];
	size_t n;
	enum fs_rc rc;

	if (!list)
		return fs_fail(err, FS_EINVAL, "spec.metrics: required");
	if (!json_object_is_type(list, json_type_array))
		return fs_fail(err, FS_EINVAL, "spec.metrics: must be a list");
	n = json_object_array_length(list);
	if (n == 0 || n > CTRL_METRICS_MAX)
		return fs_fail(err, FS_EINVAL, "spec.metrics: must have 1 to %d metrics",
		               CTRL_METRICS_MAX);
	if (!(s->metrics = calloc(n, sizeof(*s->metrics))))
		return fs_fail(err, FS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(list, i);
		struct ctrl_metric_spec *ms = &s->metrics[i];
		int oe;

		s->n_metrics = i + 1;
		snprintf(p, sizeof(p), "spec.metrics[%zu]", i);
		if (!json_object_is_type(m, json_type_object))
			return fs_fail(err, FS_EINVAL, "%s: must be an object", p);
		snprintf(p, sizeof(p), "spec.metrics[%zu].name", i);
		rc = get_string(&ms->name, m, "name", p, true, err);
		if (rc != FS_OK)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(s->metrics[j].name, ms->name) == 0)
				return fs_fail(err, FS_EINVAL,
				               "%s: \"%s\" is also the name of spec.metrics[%zu]",
				               p, ms->name, j);
		}
		snprintf(p, sizeof(p), "spec.metrics[%zu].query", i);
		rc = get_string(&ms->query, m, "query", p, true, err);
		if (rc != FS_OK)
			return rc;
		snprintf(p, sizeof(p), "spec.metrics[%zu].targetPerReplica", i);
		if (!child(m, "targetPerReplica"))
			return fs_fail(err, FS_EINVAL, "%s: required", p);
		rc = get_number(&ms->target_per_replica, m, "targetPerReplica", p, 0, 0, INFINITY,
		                true, err);
		if (rc != FS_OK)
			return rc;
		snprintf(p, sizeof(p), "spec.metrics[%zu].onEmpty", i);
		rc = get_enum(&oe, m, "onEmpty", p, on_empty, 3, 0, err);
		if (rc != FS_OK)
			return rc;
		ms->on_empty = (enum scale_on_empty)oe;
	}
	return FS_OK;
}

static enum fs_rc parse_prometheus(struct ctrl_spec *s, json_object *spec, struct fs_err *err)
{
	json_object *prom, *basic, *tls;
	enum fs_rc rc = want_object(&prom, spec, "prometheus", "spec.prometheus", false, err);

	if (rc != FS_OK || !prom)
		return rc;
	rc = get_string(&s->prom_url, prom, "url", "spec.prometheus.url", false, err);
	if (rc != FS_OK)
		return rc;
	if (s->prom_url && strncmp(s->prom_url, "http://", 7) != 0 &&
	    strncmp(s->prom_url, "https://", 8) != 0)
		return fs_fail(err, FS_EINVAL,
		               "spec.prometheus.url: must start with http:// or https://");
	rc = get_secret_ref(&s->prom_bearer, prom, "bearerTokenSecretRef",
	                    "spec.prometheus.bearerTokenSecretRef", err);
	if (rc != FS_OK)
		return rc;
	rc = want_object(&basic, prom, "basicAuth", "spec.prometheus.basicAuth", false, err);
	if (rc == FS_OK && basic) {
		rc = get_secret_ref(&s->prom_user, basic, "username",
		                    "spec.prometheus.basicAuth.username", err);
		if (rc == FS_OK)
			rc = get_secret_ref(&s->prom_password, basic, "password",
			                    "spec.prometheus.basicAuth.password", err);
		if (rc == FS_OK && (!s->prom_user.name || !s->prom_password.name))
			rc = fs_fail(err, FS_EINVAL,
			             "spec.prometheus.basicAuth: needs both username and password");
	}
	if (rc != FS_OK)
		return rc;
	rc = want_object(&tls, prom, "tls", "spec.prometheus.tls", false, err);
	if (rc == FS_OK && tls) {
		rc = get_secret_ref(&s->prom_ca, tls, "caSecretRef",
		                    "spec.prometheus.tls.caSecretRef", err);
		if (rc == FS_OK)
			rc = get_bool(&s->prom_insecure, tls, "insecureSkipVerify",
			              "spec.prometheus.tls.insecureSkipVerify", false, err);
	}
	if (rc != FS_OK)
		return rc;
	return get_string_map(&s->prom_headers, &s->n_prom_headers, CTRL_HEADERS_MAX, prom,
	                      "headers", "spec.prometheus.headers", err);
}

static enum fs_rc parse_forecast(struct ctrl_spec *s, json_object *spec, struct fs_err *err)
{
	static const char *const models[] = {"Auto", "HoltWinters", "LinearTrend", "SeasonalNaive",
	                                     "None"};
	static const enum fc_model model_of[] = {FC_AUTO, FC_HW_ADD, FC_LINEAR, FC_SEASONAL_NAIVE,
	                                         FC_NONE};
	json_object *fc;
	double lead;
	int model;
	enum fs_rc rc = want_object(&fc, spec, "forecast", "spec.forecast", false, err);

	if (rc == FS_OK)
		rc = get_enum(&model, fc, "model", "spec.forecast.model", models, 5, 0, err);
	if (rc != FS_OK)
		return rc;
	s->model = model_of[model];
	rc = get_duration(&s->history, fc, "history", "spec.forecast.history", "7d", false, err);
	if (rc == FS_OK)
		rc = get_duration(&s->step, fc, "step", "spec.forecast.step", "1m", false, err);
	if (rc == FS_OK)
		rc = get_duration(&s->season, fc, "season", "spec.forecast.season", "auto", true,
		                  err);
	if (rc == FS_OK)
		rc = get_duration(&lead, fc, "leadTime", "spec.forecast.leadTime", "3m", true, err);
	if (rc == FS_OK)
		rc = get_number(&s->quantile, fc, "quantile", "spec.forecast.quantile", 0.9, 0.5,
		                0.999, false, err);
	if (rc == FS_OK)
		rc = get_number(&s->scale.max_error, fc, "maxError", "spec.forecast.maxError", 0.3,
		                0, INFINITY, false, err);
	if (rc != FS_OK)
		return rc;
	if (s->step < 1)
		return fs_fail(err, FS_EINVAL, "spec.forecast.step: must be at least 1s");
	if (s->history < 10 * s->step)
		return fs_fail(
		    err, FS_EINVAL,
		    "spec.forecast.history: must cover at least 10 steps of spec.forecast.step");
	if (s->history / s->step > 1e6)
		return fs_fail(
		    err, FS_EINVAL,
		    "spec.forecast.history: more than 1,000,000 steps of spec.forecast.step");
	if (s->season > 0 && s->season * 2 > s->history)
		return fs_fail(
		    err, FS_EINVAL,
		    "spec.forecast.season: the history must hold two seasons (history %gs, "
		    "season %gs)",
		    s->history, s->season);
	if (s->season > 0 && s->season < 2 * s->step)
		return fs_fail(err, FS_EINVAL,
		               "spec.forecast.season: must be at least two steps long");
	s->lead_time_auto = lead < 0;
	s->scale.lead_time = s->lead_time_auto ? LEAD_DEFAULT_S : lead;
	return FS_OK;
}

static enum fs_rc parse_spec(struct ctrl_spec *s, json_object *obj, struct fs_err *err)
{
	static const char *const modes[] = {"Auto", "DryRun", "Paused"};
	static const char *const actions[] = {"Hold", "Replicas"};
	json_object *meta, *spec, *target, *behavior, *fallback, *budget, *alerts, *v;
	int mode, action;
	enum fs_rc rc;

	rc = want_object(&meta, obj, "metadata", "metadata", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->namespace, meta, "namespace", "metadata.namespace", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->name, meta, "name", "metadata.name", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->uid, meta, "uid", "metadata.uid", false, err);
	if (rc != FS_OK)
		return rc;
	v = child(meta, "generation");
	s->generation = v ? json_object_get_int64(v) : 0;

	rc = want_object(&spec, obj, "spec", "spec", true, err);
	if (rc == FS_OK)
		rc = want_object(&target, spec, "targetRef", "spec.targetRef", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->target_kind, target, "kind", "spec.targetRef.kind", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->target_name, target, "name", "spec.targetRef.name", true, err);
	if (rc == FS_OK)
		rc = get_string(&s->target_api_version, target, "apiVersion",
		                "spec.targetRef.apiVersion", false, err);
	if (rc == FS_OK && !s->target_api_version && !(s->target_api_version = strdup("apps/v1")))
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
	if (rc != FS_OK)
		return rc;

	if (!child(spec, "maxReplicas"))
		return fs_fail(err, FS_EINVAL, "spec.maxReplicas: required");
	rc = get_int(&s->scale.max_replicas, spec, "maxReplicas", "spec.maxReplicas", 0, 1,
	             SCALE_REPLICAS_MAX, err);
	if (rc == FS_OK)
		rc = get_int(&s->scale.min_replicas, spec, "minReplicas", "spec.minReplicas", 1, 0,
		             SCALE_REPLICAS_MAX, err);
	if (rc != FS_OK)
		return rc;
	if (s->scale.min_replicas > s->scale.max_replicas)
		return fs_fail(err, FS_EINVAL,
		               "spec.minReplicas: must not exceed spec.maxReplicas (%d > %d)",
		               s->scale.min_replicas, s->scale.max_replicas);
	rc = get_enum(&mode, spec, "mode", "spec.mode", modes, 3, 0, err);
	if (rc == FS_OK)
		rc = get_duration(&s->interval, spec, "interval", "spec.interval", "30s", false,
		                  err);
	if (rc != FS_OK)
		return rc;
	s->scale.mode = (enum scale_mode)mode;
	if (s->interval < 1)
		return fs_fail(err, FS_EINVAL, "spec.interval: must be at least 1s");

	rc = parse_prometheus(s, spec, err);
	if (rc == FS_OK)
		rc = parse_metrics(s, spec, err);
	if (rc == FS_OK)
		rc = parse_forecast(s, spec, err);
	if (rc != FS_OK)
		return rc;

	scale_behavior_defaults(&s->scale.behavior);
	rc = want_object(&behavior, spec, "behavior", "spec.behavior", false, err);
	if (rc == FS_OK)
		rc = parse_rules(&s->scale.behavior.up, child(behavior, "scaleUp"),
		                 "spec.behavior.scaleUp", err);
	if (rc == FS_OK)
		rc = parse_rules(&s->scale.behavior.down, child(behavior, "scaleDown"),
		                 "spec.behavior.scaleDown", err);
	if (rc != FS_OK)
		return rc;

	rc = want_object(&fallback, spec, "fallback", "spec.fallback", false, err);
	if (rc == FS_OK)
		rc = get_int(&s->scale.fallback.failure_threshold, fallback, "failureThreshold",
		             "spec.fallback.failureThreshold", 3, 1, 1000000, err);
	if (rc == FS_OK)
		rc = get_enum(&action, fallback, "action", "spec.fallback.action", actions, 2, 0,
		              err);
	if (rc != FS_OK)
		return rc;
	s->scale.fallback.action = (enum scale_fallback_action)action;
	rc = get_int(&s->scale.fallback.replicas, fallback, "replicas", "spec.fallback.replicas",
	             -1, 0, SCALE_REPLICAS_MAX, err);
	if (rc != FS_OK)
		return rc;
	if (s->scale.fallback.action == SCALE_FALLBACK_REPLICAS && s->scale.fallback.replicas < 0)
		return fs_fail(err, FS_EINVAL,
		               "spec.fallback.replicas: required with action Replicas");
	if (s->scale.fallback.replicas < 0)
		s->scale.fallback.replicas = 0;

	rc = want_object(&budget, spec, "budget", "spec.budget", false, err);
	if (rc == FS_OK && budget) {
		rc = get_string(&s->budget_name, budget, "name", "spec.budget.name", true, err);
		if (rc == FS_OK && !child(budget, "unitsPerReplica"))
			rc = fs_fail(err, FS_EINVAL, "spec.budget.unitsPerReplica: required");
		if (rc == FS_OK)
			rc = get_number(&s->budget_units_per_replica, budget, "unitsPerReplica",
			                "spec.budget.unitsPerReplica", 0,
			                BUDGET_UNITS_PER_REPLICA_MIN, BUDGET_UNITS_PER_REPLICA_MAX,
			                false, err);
		if (rc == FS_OK)
			rc = get_number(&s->budget_weight, budget, "weight", "spec.budget.weight",
			                1, BUDGET_WEIGHT_MIN, BUDGET_WEIGHT_MAX, false, err);
	}
	if (rc != FS_OK)
		return rc;

	rc = want_object(&alerts, spec, "alerts", "spec.alerts", false, err);
	if (rc == FS_OK)
		rc = get_bool(&s->alerts_enabled, alerts, "enabled", "spec.alerts.enabled", true,
		              err);
	if (rc == FS_OK)
		rc = get_string_map(&s->alert_labels, &s->n_alert_labels, CTRL_LABELS_MAX, alerts,
		                    "labels", "spec.alerts.labels", err);
	if (rc == FS_OK)
		rc = get_duration(&s->alerts_maxed_out_for, alerts, "maxedOutFor",
		                  "spec.alerts.maxedOutFor", "15m", false, err);
	if (rc != FS_OK)
		return rc;
	/* The replica math's own checks (behaviour bounds, fallback) name their fields too. */
	rc = scale_spec_validate(&s->scale, err);
	if (rc != FS_OK && err && strncmp(err->msg, "spec.", 5) != 0)
		fs_wrap(err, rc, "spec");
	return rc;
}

enum fs_rc ctrl_spec_parse(struct ctrl_spec *out, json_object *obj, struct fs_err *err)
{
	struct ctrl_spec s;
	enum fs_rc rc;

	memset(&s, 0, sizeof(s));
	rc = parse_spec(&s, obj, err);
	if (rc != FS_OK) {
		ctrl_spec_release(&s);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	*out = s;
	return FS_OK;
}

static void secret_ref_release(struct ctrl_secret_ref *r)
{
	free(r->name);
	free(r->key);
}

void ctrl_spec_release(struct ctrl_spec *s)
{
	free(s->namespace);
	free(s->name);
	free(s->uid);
	free(s->target_api_version);
	free(s->target_kind);
	free(s->target_name);
	free(s->prom_url);
	secret_ref_release(&s->prom_bearer);
	secret_ref_release(&s->prom_user);
	secret_ref_release(&s->prom_password);
	secret_ref_release(&s->prom_ca);
	for (size_t i = 0; i < s->n_prom_headers; i++) {
		free(s->prom_headers[i].key);
		free(s->prom_headers[i].value);
	}
	free(s->prom_headers);
	for (size_t i = 0; i < s->n_metrics; i++) {
		free(s->metrics[i].name);
		free(s->metrics[i].query);
	}
	free(s->metrics);
	free(s->budget_name);
	for (size_t i = 0; i < s->n_alert_labels; i++) {
		free(s->alert_labels[i].key);
		free(s->alert_labels[i].value);
	}
	free(s->alert_labels);
	memset(s, 0, sizeof(*s));
}

static enum fs_rc parse_budget(struct ctrl_budget_spec *b, json_object *obj, struct fs_err *err)
{
	json_object *meta, *spec, *prom, *v;
	enum fs_rc rc;

	rc = want_object(&meta, obj, "metadata", "metadata", true, err);
	if (rc == FS_OK)
		rc = get_string(&b->namespace, meta, "namespace", "metadata.namespace", true, err);
	if (rc == FS_OK)
		rc = get_string(&b->name, meta, "name", "metadata.name", true, err);
	if (rc == FS_OK)
		rc = get_string(&b->uid, meta, "uid", "metadata.uid", false, err);
	if (rc != FS_OK)
		return rc;
	v = child(meta, "generation");
	b->generation = v ? json_object_get_int64(v) : 0;
	rc = want_object(&spec, obj, "spec", "spec", true, err);
	if (rc == FS_OK && !child(spec, "capacity"))
		rc = fs_fail(err, FS_EINVAL, "spec.capacity: required");
	if (rc == FS_OK)
		rc = get_number(&b->capacity, spec, "capacity", "spec.capacity", 0, 0,
		                BUDGET_CAPACITY_MAX, false, err);
	if (rc == FS_OK)
		rc = get_int(&b->max_concurrent_scale_ups, spec, "maxConcurrentScaleUps",
		             "spec.maxConcurrentScaleUps", 0, 0, 1000000, err);
	if (rc == FS_OK)
		rc = get_string(&b->saturation_query, spec, "saturationQuery",
		                "spec.saturationQuery", false, err);
	if (rc == FS_OK && b->saturation_query && !b->saturation_query[0])
		rc = fs_fail(err, FS_EINVAL, "spec.saturationQuery: must not be empty");
	if (rc == FS_OK)
		rc = want_object(&prom, spec, "prometheus", "spec.prometheus", false, err);
	if (rc == FS_OK && prom)
		rc = get_string(&b->prom_url, prom, "url", "spec.prometheus.url", false, err);
	if (rc == FS_OK && b->prom_url && strncmp(b->prom_url, "http://", 7) != 0 &&
	    strncmp(b->prom_url, "https://", 8) != 0)
		rc = fs_fail(err, FS_EINVAL,
		             "spec.prometheus.url: must start with http:// or https://");
	return rc;
}

enum fs_rc ctrl_budget_spec_parse(struct ctrl_budget_spec *out, json_object *obj,
                                  struct fs_err *err)
{
	struct ctrl_budget_spec b;
	enum fs_rc rc;

	memset(&b, 0, sizeof(b));
	rc = parse_budget(&b, obj, err);
	if (rc != FS_OK) {
		ctrl_budget_spec_release(&b);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	*out = b;
	return FS_OK;
}

void ctrl_budget_spec_release(struct ctrl_budget_spec *b)
{
	free(b->namespace);
	free(b->name);
	free(b->uid);
	free(b->saturation_query);
	free(b->prom_url);
	memset(b, 0, sizeof(*b));
}
