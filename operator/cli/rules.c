/* `foresight rules`: the alert rules the operator keeps for ForecastScalers, rendered offline. */

#include <getopt.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alerts/alerts.h"
#include "base/buf.h"
#include "base/str.h"
#include "base/ydoc.h"
#include "cli/cli.h"
#include "controller/spec.h"

#define MANIFEST_MAX (1u << 20)
#define FILES_MAX    256

static const char usage_text[] =
    "Usage: foresight rules [options] -f SCALER.yaml [-f SCALER.yaml ...]\n"
    "\n"
    "Renders the alert rules the operator keeps for each ForecastScaler (the\n"
    "PrometheusRule <name>-foresight) from its manifest, checked by the operator's\n"
    "own parser, from the template built into this binary (metrics/scaler-rules.yaml).\n"
    "\n"
    "  -f, --filename FILE   a ForecastScaler manifest, one per file ('-': stdin);\n"
    "                        repeat for several scalers\n"
    "  -n, --namespace NS    the namespace of manifests that name none (default)\n"
    "  -o, --output FORMAT   rules: one Prometheus rule file for them all, for\n"
    "                        rule_files or promtool (the default);\n"
    "                        prometheusrule: the PrometheusRule objects as YAML, for\n"
    "                        kubectl apply; json: the same as JSON\n"
    "  --template            print the built-in template and exit\n"
    "\n"
    "Exit status: 0 done, 1 a failure, 2 bad input.\n";

enum output { OUT_RULES, OUT_OBJECT, OUT_JSON };

/* Prints "foresight rules: ..." and returns the exit status for it. */
#define fail(status, ...) cli_fail("rules", (status), __VA_ARGS__)

/* "file:line" of the field an error message starts with ("spec.maxReplicas: ..."). */
static void field_where(char *out, size_t size, struct ydoc *doc, const char *msg)
{
	char path[160];
	size_t n = strcspn(msg, ": ");

	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, msg, n);
	path[n] = '\0';
	str_fmt(out, size, "%s:%d", doc->name,
	        ydoc_line(ydoc_find_path(doc, ydoc_root(doc), path)));
}

/* The PrometheusRule of the manifest in `file` into *out. Returns -1, or the exit status. */
static int render_file(json_object **out, const char *file, const char *namespace)
{
	struct ydoc doc;
	struct ctrl_spec spec;
	struct fs_err err;
	json_object *obj = NULL, *meta = NULL, *v;
	const char *path = strcmp(file, "-") == 0 ? "/dev/stdin" : file;
	char where[600];
	int status = -1;

	memset(&spec, 0, sizeof(spec));
	if (ydoc_load_file(&doc, path, MANIFEST_MAX, &err) != FS_OK) {
		status = fail(2, "%s", err.msg);
		goto out;
	}
	if (!ydoc_root(&doc)) {
		status = fail(2, "%s:1: the file holds no manifest", path);
		goto out;
	}
	if (ydoc_to_json(&obj, &doc, ydoc_root(&doc), &err) != FS_OK) {
		status = fail(2, "%s", err.msg);
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "kind", &v) ||
	    strcmp(json_object_get_string(v), "ForecastScaler") != 0) {
		status = fail(2, "%s:%d: not a ForecastScaler manifest", path,
		              ydoc_line(ydoc_root(&doc)));
		goto out;
	}
	/* A manifest for `kubectl apply` may leave the namespace out. */
	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(obj, "metadata", meta);
	}
	if (!json_object_object_get_ex(meta, "namespace", NULL))
		json_object_object_add(meta, "namespace", json_object_new_string(namespace));
	if (ctrl_spec_parse(&spec, obj, &err) != FS_OK ||
	    alerts_render(out, &spec, &err) != FS_OK) {
		field_where(where, sizeof(where), &doc, err.msg);
		status = fail(2, "%s: %s", where, err.msg);
		goto out;
	}
	if (!spec.alerts_enabled)
		fprintf(stderr,
		        "foresight rules: %s: spec.alerts.enabled is false: the operator keeps no "
		        "rules for %s/%s\n",
		        path, spec.namespace, spec.name);
out:
	json_object_put(obj);
	ctrl_spec_release(&spec);
	ydoc_release(&doc);
	return status;
}

/* Writes `rules` (consumed) in `format` to stdout. */
static int print(json_object **rules, size_t n, enum output format)
{
	struct buf b;
	struct fs_err err;
	json_object *doc = NULL;
	enum fs_rc rc = FS_OK;
	int status = 0;

	buf_init(&b, (size_t)ALERTS_YAML_MAX * 2);
	if (format == OUT_RULES) {
		json_object *groups = json_object_new_array();

		/* One file: every scaler's groups (their names hold namespace and name). */
		doc = json_object_new_object();
		json_object_object_add(doc, "groups", groups);
		for (size_t i = 0; i < n; i++) {
			json_object *spec, *g;

			json_object_object_get_ex(rules[i], "spec", &spec);
			json_object_object_get_ex(spec, "groups", &g);
			for (size_t k = 0; k < json_object_array_length(g); k++)
				json_object_array_add(
				    groups, json_object_get(json_object_array_get_idx(g, k)));
		}
		rc = alerts_yaml(&b, doc, &err);
	} else if (format == OUT_OBJECT) {
		for (size_t i = 0; rc == FS_OK && i < n; i++) {
			if (i)
				rc = buf_puts(&b, "---\n", &err);
			if (rc == FS_OK)
				rc = alerts_yaml(&b, rules[i], &err);
		}
	} else {
		if (n == 1) {
			doc = json_object_get(rules[0]);
		} else {
			json_object *items = json_object_new_array();

			doc = json_object_new_object();
			json_object_object_add(doc, "apiVersion", json_object_new_string("v1"));
			json_object_object_add(doc, "kind", json_object_new_string("List"));
			for (size_t i = 0; i < n; i++)
				json_object_array_add(items, json_object_get(rules[i]));
			json_object_object_add(doc, "items", items);
		}
		rc = buf_printf(&b, &err, "%s\n",
		                json_object_to_json_string_ext(
		                    doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		                             JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	if (rc != FS_OK)
		status = fail(1, "%s", err.msg);
	else if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0)
		status = fail(1, "writing the rules failed");
	json_object_put(doc);
	for (size_t i = 0; i < n; i++)
		json_object_put(rules[i]);
	buf_release(&b);
	return status;
}

int cli_rules(int argc, char **argv)
{
	enum { O_TEMPLATE = 256 };
	static const struct option options[] = {
	    {"filename", required_argument, NULL, 'f'}, {"namespace", required_argument, NULL, 'n'},
	    {"output", required_argument, NULL, 'o'},   {"template", no_argument, NULL, O_TEMPLATE},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	const char *files[FILES_MAX];
	const char *namespace = "default";
	json_object *rules[FILES_MAX];
	enum output format = OUT_RULES;
	size_t n_files = 0, n = 0;
	int opt, status = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:n:o:h", options, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (n_files == FILES_MAX)
				return fail(2, "at most %d files", FILES_MAX);
			files[n_files++] = optarg;
			break;
		case 'n':
			namespace
			= optarg;
			break;
		case 'o':
			if (strcmp(optarg, "rules") == 0)
				format = OUT_RULES;
			else if (strcmp(optarg, "prometheusrule") == 0)
				format = OUT_OBJECT;
			else if (strcmp(optarg, "json") == 0)
				format = OUT_JSON;
			else
				return fail(2, "--output %s: must be rules, prometheusrule or json",
				            optarg);
			break;
		case O_TEMPLATE:
			fwrite(alerts_template, 1, alerts_template_len, stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind < argc)
		return fail(2, "unexpected argument %s: give manifests with -f", argv[optind]);
	if (!n_files)
		return fail(2, "give a ForecastScaler manifest with -f (see --help)");
	for (size_t i = 0; i < n_files; i++) {
		status = render_file(&rules[n], files[i], namespace);
		if (status >= 0)
			break;
		n++;
	}
	if (status >= 0) {
		for (size_t i = 0; i < n; i++)
			json_object_put(rules[i]);
		return status;
	}
	return print(rules, n, format);
}
