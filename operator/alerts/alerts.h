#ifndef FORESIGHT_ALERTS_ALERTS_H
#define FORESIGHT_ALERTS_ALERTS_H

/*
 * The alert rules that watch a ForecastScaler, rendered from the template
 * metrics/scaler-rules.yaml (embedded at build time as alerts_template), and
 * the PrometheusRule (monitoring.coreos.com/v1) that carries them into a
 * cluster. Pure: values in, JSON out, no I/O.
 *
 * The template is a Prometheus rule file whose string values hold
 * placeholders (${namespace}, ${name}, ${target}, ${maxReplicas},
 * ${maxedOutFor}, ${maxError}, ${budget}); a rule may carry
 * `x-foresight-when: budget|forecast` to exist only for scalers in a
 * ConcurrencyBudget, or with a forecast model. The template's header
 * comment documents them.
 *
 *	json_object *rule;
 *	if (alerts_render(&rule, &spec, &err) != FS_OK)      // spec: ctrl_spec_parse's
 *		report(err.msg);
 *	... PATCH it with server-side apply, or
 *	json_object *groups;
 *	alerts_render_groups(&groups, alerts_template, alerts_template_len, &spec, &err);
 *	alerts_yaml(&out, groups, &err);                     // a rule file for promtool
 *
 * The PrometheusRule is named `<scaler>-foresight`, lives in the scaler's
 * namespace, carries spec.alerts.labels (so the user's Prometheus selects
 * it) plus app.kubernetes.io/managed-by=foresight (so the operator watches
 * only its own), and, when the spec has a uid, a controller ownerReference
 * to the scaler so that the garbage collector deletes it with the scaler.
 */

#include <json-c/json.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/result.h"
#include "controller/spec.h"

#define ALERTS_API_VERSION      "monitoring.coreos.com/v1"
#define ALERTS_KIND             "PrometheusRule"
#define ALERTS_NAME_SUFFIX      "-foresight"
#define ALERTS_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define ALERTS_MANAGER          "foresight" /* that label's value, and the apply field manager */
#define ALERTS_NAME_MAX         253         /* a Kubernetes object name */
#define ALERTS_TEMPLATE_MAX     262144      /* bytes of a template */
#define ALERTS_STRING_MAX       16384       /* bytes of one rendered string */
#define ALERTS_YAML_MAX         1048576     /* bytes of alerts_yaml's output */

/* metrics/scaler-rules.yaml, embedded by the build (NUL-terminated). */
extern const char alerts_template[];
extern const size_t alerts_template_len;

/*
 * Renders template `tmpl` (`len` bytes, named `tmpl_name` in messages) for
 * `spec` into *out, a new {"groups": [...]} object: a Prometheus rule file,
 * and the spec of a PrometheusRule. FS_EPARSE for a template that is not
 * YAML, FS_EINVAL for one that is no rule file or names an unknown
 * placeholder or condition (with the path of the string), FS_ETOOLARGE past
 * the caps.
 */
enum fs_rc alerts_render_groups(json_object **out, const char *tmpl, size_t len,
                                const char *tmpl_name, const struct ctrl_spec *spec,
                                struct fs_err *err);

/* The PrometheusRule of `spec` from the embedded template, as described above. */
enum fs_rc alerts_render(json_object **out, const struct ctrl_spec *spec, struct fs_err *err);

/*
 * The PrometheusRule's name for scaler `scaler` into `out` (`size` bytes).
 * FS_EINVAL, naming metadata.name, when it would exceed ALERTS_NAME_MAX.
 */
enum fs_rc alerts_rule_name(char *out, size_t size, const char *scaler, struct fs_err *err);

/* The number of alerting rules in a rule file or a PrometheusRule (0 for anything else). */
size_t alerts_count(json_object *obj);

/*
 * `seconds` as a Prometheus duration ("1h30m", "15m", "500ms", "0s"),
 * rounded to the millisecond, into `out`.
 */
void alerts_duration(char *out, size_t size, double seconds);

/*
 * Appends `obj` to `out` as a YAML document (block style, keys in order;
 * strings that would read back as another type are quoted, multi-line ones
 * are literal blocks). FS_ETOOLARGE past the buffer's cap or ALERTS_YAML_MAX.
 */
enum fs_rc alerts_yaml(struct buf *out, json_object *obj, struct fs_err *err);

#endif
