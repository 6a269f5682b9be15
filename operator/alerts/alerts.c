#include "alerts/alerts.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "base/str.h"
#include "base/ydoc.h"

#define PATH_MAX_LEN 128
#define VALUE_MAX    300

struct var {
	const char *name;
	char value[VALUE_MAX];
	bool set;
};

enum {
	V_NAMESPACE,
	V_NAME,
	V_TARGET,
	V_MAX_REPLICAS,
	V_MAXED_OUT_FOR,
	V_MAX_ERROR,
	V_BUDGET,
	N_VARS
};

static const char *const var_names[N_VARS] = {
    "namespace", "name", "target", "maxReplicas", "maxedOutFor", "maxError", "budget",
};

void alerts_duration(char *out, size_t size, double seconds)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = {{"d", 86400000LL}, {"h", 3600000LL}, {"m", 60000LL}, {"s", 1000LL}, {"ms", 1}};
	long long left = isfinite(seconds) && seconds > 0 ? llround(seconds * 1000.0) : 0;
	size_t at = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (left <= 0) {
		str_fmt(out, size, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && at < size; i++) {
		long long n = left / units[i].ms;

		if (n == 0)
			continue;
		str_fmt(out + at, size - at, "%lld%s", n, units[i].unit);
		at += strlen(out + at);
		left -= n * units[i].ms;
	}
}

/*
 * Values end up inside PromQL string literals and Go templates: only the
 * characters of Kubernetes names and kinds, so none can break out of them.
 */
static bool dns_like(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' &&
		    *s != '.')
			return false;
	}
	return true;
}

static bool kind_like(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s))
			return false;
	}
	return true;
}

static enum fs_rc make_vars(struct var *v, const struct ctrl_spec *sp, struct fs_err *err)
{
	for (int i = 0; i < N_VARS; i++) {
		v[i].name = var_names[i];
		v[i].set = true;
	}
	if (!sp->namespace || !dns_like(sp->namespace))
		return fs_fail(err, FS_EINVAL,
		               "metadata.namespace: must be lowercase letters, digits, '-' or '.'");
	if (!sp->name || !dns_like(sp->name))
		return fs_fail(err, FS_EINVAL,
		               "metadata.name: must be lowercase letters, digits, '-' or '.'");
	if (!sp->target_kind || !kind_like(sp->target_kind))
		return fs_fail(err, FS_EINVAL, "spec.targetRef.kind: must be letters and digits");
	if (!sp->target_name || !dns_like(sp->target_name))
		return fs_fail(
		    err, FS_EINVAL,
		    "spec.targetRef.name: must be lowercase letters, digits, '-' or '.'");
	if (sp->budget_name && !dns_like(sp->budget_name))
		return fs_fail(err, FS_EINVAL,
		               "spec.budget.name: must be lowercase letters, digits, '-' or '.'");
	str_fmt(v[V_NAMESPACE].value, VALUE_MAX, "%s", sp->namespace);
	str_fmt(v[V_NAME].value, VALUE_MAX, "%s", sp->name);
	str_fmt(v[V_TARGET].value, VALUE_MAX, "%s/%s", sp->target_kind, sp->target_name);
	str_fmt(v[V_MAX_REPLICAS].value, VALUE_MAX, "%d", sp->scale.max_replicas);
	alerts_duration(v[V_MAXED_OUT_FOR].value, VALUE_MAX, sp->alerts_maxed_out_for);
	str_fmt(v[V_MAX_ERROR].value, VALUE_MAX, "%g", sp->scale.max_error);
	v[V_BUDGET].set = sp->budget_name != NULL;
	str_fmt(v[V_BUDGET].value, VALUE_MAX, "%s", sp->budget_name ? sp->budget_name : "");
	return FS_OK;
}

/* `s` with every ${var} replaced; `where` names the string in messages. */
static enum fs_rc substitute(char **out, const char *s, const struct var *vars, const char *where,
                             struct fs_err *err)
{
	struct buf b;
	const char *p = s, *open;
	enum fs_rc rc = FS_OK;

	*out = NULL;
	buf_init(&b, ALERTS_STRING_MAX);
	while (rc == FS_OK && (open = strstr(p, "${"))) {
		const char *close = strchr(open + 2, '}');
		size_t n = close ? (size_t)(close - open - 2) : 0;
		int i;

		if (!close) {
			rc = fs_fail(err, FS_EINVAL, "%s: a placeholder \"${\" is not closed",
			             where);
			goto out;
		}
		for (i = 0; i < N_VARS; i++) {
			if (strlen(vars[i].name) == n && strncmp(vars[i].name, open + 2, n) == 0)
				break;
		}
		if (i == N_VARS) {
			rc = fs_fail(err, FS_EINVAL, "%s: unknown placeholder ${%.*s}", where,
			             (int)(n > 40 ? 40 : n), open + 2);
			goto out;
		}
		if (!vars[i].set) {
			rc = fs_fail(err, FS_EINVAL,
			             "%s: ${%s} needs spec.budget (mark the rule "
			             "x-foresight-when: budget)",
			             where, vars[i].name);
			goto out;
		}
		rc = buf_append(&b, p, (size_t)(open - p), err);
		if (rc == FS_OK)
			rc = buf_puts(&b, vars[i].value, err);
		p = close + 1;
	}
	if (rc == FS_OK)
		rc = buf_puts(&b, p, err);
	if (rc == FS_OK && !(*out = buf_detach(&b)))
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
out:
	if (rc == FS_ETOOLARGE)
		fs_wrap(err, rc, "%s", where);
	buf_release(&b);
	return rc;
}

/* Substitutes in every string value under `node`, whose path is `path`. */
static enum fs_rc substitute_all(json_object *node, const char *path, const struct var *vars,
                                 const char *tmpl_name, struct fs_err *err)
{
	char sub[PATH_MAX_LEN], where[PATH_MAX_LEN + 64];
	enum fs_rc rc = FS_OK;

	switch (json_object_get_type(node)) {
	case json_type_string: {
		char *s;

		str_fmt(where, sizeof(where), "%s: %s", tmpl_name, path);
		rc = substitute(&s, json_object_get_string(node), vars, where, err);
		if (rc != FS_OK)
			return rc;
		if (json_object_set_string(node, s) != 1)
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
		free(s);
		return rc;
	}
	case json_type_array:
		for (size_t i = 0; rc == FS_OK && i < json_object_array_length(node); i++) {
			str_fmt(sub, sizeof(sub), "%s[%zu]", path, i);
			rc = substitute_all(json_object_array_get_idx(node, i), sub, vars,
			                    tmpl_name, err);
		}
		return rc;
	case json_type_object: {
		json_object_object_foreach(node, key, value)
		{
			if (rc != FS_OK)
				break;
			str_fmt(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", key);
			rc = substitute_all(value, sub, vars, tmpl_name, err);
		}
		return rc;
	}
	default:
		return FS_OK;
	}
}

/* Whether a rule marked `x-foresight-when: what` applies to `sp`. */
static enum fs_rc rule_applies(bool *out, json_object *rule, const struct ctrl_spec *sp,
                               const char *where, struct fs_err *err)
{
	json_object *when;
	const char *w;

	*out = true;
	if (!json_object_object_get_ex(rule, "x-foresight-when", &when))
		return FS_OK;
	w = json_object_is_type(when, json_type_string) ? json_object_get_string(when) : "";
	if (strcmp(w, "budget") == 0)
		*out = sp->budget_name != NULL;
	else if (strcmp(w, "forecast") == 0)
		*out = sp->model != FC_NONE;
	else
		return fs_fail(err, FS_EINVAL,
		               "%s.x-foresight-when: must be budget or forecast, not \"%.40s\"",
		               where, w);
	json_object_object_del(rule, "x-foresight-when");
	return FS_OK;
}

/* Keeps the rules of `groups` that apply to `sp`, checking the file's shape on the way. */
static enum fs_rc select_rules(json_object *groups, const struct ctrl_spec *sp,
                               const char *tmpl_name, struct fs_err *err)
{
	char where[PATH_MAX_LEN + 64];

	if (!json_object_is_type(groups, json_type_array) || json_object_array_length(groups) == 0)
		return fs_fail(err, FS_EINVAL, "%s: groups: must be a non-empty list", tmpl_name);
	for (size_t g = 0; g < json_object_array_length(groups); g++) {
		json_object *group = json_object_array_get_idx(groups, g), *rules, *kept;

		str_fmt(where, sizeof(where), "%s: groups[%zu]", tmpl_name, g);
		if (!json_object_is_type(group, json_type_object) ||
		    !json_object_object_get_ex(group, "name", NULL) ||
		    !json_object_object_get_ex(group, "rules", &rules) ||
		    !json_object_is_type(rules, json_type_array))
			return fs_fail(err, FS_EINVAL, "%s: must have a name and a list of rules",
			               where);
		kept = json_object_new_array();
		if (!kept)
			return fs_fail(err, FS_ENOMEM, "out of memory");
		for (size_t r = 0; r < json_object_array_length(rules); r++) {
			json_object *rule = json_object_array_get_idx(rules, r);
			char at[PATH_MAX_LEN + 96];
			bool applies;
			enum fs_rc rc;

			str_fmt(at, sizeof(at), "%s.rules[%zu]", where, r);
			if (!json_object_is_type(rule, json_type_object)) {
				json_object_put(kept);
				return fs_fail(err, FS_EINVAL, "%s: must be a mapping", at);
			}
			rc = rule_applies(&applies, rule, sp, at, err);
			if (rc != FS_OK) {
				json_object_put(kept);
				return rc;
			}
			if (applies)
				json_object_array_add(kept, json_object_get(rule));
		}
		json_object_object_add(group, "rules", kept);
	}
	return FS_OK;
}

enum fs_rc alerts_render_groups(json_object **out, const char *tmpl, size_t len,
                                const char *tmpl_name, const struct ctrl_spec *spec,
                                struct fs_err *err)
{
	struct var vars[N_VARS];
	struct ydoc doc;
	json_object *root = NULL, *groups;
	enum fs_rc rc;

	memset(&doc, 0, sizeof(doc));
	if (len > ALERTS_TEMPLATE_MAX)
		return fs_fail(err, FS_ETOOLARGE, "%s: larger than %u bytes", tmpl_name,
		               ALERTS_TEMPLATE_MAX);
	rc = make_vars(vars, spec, err);
	if (rc != FS_OK)
		return rc;
	rc = ydoc_parse(&doc, tmpl_name, tmpl, len, err);
	if (rc == FS_OK)
		rc = ydoc_to_json(&root, &doc, ydoc_root(&doc), err);
	if (rc != FS_OK)
		goto out;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "groups", &groups)) {
		rc = fs_fail(err, FS_EINVAL, "%s: not a rule file: no groups", tmpl_name);
		goto out;
	}
	rc = select_rules(groups, spec, tmpl_name, err);
	if (rc == FS_OK)
		rc = substitute_all(root, "", vars, tmpl_name, err);
	if (rc == FS_OK) {
		*out = root;
		root = NULL;
	}
out:
	json_object_put(root);
	ydoc_release(&doc);
	return rc;
}

enum fs_rc alerts_rule_name(char *out, size_t size, const char *scaler, struct fs_err *err)
{
	size_t n = strlen(scaler) + strlen(ALERTS_NAME_SUFFIX);

	if (n > ALERTS_NAME_MAX || n >= size)
		return fs_fail(err, FS_EINVAL,
		               "metadata.name: at most %zu characters, so that the PrometheusRule "
		               "%s" ALERTS_NAME_SUFFIX " is a valid name",
		               (size_t)ALERTS_NAME_MAX - strlen(ALERTS_NAME_SUFFIX), "<name>");
	str_fmt(out, size, "%s" ALERTS_NAME_SUFFIX, scaler);
	return FS_OK;
}

enum fs_rc alerts_render(json_object **out, const struct ctrl_spec *spec, struct fs_err *err)
{
	json_object *groups = NULL, *rule, *meta, *labels;
	char name[ALERTS_NAME_MAX + 1];
	enum fs_rc rc;

	if (!spec->name || !spec->namespace)
		return fs_fail(err, FS_EINVAL, "metadata.name: required");
	rc = alerts_rule_name(name, sizeof(name), spec->name, err);
	if (rc == FS_OK)
		rc = alerts_render_groups(&groups, alerts_template, alerts_template_len,
		                          "metrics/scaler-rules.yaml", spec, err);
	if (rc != FS_OK)
		return rc;
	rule = json_object_new_object();
	meta = json_object_new_object();
	labels = json_object_new_object();
	if (!rule || !meta || !labels) {
		json_object_put(rule);
		json_object_put(meta);
		json_object_put(labels);
		json_object_put(groups);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	json_object_object_add(rule, "apiVersion", json_object_new_string(ALERTS_API_VERSION));
	json_object_object_add(rule, "kind", json_object_new_string(ALERTS_KIND));
	json_object_object_add(meta, "name", json_object_new_string(name));
	json_object_object_add(meta, "namespace", json_object_new_string(spec->namespace));
	for (size_t i = 0; i < spec->n_alert_labels; i++)
		json_object_object_add(labels, spec->alert_labels[i].key,
		                       json_object_new_string(spec->alert_labels[i].value));
	/* Ours last, so that it wins: the operator watches the rules by it. */
	json_object_object_add(labels, ALERTS_LABEL_MANAGED_BY,
	                       json_object_new_string(ALERTS_MANAGER));
	json_object_object_add(meta, "labels", labels);
	if (spec->uid && spec->uid[0]) {
		json_object *refs = json_object_new_array(), *ref = json_object_new_object();

		json_object_object_add(
		    ref, "apiVersion",
		    json_object_new_string("autoscaling.foresight.dev/v1alpha1"));
		json_object_object_add(ref, "kind", json_object_new_string("ForecastScaler"));
		json_object_object_add(ref, "name", json_object_new_string(spec->name));
		json_object_object_add(ref, "uid", json_object_new_string(spec->uid));
		/*
		 * No blockOwnerDeletion: with the OwnerReferencesPermissionEnforcement
		 * admission plugin it needs update on forecastscalers/finalizers,
		 * and a foreground deletion of a scaler need not wait for its rules.
		 */
		json_object_object_add(ref, "controller", json_object_new_boolean(1));
		json_object_array_add(refs, ref);
		json_object_object_add(meta, "ownerReferences", refs);
	}
	json_object_object_add(rule, "metadata", meta);
	json_object_object_add(rule, "spec", groups);
	*out = rule;
	return FS_OK;
}

size_t alerts_count(json_object *obj)
{
	json_object *groups = NULL, *spec;
	size_t n = 0;

	if (json_object_object_get_ex(obj, "spec", &spec))
		obj = spec;
	if (!json_object_object_get_ex(obj, "groups", &groups) ||
	    !json_object_is_type(groups, json_type_array))
		return 0;
	for (size_t g = 0; g < json_object_array_length(groups); g++) {
		json_object *rules;

		if (!json_object_object_get_ex(json_object_array_get_idx(groups, g), "rules",
		                               &rules) ||
		    !json_object_is_type(rules, json_type_array))
			continue;
		for (size_t r = 0; r < json_object_array_length(rules); r++) {
			if (json_object_object_get_ex(json_object_array_get_idx(rules, r), "alert",
			                              NULL))
				n++;
		}
	}
	return n;
}

/* --- YAML output ----------------------------------------------------------------- */

struct yaml_sink {
	struct buf *out;
	size_t start; /* out->len when the document began */
	struct fs_err *err;
	enum fs_rc rc;
};

static int sink_write(void *data, unsigned char *bytes, size_t size)
{
	struct yaml_sink *s = data;

	if (s->rc != FS_OK)
		return 0;
	if (s->out->len - s->start + size > ALERTS_YAML_MAX) {
		s->rc = fs_fail(s->err, FS_ETOOLARGE, "the YAML is larger than %u bytes",
		                ALERTS_YAML_MAX);
		return 0;
	}
	s->rc = buf_append(s->out, bytes, size, s->err);
	return s->rc == FS_OK;
}

/*
 * Whether a string written plain would read back as something else (a
 * number, a boolean, null, a date or a sexagesimal in YAML 1.1): it is
 * then quoted.
 */
static bool looks_typed(const char *s)
{
	static const char *const words[] = {"null", "~", "true", "false", "yes",   "no",    "on",
	                                    "off",  "y", "n",    ".inf",  "-.inf", "+.inf", ".nan"};
	char *end;
	bool numeric = true;

	if (!*s)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strcasecmp(s, words[i]) == 0)
			return true;
	}
	errno = 0;
	(void)strtod(s, &end);
	if (*end == '\0')
		return true;
	for (const char *p = s; *p; p++)
		numeric = numeric && (isdigit((unsigned char)*p) || strchr(":._+-", *p));
	return numeric;
}

static int emit_scalar(yaml_emitter_t *e, const char *s, bool typed)
{
	yaml_event_t ev;
	int plain_implicit = typed ? 1 : !looks_typed(s);
	yaml_scalar_style_t style =
	    !typed && strchr(s, '\n') ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
	                                  plain_implicit, 1, style))
		return 0;
	return yaml_emitter_emit(e, &ev);
}

static int emit_node(yaml_emitter_t *e, json_object *o, int depth)
{
	yaml_event_t ev;
	char num[64];

	if (depth > 64)
		return 0;
	switch (json_object_get_type(o)) {
	case json_type_object:
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
		                                         YAML_BLOCK_MAPPING_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return 0;
		{
			json_object_object_foreach(o, key, value)
			{
				if (!emit_scalar(e, key, false) || !emit_node(e, value, depth + 1))
					return 0;
			}
		}
		return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
	case json_type_array:
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
		                                          YAML_BLOCK_SEQUENCE_STYLE) ||
		    !yaml_emitter_emit(e, &ev))
			return 0;
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			if (!emit_node(e, json_object_array_get_idx(o, i), depth + 1))
				return 0;
		}
		return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(e, &ev);
	case json_type_string:
		return emit_scalar(e, json_object_get_string(o), false);
	case json_type_int:
		str_fmt(num, sizeof(num), "%lld", (long long)json_object_get_int64(o));
		return emit_scalar(e, num, true);
	case json_type_double:
		str_fmt(num, sizeof(num), "%.17g", json_object_get_double(o));
		return emit_scalar(e, num, true);
	case json_type_boolean:
		return emit_scalar(e, json_object_get_boolean(o) ? "true" : "false", true);
	default:
		return emit_scalar(e, "null", true);
	}
}

enum fs_rc alerts_yaml(struct buf *out, json_object *obj, struct fs_err *err)
{
	struct yaml_sink sink = {out, out->len, err, FS_OK};
	yaml_emitter_t e;
	yaml_event_t ev;
	int ok;

	if (!yaml_emitter_initialize(&e))
		return fs_fail(err, FS_ENOMEM, "out of memory starting the YAML emitter");
	yaml_emitter_set_output(&e, sink_write, &sink);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1); /* one line per expression, as written */
	yaml_emitter_set_indent(&e, 2);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
	     yaml_emitter_emit(&e, &ev) &&
	     yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
	     yaml_emitter_emit(&e, &ev) && emit_node(&e, obj, 0) &&
	     yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&e, &ev) &&
	     yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&e, &ev) &&
	     yaml_emitter_flush(&e);
	if (!ok && sink.rc == FS_OK)
		sink.rc = fs_fail(err, FS_EINVAL, "writing YAML: %s",
		                  e.problem ? e.problem : "too deeply nested");
	yaml_emitter_delete(&e);
	return sink.rc;
}
