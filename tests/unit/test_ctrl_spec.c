/* Unit tests of ForecastScaler spec parsing (operator/controller/spec). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "controller/leadtime.h"
#include "controller/spec.h"

static const char *full =
    "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web\",\"uid\":\"u-1\",\"generation\":4},"
    "\"spec\":{\"targetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":\"web\"},"
    "\"minReplicas\":2,\"maxReplicas\":50,\"mode\":\"DryRun\",\"interval\":\"15s\","
    "\"prometheus\":{\"url\":\"http://"
    "prom:9090\",\"bearerTokenSecretRef\":{\"name\":\"t\",\"key\":\"k\"},"
    "\"headers\":{\"X-Scope-OrgID\":\"team-a\"}},"
    "\"metrics\":[{\"name\":\"rps\",\"query\":\"sum(rate(x[2m]))\",\"targetPerReplica\":100},"
    "{\"name\":\"queue\",\"query\":\"q\",\"targetPerReplica\":2.5,\"onEmpty\":\"Zero\"}],"
    "\"forecast\":{\"model\":\"HoltWinters\",\"history\":\"7d\",\"step\":\"1m\",\"season\":\"1d\","
    "\"leadTime\":\"3m\",\"quantile\":0.95,\"maxError\":0.25},"
    "\"behavior\":{\"scaleUp\":{\"stabilizationWindowSeconds\":30,\"selectPolicy\":\"Min\","
    "\"policies\":[{\"type\":\"Pods\",\"value\":2,\"periodSeconds\":60}]},"
    "\"scaleDown\":{\"tolerance\":0.2}},"
    "\"fallback\":{\"failureThreshold\":5,\"action\":\"Replicas\",\"replicas\":10},"
    "\"budget\":{\"name\":\"orders-db\",\"unitsPerReplica\":20},"
    "\"alerts\":{\"labels\":{\"release\":\"prometheus\"},\"maxedOutFor\":\"10m\"}}}";

static void parses_every_field(void **state)
{
	json_object *obj = json_tokener_parse(full);
	struct ctrl_spec s;
	struct fs_err err;

	(void)state;
	if (ctrl_spec_parse(&s, obj, &err) != FS_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(s.namespace, "shop");
	assert_string_equal(s.name, "web");
	assert_int_equal(s.generation, 4);
	assert_string_equal(s.target_kind, "Deployment");
	assert_int_equal(s.scale.min_replicas, 2);
	assert_int_equal(s.scale.max_replicas, 50);
	assert_int_equal(s.scale.mode, SCALE_MODE_DRY_RUN);
	assert_float_equal(s.interval, 15, 0);
	assert_string_equal(s.prom_url, "http://prom:9090");
	assert_string_equal(s.prom_bearer.name, "t");
	assert_int_equal(s.n_prom_headers, 1);
	assert_string_equal(s.prom_headers[0].value, "team-a");
	assert_int_equal(s.n_metrics, 2);
	assert_float_equal(s.metrics[1].target_per_replica, 2.5, 0);
	assert_int_equal(s.metrics[1].on_empty, SCALE_EMPTY_ZERO);
	assert_int_equal(s.metrics[0].on_empty, SCALE_EMPTY_HOLD);
	assert_int_equal(s.model, FC_HW_ADD);
	assert_float_equal(s.history, 7 * 86400, 0);
	assert_float_equal(s.season, 86400, 0);
	assert_float_equal(s.scale.lead_time, 180, 0);
	assert_false(s.lead_time_auto);
	assert_float_equal(s.quantile, 0.95, 0);
	assert_float_equal(s.scale.max_error, 0.25, 0);
	assert_int_equal(s.scale.behavior.up.stabilization_window_seconds, 30);
	assert_int_equal(s.scale.behavior.up.select, SCALE_SELECT_MIN);
	assert_int_equal(s.scale.behavior.up.n_policies, 1);
	assert_int_equal(s.scale.behavior.up.policies[0].period_seconds, 60);
	/* Unset parts keep the HPA defaults. */
	assert_int_equal(s.scale.behavior.down.stabilization_window_seconds, 300);
	assert_float_equal(s.scale.behavior.down.tolerance, 0.2, 0);
	assert_int_equal(s.scale.fallback.action, SCALE_FALLBACK_REPLICAS);
	assert_int_equal(s.scale.fallback.replicas, 10);
	assert_string_equal(s.budget_name, "orders-db");
	assert_float_equal(s.budget_weight, 1, 0);
	assert_true(s.alerts_enabled);
	assert_float_equal(s.alerts_maxed_out_for, 600, 0);
	ctrl_spec_release(&s);
	json_object_put(obj);
}

static void minimal_spec_gets_defaults(void **state)
{
	json_object *obj = json_tokener_parse(
	    "{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"targetRef\":{\"kind\":"
	    "\"StatefulSet\",\"name\":\"db\"},\"maxReplicas\":3,\"metrics\":[{\"name\":\"m\","
	    "\"query\":\"up\",\"targetPerReplica\":1}]}}");
	struct ctrl_spec s;

	(void)state;
	assert_int_equal(ctrl_spec_parse(&s, obj, NULL), FS_OK);
	assert_string_equal(s.target_api_version, "apps/v1");
	assert_int_equal(s.scale.min_replicas, 1);
	assert_int_equal(s.scale.mode, SCALE_MODE_AUTO);
	assert_float_equal(s.interval, 30, 0);
	assert_int_equal(s.model, FC_AUTO);
	assert_true(s.season < 0);
	assert_float_equal(s.quantile, 0.9, 0);
	assert_null(s.budget_name);
	assert_null(s.prom_url);
	assert_int_equal(s.scale.fallback.action, SCALE_FALLBACK_HOLD);
	assert_int_equal(s.scale.fallback.failure_threshold, 3);
	assert_int_equal(s.scale.behavior.up.n_policies, 2);
	ctrl_spec_release(&s);
	json_object_put(obj);
}

/* Replaces the first `from` in the full spec by `to` and expects `want` in the error. */
static void expect_invalid(const char *from, const char *to, const char *want)
{
	char text[4096];
	const char *at = strstr(full, from);
	json_object *obj;
	struct ctrl_spec s;
	struct fs_err err;

	assert_non_null(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - full), full, to, at + strlen(from));
	obj = json_tokener_parse(text);
	assert_non_null(obj);
	assert_int_equal(ctrl_spec_parse(&s, obj, &err), FS_EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
	assert_null(s.name);
	json_object_put(obj);
}

static void invalid_fields_are_named(void **state)
{
	(void)state;
	expect_invalid("\"minReplicas\":2", "\"minReplicas\":60",
	               "spec.minReplicas: must not exceed spec.maxReplicas (60 > 50)");
	expect_invalid("\"mode\":\"DryRun\"", "\"mode\":\"Bogus\"",
	               "spec.mode: must be one of Auto, DryRun, Paused");
	expect_invalid("\"interval\":\"15s\"", "\"interval\":\"15 seconds\"",
	               "spec.interval: invalid duration");
	expect_invalid("{\"name\":\"queue\"", "{\"name\":\"rps\"",
	               "spec.metrics[1].name: \"rps\" is also the name of spec.metrics[0]");
	expect_invalid("\"query\":\"q\"", "\"query\":\"\"",
	               "spec.metrics[1].query: must not be empty");
	expect_invalid("\"targetPerReplica\":2.5", "\"targetPerReplica\":0",
	               "spec.metrics[1].targetPerReplica: must be above 0");
	expect_invalid("\"onEmpty\":\"Zero\"", "\"onEmpty\":\"Ignore\"",
	               "spec.metrics[1].onEmpty: must be one of Hold, Zero, Error");
	expect_invalid("\"season\":\"1d\"", "\"season\":\"5d\"",
	               "spec.forecast.season: the history must hold two seasons");
	expect_invalid("\"leadTime\":\"3m\"", "\"leadTime\":\"soon\"",
	               "spec.forecast.leadTime: invalid duration");
	expect_invalid("\"quantile\":0.95", "\"quantile\":1.5",
	               "spec.forecast.quantile: must be between 0.5 and 0.999");
	expect_invalid("\"periodSeconds\":60", "\"periodSeconds\":0",
	               "spec.behavior.scaleUp.policies[0].periodSeconds: must be 1..1800");
	expect_invalid("\"type\":\"Pods\"", "\"type\":\"Nodes\"",
	               "spec.behavior.scaleUp.policies[0].type: must be one of Pods, Percent");
	expect_invalid("\"action\":\"Replicas\",\"replicas\":10", "\"action\":\"Replicas\"",
	               "spec.fallback.replicas: required with action Replicas");
	expect_invalid("\"unitsPerReplica\":20", "\"weight\":2",
	               "spec.budget.unitsPerReplica: required");
	expect_invalid("\"url\":\"http://prom:9090\"", "\"url\":\"prom:9090\"",
	               "spec.prometheus.url: must start with http://");
	expect_invalid("\"targetRef\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",",
	               "\"targetRef\":{\"apiVersion\":\"apps/v1\",",
	               "spec.targetRef.kind: required");
	expect_invalid("\"maxReplicas\":50", "\"maxReplicas\":\"many\"",
	               "spec.maxReplicas: must be an integer");
	expect_invalid("\"X-Scope-OrgID\":\"team-a\"", "\"X-Scope-OrgID\":7",
	               "spec.prometheus.headers.X-Scope-OrgID: must be a string");
}

/* A spec with that many metrics, Prometheus headers and alert labels, parsed. */
static enum fs_rc parse_with_lists(struct ctrl_spec *s, struct fs_err *err, size_t metrics,
                                   size_t headers, size_t labels)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_object *obj;
	enum fs_rc rc;

	assert_non_null(f);
	fputs("{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"targetRef\":"
	      "{\"kind\":\"Deployment\",\"name\":\"web\"},\"maxReplicas\":3,\"metrics\":[",
	      f);
	for (size_t i = 0; i < metrics; i++)
		fprintf(f, "%s{\"name\":\"m%zu\",\"query\":\"up\",\"targetPerReplica\":1}",
		        i ? "," : "", i);
	fputs("],\"prometheus\":{\"headers\":{", f);
	for (size_t i = 0; i < headers; i++)
		fprintf(f, "%s\"X-H%zu\":\"v%zu\"", i ? "," : "", i, i);
	fputs("}},\"alerts\":{\"labels\":{", f);
	for (size_t i = 0; i < labels; i++)
		fprintf(f, "%s\"l%zu\":\"v%zu\"", i ? "," : "", i, i);
	fputs("}}}}", f);
	fclose(f);
	obj = json_tokener_parse(text);
	free(text);
	assert_non_null(obj);
	rc = ctrl_spec_parse(s, obj, err);
	json_object_put(obj);
	return rc;
}

/* The lists are allocated to their length; their caps still hold. */
static void lists_hold_up_to_their_caps(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;

	(void)state;
	if (parse_with_lists(&s, &err, CTRL_METRICS_MAX, CTRL_HEADERS_MAX, CTRL_LABELS_MAX) !=
	    FS_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(s.n_metrics, CTRL_METRICS_MAX);
	assert_int_equal(s.n_prom_headers, CTRL_HEADERS_MAX);
	assert_int_equal(s.n_alert_labels, CTRL_LABELS_MAX);
	assert_string_equal(s.metrics[CTRL_METRICS_MAX - 1].name, "m9");
	assert_string_equal(s.prom_headers[CTRL_HEADERS_MAX - 1].value, "v15");
	assert_string_equal(s.alert_labels[CTRL_LABELS_MAX - 1].key, "l31");
	ctrl_spec_release(&s);
	assert_null(s.metrics);

	if (parse_with_lists(&s, &err, 1, 0, 0) != FS_OK)
		fail_msg("%s", err.msg);
	assert_null(s.prom_headers);
	assert_null(s.alert_labels);
	ctrl_spec_release(&s);

	assert_int_equal(parse_with_lists(&s, &err, CTRL_METRICS_MAX + 1, 0, 0), FS_EINVAL);
	assert_string_equal(err.msg, "spec.metrics: must have 1 to 10 metrics");
	assert_int_equal(parse_with_lists(&s, &err, 1, CTRL_HEADERS_MAX + 1, 0), FS_EINVAL);
	assert_string_equal(err.msg, "spec.prometheus.headers: at most 16 entries");
	assert_int_equal(parse_with_lists(&s, &err, 1, 0, CTRL_LABELS_MAX + 1), FS_EINVAL);
	assert_string_equal(err.msg, "spec.alerts.labels: at most 32 entries");
	assert_null(s.metrics);
}

/* leadTime auto is learned by the controller; the parser starts it at the default. */
static void lead_time_auto_parses(void **state)
{
	json_object *obj = json_tokener_parse(
	    "{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":{\"targetRef\":{\"kind\":"
	    "\"Deployment\",\"name\":\"web\"},\"maxReplicas\":3,\"metrics\":[{\"name\":\"m\","
	    "\"query\":\"up\",\"targetPerReplica\":1}],\"forecast\":{\"leadTime\":\"auto\"}}}");
	struct ctrl_spec s;
	struct fs_err err;

	(void)state;
	if (ctrl_spec_parse(&s, obj, &err) != FS_OK)
		fail_msg("%s", err.msg);
	assert_true(s.lead_time_auto);
	assert_float_equal(s.scale.lead_time, LEAD_DEFAULT_S, 0);
	ctrl_spec_release(&s);
	json_object_put(obj);
}

static void budget_spec_parses(void **state)
{
	json_object *obj = json_tokener_parse(
	    "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"orders-db\",\"uid\":\"u-2\","
	    "\"generation\":3},\"spec\":{\"capacity\":500,\"maxConcurrentScaleUps\":2,"
	    "\"saturationQuery\":\"pg_up < 1\",\"prometheus\":{\"url\":\"http://prom:9090\"}}}");
	struct ctrl_budget_spec b;
	struct fs_err err;

	(void)state;
	if (ctrl_budget_spec_parse(&b, obj, &err) != FS_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(b.namespace, "shop");
	assert_string_equal(b.name, "orders-db");
	assert_int_equal(b.generation, 3);
	assert_float_equal(b.capacity, 500, 0);
	assert_int_equal(b.max_concurrent_scale_ups, 2);
	assert_string_equal(b.saturation_query, "pg_up < 1");
	assert_string_equal(b.prom_url, "http://prom:9090");
	ctrl_budget_spec_release(&b);
	json_object_put(obj);

	obj = json_tokener_parse("{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},"
	                         "\"spec\":{\"capacity\":0}}");
	assert_int_equal(ctrl_budget_spec_parse(&b, obj, NULL), FS_OK);
	assert_int_equal(b.max_concurrent_scale_ups, 0);
	assert_null(b.saturation_query);
	assert_null(b.prom_url);
	ctrl_budget_spec_release(&b);
	json_object_put(obj);
}

static void expect_budget_invalid(const char *spec, const char *want)
{
	char text[1024];
	json_object *obj;
	struct ctrl_budget_spec b;
	struct fs_err err;

	str_fmt(text, sizeof(text),
	        "{\"metadata\":{\"namespace\":\"a\",\"name\":\"b\"},\"spec\":%s}", spec);
	obj = json_tokener_parse(text);
	assert_non_null(obj);
	assert_int_equal(ctrl_budget_spec_parse(&b, obj, &err), FS_EINVAL);
	if (!strstr(err.msg, want))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
	assert_null(b.name);
	json_object_put(obj);
}

static void budget_spec_errors_are_named(void **state)
{
	(void)state;
	expect_budget_invalid("{}", "spec.capacity: required");
	expect_budget_invalid("{\"capacity\":-1}", "spec.capacity: must be between 0 and");
	expect_budget_invalid("{\"capacity\":5,\"maxConcurrentScaleUps\":-1}",
	                      "spec.maxConcurrentScaleUps: must be 0..1000000, not -1");
	expect_budget_invalid("{\"capacity\":5,\"saturationQuery\":\"\"}",
	                      "spec.saturationQuery: must not be empty");
	expect_budget_invalid("{\"capacity\":5,\"prometheus\":{\"url\":\"prom\"}}",
	                      "spec.prometheus.url: must start with http://");
	/* A member's share of a budget has bounds too. */
	expect_invalid("\"unitsPerReplica\":20", "\"unitsPerReplica\":0",
	               "spec.budget.unitsPerReplica: must be between 1e-06 and 1e+09, not 0");
	expect_invalid("\"unitsPerReplica\":20", "\"unitsPerReplica\":20,\"weight\":0",
	               "spec.budget.weight: must be between 1e-06 and 1e+06, not 0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_every_field),
	    cmocka_unit_test(minimal_spec_gets_defaults),
	    cmocka_unit_test(invalid_fields_are_named),
	    cmocka_unit_test(lead_time_auto_parses),
	    cmocka_unit_test(lists_hold_up_to_their_caps),
	    cmocka_unit_test(budget_spec_parses),
	    cmocka_unit_test(budget_spec_errors_are_named),
	};

	return cmocka_run_group_tests_name("ctrl_spec", tests, NULL, NULL);
}
