#ifndef FORESIGHT_CONTROLLER_SPEC_H
#define FORESIGHT_CONTROLLER_SPEC_H

/*
 * A ForecastScaler as the controller reads it: the JSON object from the API
 * server turned into checked C values. Pure: no I/O.
 *
 * The CRD's OpenAPI schema already enforces types, enums, minimums and
 * patterns, and fills defaults; this parser checks again (a schema can be
 * edited, an old object can predate it) and adds what the schema cannot say:
 * minReplicas <= maxReplicas, unique metric names, fallback.replicas with
 * action Replicas, durations that parse, a season shorter than the history.
 * Every error names the field as the CRD spells it — it becomes the message
 * of the scaler's `Ready=False, reason=InvalidSpec` condition.
 *
 *	struct ctrl_spec spec;
 *	if (ctrl_spec_parse(&spec, obj, &err) != FS_OK)
 *		report_invalid(err.msg);        // e.g. "spec.metrics[1].query: must not be empty"
 *	...
 *	ctrl_spec_release(&spec);
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"
#include "forecast/forecast.h"
#include "scaling/scaling.h"

#define CTRL_METRICS_MAX 10
#define CTRL_HEADERS_MAX 16
#define CTRL_LABELS_MAX  32

struct ctrl_secret_ref {
	char *name; /* NULL when not set */
	char *key;
};

struct ctrl_metric_spec {
	char *name;
	char *query;
	double target_per_replica;
	enum scale_on_empty on_empty;
};

struct ctrl_kv {
	char *key;
	char *value;
};

struct ctrl_spec {
	/* metadata */
	char *namespace;
	char *name;
	char *uid;
	int64_t generation;

	/* spec.targetRef */
	char *target_api_version; /* "apps/v1" */
	char *target_kind;        /* "Deployment" */
	char *target_name;

	struct scale_spec scale; /* min, max, mode, behavior, fallback, leadTime, maxError */
	double interval;         /* seconds */

	/* spec.prometheus */
	char *prom_url; /* NULL: the operator's --prometheus-url */
	struct ctrl_secret_ref prom_bearer;
	struct ctrl_secret_ref prom_user;
	struct ctrl_secret_ref prom_password;
	struct ctrl_secret_ref prom_ca;
	bool prom_insecure;
	/*
	 * The lists are allocated to their length, not their caps: the
	 * controller keeps every scaler's parsed spec (controller.c, evaluate).
	 */
	struct ctrl_kv *prom_headers; /* at most CTRL_HEADERS_MAX */
	size_t n_prom_headers;

	struct ctrl_metric_spec *metrics; /* 1 to CTRL_METRICS_MAX */
	size_t n_metrics;

	/* spec.forecast */
	enum fc_model model; /* FC_NONE for "None" */
	double history;      /* seconds */
	double step;         /* seconds */
	double season;       /* seconds; 0 none; < 0 auto */
	double quantile;
	/*
	 * leadTime auto: the controller learns it (controller/leadtime.h) and
	 * sets scale.lead_time before each evaluation; the parser leaves
	 * LEAD_DEFAULT_S there.
	 */
	bool lead_time_auto;

	/* spec.budget */
	char *budget_name; /* NULL: no budget */
	double budget_units_per_replica;
	double budget_weight;

	/* spec.alerts */
	bool alerts_enabled;
	struct ctrl_kv *alert_labels; /* at most CTRL_LABELS_MAX */
	size_t n_alert_labels;
	double alerts_maxed_out_for; /* seconds */
};

/* A ConcurrencyBudget as the controller reads it (crd/..._concurrencybudgets.yaml). */
struct ctrl_budget_spec {
	char *namespace;
	char *name;
	char *uid;
	int64_t generation;
	double capacity;              /* units */
	int max_concurrent_scale_ups; /* 0: no limit */
	char *saturation_query;       /* NULL: none */
	char *prom_url;               /* NULL: the operator's --prometheus-url */
};

/*
 * Parses and checks a ForecastScaler object. On success `out` holds copies
 * the caller frees with ctrl_spec_release; on failure it is left empty and
 * `err` names the first bad field (FS_EINVAL).
 */
enum fs_rc ctrl_spec_parse(struct ctrl_spec *out, json_object *obj, struct fs_err *err);

/* Frees what a parsed spec holds; the struct is left zeroed. */
void ctrl_spec_release(struct ctrl_spec *spec);

/* Parses and checks a ConcurrencyBudget object; as ctrl_spec_parse. */
enum fs_rc ctrl_budget_spec_parse(struct ctrl_budget_spec *out, json_object *obj,
                                  struct fs_err *err);

/* Frees what a parsed budget spec holds; the struct is left zeroed. */
void ctrl_budget_spec_release(struct ctrl_budget_spec *spec);

#endif
