/* Unit tests of alert rule rendering (operator/alerts) on the template the build embeds. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/str.h"
#include "base/ydoc.h"
#include "controller/spec.h"

static const char *with_budget =
    "{\"metadata\":{\"namespace\":\"shop\",\"name\":\"web\",\"uid\":\"u-1\"},"
    "\"spec\":{\"targetRef\":{\"kind\":\"Deployment\",\"name\":\"web-app\"},"
    "\"minReplicas\":2,\"maxReplicas\":50,"
    "\"metrics\":[{\"name\":\"rps\",\"query\":\"sum(x)\",\"targetPerReplica\":100}],"
    "\"forecast\":{\"maxError\":0.25},"
    "\"budget\":{\"name\":\"orders-db\",\"unitsPerReplica\":20},"
    "\"alerts\":{\"labels\":{\"release\":\"prometheus\",\"team\":\"a\"},"
    "\"maxedOutFor\":\"90m\"}}}";

static const char *plain =
    "{\"metadata\":{\"namespace\":\"ops\",\"name\":\"api\"},"
    "\"spec\":{\"targetRef\":{\"kind\":\"StatefulSet\",\"name\":\"api\"},\"maxReplicas\":8,"
    "\"metrics\":[{\"name\":\"rps\",\"query\":\"sum(x)\",\"targetPerReplica\":10}],"
    "\"forecast\":{\"model\":\"None\"}}}";

static void parse(struct ctrl_spec *s, const char *json)
{
	json_object *obj = json_tokener_parse(json);
	struct fs_err err;

	assert_non_null(obj);
	if (ctrl_spec_parse(s, obj, &err) != FS_OK)
		fail_msg("%s", err.msg);
	json_object_put(obj);
}

/* The rule named `alert` of the first group, or NULL. */
static json_object *find_alert(json_object *groups_holder, const char *alert)
{
	json_object *groups, *rules, *v;

	if (json_object_object_get_ex(groups_holder, "spec", &v))
		groups_holder = v;
	json_object_object_get_ex(groups_holder, "groups", &groups);
	json_object_object_get_ex(json_object_array_get_idx(groups, 0), "rules", &rules);
	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		json_object *r = json_object_array_get_idx(rules, i);

		if (json_object_object_get_ex(r, "alert", &v) &&
		    strcmp(json_object_get_string(v), alert) == 0)
			return r;
	}
	return NULL;
}

static const char *field(json_object *o, const char *a, const char *b)
{
	json_object *v;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_get_string(v);
}

static void durations_read_as_prometheus_writes_them(void **state)
{
	char d[32];

	(void)state;
	alerts_duration(d, sizeof(d), 900);
	assert_string_equal(d, "15m");
	alerts_duration(d, sizeof(d), 5400);
	assert_string_equal(d, "1h30m");
	alerts_duration(d, sizeof(d), 7 * 86400 + 1.5);
	assert_string_equal(d, "7d1s500ms");
	alerts_duration(d, sizeof(d), 0.25);
	assert_string_equal(d, "250ms");
	alerts_duration(d, sizeof(d), 0);
	assert_string_equal(d, "0s");
	alerts_duration(d, sizeof(d), -3);
	assert_string_equal(d, "0s");
	/* Cut short, never overrun. */
	alerts_duration(d, 4, 5400);
	assert_string_equal(d, "1h3");
}

static void renders_every_rule_for_a_budget_member_with_a_forecast(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;
	json_object *rule = NULL, *r, *v;
	const char *text;

	(void)state;
	parse(&s, with_budget);
	if (alerts_render(&rule, &s, &err) != FS_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(field(rule, "apiVersion", NULL), "monitoring.coreos.com/v1");
	assert_string_equal(field(rule, "kind", NULL), "PrometheusRule");
	assert_string_equal(field(rule, "metadata", "name"), "web-foresight");
	assert_string_equal(field(rule, "metadata", "namespace"), "shop");
	json_object_object_get_ex(rule, "metadata", &v);
	assert_string_equal(field(v, "labels", "release"), "prometheus");
	assert_string_equal(field(v, "labels", "team"), "a");
	assert_string_equal(field(v, "labels", "app.kubernetes.io/managed-by"), "foresight");
	json_object_object_get_ex(v, "ownerReferences", &v);
	assert_int_equal(json_object_array_length(v), 1);
	v = json_object_array_get_idx(v, 0);
	assert_string_equal(field(v, "kind", NULL), "ForecastScaler");
	assert_string_equal(field(v, "name", NULL), "web");
	assert_string_equal(field(v, "uid", NULL), "u-1");
	assert_string_equal(field(v, "controller", NULL), "true");

	assert_int_equal(alerts_count(rule), 7);
	r = find_alert(rule, "ForesightScalerMaxedOut");
	assert_non_null(r);
	assert_string_equal(field(r, "for", NULL), "1h30m");
	assert_string_equal(field(r, "labels", "severity"), "warning");
	assert_non_null(strstr(field(r, "expr", NULL),
	                       "foresight_scaler_recommended_replicas{namespace=\"shop\","
	                       "name=\"web\"} > foresight_scaler_max_replicas{namespace=\"shop\","
	                       "name=\"web\"}"));
	assert_non_null(strstr(field(r, "annotations", "summary"), "shop/web"));
	assert_non_null(strstr(field(r, "annotations", "description"), "Deployment/web-app"));
	assert_non_null(strstr(field(r, "annotations", "description"), "maxReplicas 50"));
	r = find_alert(rule, "ForesightScalerForecastErrorHigh");
	assert_non_null(r);
	assert_non_null(strstr(field(r, "expr", NULL), "> 0.25"));
	assert_non_null(field(r, "keep_firing_for", NULL));
	assert_null(field(r, "x-foresight-when", NULL));
	r = find_alert(rule, "ForesightScalerThrottled");
	assert_non_null(r);
	assert_non_null(strstr(field(r, "annotations", "summary"), "orders-db"));
	assert_non_null(find_alert(rule, "ForesightScalerUnderProvisioned"));
	assert_non_null(find_alert(rule, "ForesightScalerMetricsUnavailable"));
	assert_non_null(find_alert(rule, "ForesightScalerFallbackActive"));
	assert_non_null(find_alert(rule, "ForesightScalerNotReady"));
	/* Every placeholder replaced; Prometheus's own templates left alone. */
	text = json_object_to_json_string(rule);
	assert_null(strstr(text, "${"));
	assert_null(strstr(text, "x-foresight"));
	assert_non_null(strstr(text, "{{ $value"));
	json_object_put(rule);
	ctrl_spec_release(&s);
}

static void leaves_out_the_budget_and_forecast_rules_when_they_cannot_fire(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;
	json_object *rule = NULL, *meta, *r;

	(void)state;
	parse(&s, plain);
	if (alerts_render(&rule, &s, &err) != FS_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(alerts_count(rule), 5);
	assert_null(find_alert(rule, "ForesightScalerThrottled"));
	assert_null(find_alert(rule, "ForesightScalerForecastErrorHigh"));
	/* The default maxedOutFor. */
	r = find_alert(rule, "ForesightScalerMaxedOut");
	assert_string_equal(field(r, "for", NULL), "15m");
	/* No uid (a manifest on a laptop): no ownerReference. */
	json_object_object_get_ex(rule, "metadata", &meta);
	assert_false(json_object_object_get_ex(meta, "ownerReferences", NULL));
	json_object_put(rule);
	ctrl_spec_release(&s);
}

static void the_operators_label_wins_over_the_users(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;
	json_object *rule = NULL, *meta;

	(void)state;
	parse(&s, "{\"metadata\":{\"namespace\":\"ops\",\"name\":\"api\"},"
	          "\"spec\":{\"targetRef\":{\"kind\":\"Deployment\",\"name\":\"api\"},"
	          "\"maxReplicas\":8,"
	          "\"metrics\":[{\"name\":\"rps\",\"query\":\"q\",\"targetPerReplica\":10}],"
	          "\"alerts\":{\"labels\":{\"app.kubernetes.io/managed-by\":\"helm\"}}}}");
	if (alerts_render(&rule, &s, &err) != FS_OK)
		fail_msg("%s", err.msg);
	json_object_object_get_ex(rule, "metadata", &meta);
	assert_string_equal(field(meta, "labels", "app.kubernetes.io/managed-by"), "foresight");
	json_object_put(rule);
	ctrl_spec_release(&s);
}

static void template_mistakes_are_named_with_their_place(void **state)
{
	struct ctrl_spec s, nb;
	struct fs_err err;
	json_object *out = NULL;
	static const char unknown[] = "groups:\n- name: g\n  rules:\n  - alert: A\n"
	                              "    expr: up{job=\"${jobb}\"}\n";
	static const char needs_budget[] = "groups:\n- name: g\n  rules:\n  - alert: A\n"
	                                   "    expr: x\n    annotations: {s: '${budget}'}\n";
	static const char bad_when[] = "groups:\n- name: g\n  rules:\n  - alert: A\n"
	                               "    x-foresight-when: weekends\n    expr: x\n";
	static const char open[] = "groups:\n- name: g\n  rules:\n  - alert: A\n"
	                           "    expr: 'x > ${maxError'\n";
	static const char no_groups[] = "rules: []\n";
	static const char not_yaml[] = "groups: [\n";

	(void)state;
	parse(&s, with_budget);
	parse(&nb, plain);
	assert_int_equal(
	    alerts_render_groups(&out, unknown, sizeof(unknown) - 1, "t.yaml", &s, &err),
	    FS_EINVAL);
	assert_string_equal(err.msg,
	                    "t.yaml: groups[0].rules[0].expr: unknown placeholder ${jobb}");
	assert_int_equal(
	    alerts_render_groups(&out, needs_budget, sizeof(needs_budget) - 1, "t.yaml", &nb, &err),
	    FS_EINVAL);
	assert_non_null(strstr(err.msg, "groups[0].rules[0].annotations.s: ${budget} needs "
	                                "spec.budget"));
	/* With a budget the same template renders. */
	assert_int_equal(
	    alerts_render_groups(&out, needs_budget, sizeof(needs_budget) - 1, "t.yaml", &s, &err),
	    FS_OK);
	assert_string_equal(
	    field(json_object_array_get_idx(
	              json_object_object_get(
	                  json_object_array_get_idx(json_object_object_get(out, "groups"), 0),
	                  "rules"),
	              0),
	          "annotations", "s"),
	    "orders-db");
	json_object_put(out);
	out = NULL;
	assert_int_equal(
	    alerts_render_groups(&out, bad_when, sizeof(bad_when) - 1, "t.yaml", &s, &err),
	    FS_EINVAL);
	assert_string_equal(err.msg, "t.yaml: groups[0].rules[0].x-foresight-when: must be budget "
	                             "or forecast, not \"weekends\"");
	assert_int_equal(alerts_render_groups(&out, open, sizeof(open) - 1, "t.yaml", &s, &err),
	                 FS_EINVAL);
	assert_non_null(strstr(err.msg, "is not closed"));
	assert_int_equal(
	    alerts_render_groups(&out, no_groups, sizeof(no_groups) - 1, "t.yaml", &s, &err),
	    FS_EINVAL);
	assert_string_equal(err.msg, "t.yaml: not a rule file: no groups");
	assert_int_equal(
	    alerts_render_groups(&out, not_yaml, sizeof(not_yaml) - 1, "t.yaml", &s, &err),
	    FS_EPARSE);
	assert_null(out);
	ctrl_spec_release(&s);
	ctrl_spec_release(&nb);
}

static void names_that_could_break_promql_are_refused(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;
	json_object *out = NULL;
	char name[300];

	(void)state;
	parse(&s, plain);
	free(s.name);
	s.name = strdup("api\"} or vector(1) #");
	assert_int_equal(alerts_render(&out, &s, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "metadata.name:"));
	free(s.name);
	memset(name, 'a', 250);
	name[250] = '\0';
	s.name = strdup(name);
	assert_int_equal(alerts_render(&out, &s, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "metadata.name: at most 243 characters"));
	free(s.target_kind);
	s.target_kind = strdup("Deploy ment");
	free(s.name);
	s.name = strdup("api");
	assert_int_equal(alerts_render(&out, &s, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "spec.targetRef.kind:"));
	assert_null(out);
	ctrl_spec_release(&s);
}

/* alerts_yaml's output reads back (with the parser the operator uses) as the same JSON. */
static void yaml_output_reads_back_as_the_same_json(void **state)
{
	static const char *tricky =
	    "{\"a\":\"0.3\",\"b\":\"true\",\"c\":\"\",\"d\":\"1:30\",\"e\":\"null\","
	    "\"f\":\"two\\nlines\\n\",\"g\":\"x: y # z\",\"h\":\"'quoted'\",\"i\":[],\"j\":{},"
	    "\"k\":[1,2.5,true,null,\"-\"],\"l\":\"- item\",\"m\":\"{{ $value }}\","
	    "\"n\":\"Ünïcode\",\"o\":\"  padded  \",\"p\":\"yes\",\"q\":\"1e3\"}";
	struct ctrl_spec s;
	struct fs_err err;
	struct buf b;
	struct ydoc doc;
	json_object *in[2], *back = NULL;

	(void)state;
	parse(&s, with_budget);
	in[0] = json_tokener_parse(tricky);
	assert_non_null(in[0]);
	if (alerts_render(&in[1], &s, &err) != FS_OK)
		fail_msg("%s", err.msg);
	for (size_t i = 0; i < 2; i++) {
		buf_init(&b, 1 << 20);
		if (alerts_yaml(&b, in[i], &err) != FS_OK)
			fail_msg("%s", err.msg);
		if (ydoc_parse(&doc, "out.yaml", b.data, b.len, &err) != FS_OK)
			fail_msg("%s\n%s", err.msg, b.data);
		if (ydoc_to_json(&back, &doc, ydoc_root(&doc), &err) != FS_OK)
			fail_msg("%s", err.msg);
		if (!json_object_equal(back, in[i]))
			fail_msg("read back differs:\n%s\nfrom the YAML\n%s",
			         json_object_to_json_string(back), b.data);
		json_object_put(back);
		ydoc_release(&doc);
		buf_release(&b);
		json_object_put(in[i]);
	}
	ctrl_spec_release(&s);
}

static void yaml_output_respects_the_buffer_cap(void **state)
{
	struct ctrl_spec s;
	struct fs_err err;
	struct buf b;
	json_object *rule = NULL;

	(void)state;
	parse(&s, with_budget);
	if (alerts_render(&rule, &s, &err) != FS_OK)
		fail_msg("%s", err.msg);
	buf_init(&b, 100);
	assert_int_equal(alerts_yaml(&b, rule, &err), FS_ETOOLARGE);
	assert_true(b.len <= 100);
	buf_release(&b);
	json_object_put(rule);
	ctrl_spec_release(&s);
}

/* The build embeds metrics/scaler-rules.yaml byte for byte (read from the repository root). */
static void the_embedded_template_is_the_file(void **state)
{
	FILE *f = fopen("metrics/scaler-rules.yaml", "rb");
	static char file[ALERTS_TEMPLATE_MAX];
	size_t n;

	(void)state;
	assert_non_null(f);
	n = fread(file, 1, sizeof(file), f);
	fclose(f);
	assert_int_equal(n, alerts_template_len);
	assert_memory_equal(file, alerts_template, n);
	assert_int_equal(strlen(alerts_template), alerts_template_len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(durations_read_as_prometheus_writes_them),
	    cmocka_unit_test(renders_every_rule_for_a_budget_member_with_a_forecast),
	    cmocka_unit_test(leaves_out_the_budget_and_forecast_rules_when_they_cannot_fire),
	    cmocka_unit_test(the_operators_label_wins_over_the_users),
	    cmocka_unit_test(template_mistakes_are_named_with_their_place),
	    cmocka_unit_test(names_that_could_break_promql_are_refused),
	    cmocka_unit_test(yaml_output_reads_back_as_the_same_json),
	    cmocka_unit_test(yaml_output_respects_the_buffer_cap),
	    cmocka_unit_test(the_embedded_template_is_the_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
